/**
 * Lambda functions, function URLs and SQS event source mappings of the templates: recorded (not
 * created in the emulator) for the local runner (local/runner.ts) and the HTTP gateway.
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { TemplateResource } from '../cloudformation-template.js';
import { readableLogicalId } from '../physical-names.js';
import { projectRoot } from '../services.js';
import {
  num,
  str,
  type Created,
  type PendingEventSourceMapping,
  type ProvisionContext,
  type ProvisionedEventSourceMapping,
} from './resources.js';

export async function recordFunction(
  ctx: ProvisionContext,
  stackName: string,
  logicalId: string,
  resource: TemplateResource,
  props: Record<string, unknown>,
): Promise<Created> {
  const entry = str(resource.Metadata?.['BeamlineArchive:Entry']);
  const short = entry?.match(/functions\/([^/]+)\//)?.[1] ?? readableLogicalId(logicalId);
  const functionName = ctx.physicalName('function', stackName, logicalId, props.FunctionName ?? short);
  const arn = `arn:aws:lambda:${ctx.opts.region}:${ctx.account()}:function:${functionName}`;
  const env = (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  const environment = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  const handler = str(props.Handler) ?? 'index.handler';
  const root = ctx.opts.rootDir ?? projectRoot;
  ctx.result.functions[short] = {
    stackName,
    logicalId,
    name: short,
    functionName,
    arn,
    entry,
    entryPath: entry ? (isAbsolute(entry) ? entry : resolvePath(root, entry)) : undefined,
    handlerExport: handler.slice(handler.lastIndexOf('.') + 1),
    ...(props.Runtime ? { runtime: str(props.Runtime) } : {}),
    timeoutSeconds: num(props.Timeout) ?? 3,
    memorySize: num(props.MemorySize) ?? 128,
    environment,
  };
  return { ref: functionName, attrs: { Arn: arn } };
}

/** A function URL is served by local/http-gateway.ts at `<gateway>/fn/<name>/`. */
export function recordFunctionUrl(ctx: ProvisionContext, stackName: string, logicalId: string, props: Record<string, unknown>): Created {
  const target = str(props.TargetFunctionArn) ?? '';
  const fn = Object.values(ctx.result.functions).find((f) => f.arn === target || f.functionName === target);
  if (!fn) {
    ctx.result.skipped.push({ stackName, logicalId, type: 'AWS::Lambda::Url', reason: `function ${target} is not in the templates` });
    return { ref: undefined, attrs: {} };
  }
  const qualifier = str(props.Qualifier);
  if (qualifier) {
    const cors = props.Cors as { AllowOrigins?: string[]; AllowHeaders?: string[]; AllowMethods?: string[]; MaxAge?: number } | undefined;
    fn.aliasUrl = {
      authType: str(props.AuthType) ?? 'AWS_IAM',
      qualifier,
      ...(cors
        ? {
            cors: {
              allowOrigins: cors.AllowOrigins ?? [],
              allowHeaders: cors.AllowHeaders ?? [],
              allowMethods: cors.AllowMethods ?? [],
              ...(cors.MaxAge !== undefined ? { maxAge: cors.MaxAge } : {}),
            },
          }
        : {}),
    };
  } else {
    fn.functionUrl = { authType: str(props.AuthType) ?? 'AWS_IAM' };
  }
  const url = `https://${qualifier ? `${fn.functionName}-${qualifier}` : fn.functionName}.lambda-url.${ctx.opts.region}.on.aws/`;
  return { ref: fn.arn, attrs: { FunctionUrl: url, FunctionArn: fn.arn } };
}
export function recordEventSourceMappings(ctx: ProvisionContext, pending: readonly PendingEventSourceMapping[]): void {
  for (const { stackName, logicalId, props } of pending) {
    const sourceArn = str(props.EventSourceArn) ?? '';
    const queue = ctx.queueByArn(sourceArn);
    const fnRef = str(props.FunctionName) ?? '';
    const fn = Object.values(ctx.result.functions).find(
      (f) => f.functionName === fnRef || f.arn === fnRef || fnRef.endsWith(`:function:${f.functionName}`),
    );
    if (!queue || !fn) {
      ctx.result.skipped.push({
        stackName,
        logicalId,
        type: 'AWS::Lambda::EventSourceMapping',
        reason: !queue ? `event source ${sourceArn} is not an emulated SQS queue` : `function ${fnRef} is not in the templates`,
      });
      continue;
    }
    const responseTypes = (props.FunctionResponseTypes ?? []) as string[];
    const esm: ProvisionedEventSourceMapping = {
      stackName,
      logicalId,
      functionLogicalId: fn.logicalId,
      functionName: fn.functionName,
      queueLogicalId: queue.logicalId,
      queueArn: queue.arn,
      queueUrl: queue.url,
      batchSize: num(props.BatchSize) ?? 10,
      maximumBatchingWindowInSeconds: num(props.MaximumBatchingWindowInSeconds) ?? 0,
      reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
      enabled: props.Enabled === undefined ? true : props.Enabled === true || props.Enabled === 'true',
      ...(num((props.ScalingConfig as { MaximumConcurrency?: unknown } | undefined)?.MaximumConcurrency) !== undefined
        ? { maximumConcurrency: num((props.ScalingConfig as { MaximumConcurrency?: unknown }).MaximumConcurrency) }
        : {}),
    };
    ctx.result.eventSourceMappings.push(esm);
    if (fn.queueUrl === undefined) {
      Object.assign(fn, {
        queueUrl: queue.url,
        queueArn: queue.arn,
        batchSize: esm.batchSize,
        reportBatchItemFailures: esm.reportBatchItemFailures,
        ...(queue.deadLetter
          ? { dlqUrl: queue.deadLetter.url, dlqArn: queue.deadLetter.arn, maxReceiveCount: queue.deadLetter.maxReceiveCount }
          : {}),
      });
    }
  }
}
