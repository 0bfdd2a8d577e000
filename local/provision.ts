/**
 * Creates in an AWS emulator (moto, LocalStack: anything behind AWS SDK v3) exactly the resources
 * the synthesized CDK templates declare, under physical names `<prefix>-<logical name>`, and
 * returns a typed description of them. Lambda functions and event source mappings are not created
 * in the emulator: they are recorded (entry, resolved environment, queue, batch settings) for the
 * local runner (local/runner.ts), which plays the Lambda service.
 *
 * Resource types that are not emulated (IAM, alarms, log groups, layers, archives, policies,
 * custom resources, …) are listed in `skipped`, with the reason.
 *
 * This file resolves the templates (intrinsics, conditions, exports) and dispatches each resource;
 * the creators live by service in local/provisioning/: storage.ts (S3, DynamoDB), messaging.ts
 * (EventBridge, SQS, SNS), functions.ts (Lambda records for the runner), resources.ts (the types).
 */
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DeleteEventBusCommand, DeleteRuleCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { DeleteTopicCommand } from '@aws-sdk/client-sns';
import type { CloudFormationTemplate, StackTemplate, TemplateResource } from './cloudformation-template.js';
import { evaluateCondition, resolveValue, TemplateResolutionError, type IntrinsicScope } from './intrinsics.js';
import { NameAllocator, readableLogicalId, type NameKind } from './physical-names.js';
import { recordEventSourceMappings, recordFunction, recordFunctionUrl } from './provisioning/functions.js';
import { createEventBus, createQueue, createRule, createSubscription, createTopic } from './provisioning/messaging.js';
import {
  errorText,
  str,
  type Created,
  type LocalFunction,
  type PendingEventSourceMapping,
  type ProvisionClients,
  type ProvisionContext,
  type ProvisionedQueue,
  type ProvisionedResources,
  type ProvisionOptions,
  type ProvisionResult,
} from './provisioning/resources.js';
import { createBucket, createTable } from './provisioning/storage.js';

export type * from './provisioning/resources.js';

/** Resource types the provisioner knows it does not emulate, with why. */
const SKIP_REASONS: Array<[RegExp, string]> = [
  [/^AWS::IAM::/, 'IAM is not enforced by the emulator; the local runner uses the test credentials'],
  [/^AWS::CloudWatch::/, 'alarms and dashboards are not emulated'],
  [/^AWS::Logs::/, 'log groups are not emulated; the runner logs to stdout'],
  [/^AWS::Lambda::LayerVersion/, 'layers are not needed: the runner imports the handler with node_modules'],
  [/^AWS::Lambda::Permission$/, 'invoke permissions are not enforced locally'],
  [/^AWS::Events::Archive$/, 'event archive/replay is not emulated'],
  [/Policy$/, 'resource policies are not enforced by the emulator'],
  [/^Custom::|^AWS::CloudFormation::CustomResource$/, 'custom resources run Lambda code at deploy time; not executed locally'],
  [/^AWS::CDK::Metadata$/, 'CDK metadata'],
  [/^AWS::SSM::Parameter$/, 'SSM is not emulated'],
  [/^AWS::SNS::/, 'SNS is not emulated by this endpoint (no SNS client given)'],
  [/^AWS::KMS::/, 'KMS is not emulated'],
];

function skipReason(type: string): string {
  return SKIP_REASONS.find(([re]) => re.test(type))?.[1] ?? 'resource type not emulated by local/provision.ts';
}

/**
 * The app's bucket / table / bus: the one its functions are told about (BUCKET_NAME, TABLE_NAME,
 * EVENT_BUS_NAME), else the only one declared; a clear error otherwise.
 */
function primary<T extends { name: string }>(
  record: Record<string, T>,
  what: string,
  functions: Record<string, LocalFunction>,
  variable: string,
): T {
  const values = Object.values(record);
  const named = new Set(
    Object.values(functions)
      .map((f) => f.environment[variable])
      .filter((v): v is string => v !== undefined),
  );
  const referenced = values.filter((v) => named.has(v.name));
  if (referenced.length === 1) return referenced[0] as T;
  if (values.length === 1) return values[0] as T;
  throw new Error(
    `the templates declare ${values.length} ${what}s (${Object.keys(record).join(', ') || 'none'}) and the functions' ${variable} does not single one out; pick one from the ${what}s record`,
  );
}

class Provisioner implements ProvisionContext {
  private readonly names: NameAllocator;
  private readonly stacks = new Map<string, StackTemplate>();
  private readonly created = new Map<string, Promise<Created>>();
  private readonly conditions = new Map<string, Promise<boolean>>();
  private readonly exportSources = new Map<string, { stackName: string; value: unknown }>();
  private accountId: string | undefined;
  readonly result: ProvisionResult;
  private readonly pendingEsm: PendingEventSourceMapping[] = [];

  constructor(
    private readonly templates: StackTemplate[],
    readonly opts: ProvisionOptions,
  ) {
    this.names = new NameAllocator(opts.prefix);
    for (const t of templates) this.stacks.set(t.stackName, t);
    this.accountId = opts.accountId;
    this.result = {
      prefix: opts.prefix,
      region: opts.region,
      accountId: opts.accountId ?? '',
      buckets: {},
      tables: {},
      eventBuses: {},
      queues: {},
      rules: {},
      topics: {},
      schedules: [],
      functions: {},
      eventSourceMappings: [],
      outputs: {},
      exports: {},
      skipped: [],
    };
  }

  account(): string {
    return this.accountId ?? '000000000000';
  }

  learnAccount(arn: string | undefined): void {
    const account = arn?.split(':')[4];
    if (!this.accountId && account && /^\d{12}$/.test(account)) this.accountId = account;
  }

  private template(stackName: string): CloudFormationTemplate {
    const t = this.stacks.get(stackName);
    if (!t) throw new Error(`unknown stack ${stackName}`);
    return t.template;
  }

  private scope(stackName: string): IntrinsicScope {
    return {
      stackName,
      region: this.opts.region,
      accountId: () => this.account(),
      ref: async (id) => {
        const param = this.template(stackName).Parameters?.[id];
        if (param) return param.Default;
        return (await this.ensure(stackName, id)).ref;
      },
      getAtt: async (id, attr) => {
        const created = await this.ensure(stackName, id);
        if (!(attr in created.attrs)) {
          throw new TemplateResolutionError(
            `Fn::GetAtt ${id}.${attr}: attribute not available locally (have ${Object.keys(created.attrs).join(', ')})`,
            stackName,
          );
        }
        return created.attrs[attr];
      },
      importValue: async (name) => {
        const source = this.exportSources.get(name);
        if (!source) throw new TemplateResolutionError(`Fn::ImportValue ${name}: no stack exports it`, stackName);
        return resolveValue(source.value, this.scope(source.stackName));
      },
      condition: (name) => this.condition(stackName, name),
    };
  }

  private condition(stackName: string, name: string): Promise<boolean> {
    const key = `${stackName}/${name}`;
    let p = this.conditions.get(key);
    if (!p) {
      const expr = this.template(stackName).Conditions?.[name];
      if (expr === undefined) throw new TemplateResolutionError(`unknown condition ${name}`, stackName);
      p = evaluateCondition(expr, this.scope(stackName));
      this.conditions.set(key, p);
    }
    return p;
  }

  private resolve<T = unknown>(stackName: string, value: unknown): Promise<T> {
    return resolveValue(value, this.scope(stackName)) as Promise<T>;
  }

  /** Creates a resource once (on first reference or in the main pass) and remembers Ref/GetAtt. */
  ensure(stackName: string, logicalId: string): Promise<Created> {
    const key = `${stackName}/${logicalId}`;
    let p = this.created.get(key);
    if (!p) {
      const resource = this.template(stackName).Resources?.[logicalId];
      if (!resource) return Promise.reject(new TemplateResolutionError(`Ref to unknown resource ${logicalId}`, stackName));
      p = this.create(stackName, logicalId, resource).catch((e: unknown) => {
        if (e instanceof TemplateResolutionError) throw e;
        throw new Error(`${stackName}/${logicalId} (${resource.Type}): ${errorText(e)}`, { cause: e });
      });
      this.created.set(key, p);
    }
    return p;
  }

  physicalName(kind: NameKind, stackName: string, logicalId: string, explicit: unknown): string {
    const base = typeof explicit === 'string' && explicit ? explicit : readableLogicalId(logicalId);
    return this.names.allocate(kind, base, `${stackName}/${logicalId}`);
  }

  private async create(stackName: string, logicalId: string, resource: TemplateResource): Promise<Created> {
    if (resource.Condition && !(await this.condition(stackName, resource.Condition))) {
      this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: `condition ${resource.Condition} is false` });
      return { ref: undefined, attrs: {} };
    }
    const props = await this.resolve<Record<string, unknown>>(stackName, resource.Properties ?? {});
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        return createBucket(this, stackName, logicalId, props);
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        return createTable(this, stackName, logicalId, resource.Type, props);
      case 'AWS::Events::EventBus':
        return createEventBus(this, stackName, logicalId, props);
      case 'AWS::Events::Rule':
        return createRule(this, stackName, logicalId, props);
      case 'AWS::SQS::Queue':
        return createQueue(this, stackName, logicalId, props);
      case 'AWS::Lambda::Function':
        return recordFunction(this, stackName, logicalId, resource, props);
      case 'AWS::Lambda::Url':
        return recordFunctionUrl(this, stackName, logicalId, props);
      case 'AWS::SNS::Topic':
        if (this.opts.clients.sns) return createTopic(this, stackName, logicalId, props);
        break;
      case 'AWS::SNS::Subscription':
        if (this.opts.clients.sns) return createSubscription(this, stackName, logicalId, props);
        break;
      // A version and an alias of a function stand for the function itself locally (the people URL is on an alias).
      case 'AWS::Lambda::Version':
        this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: 'a version stands for its function locally' });
        return { ref: `${str(props.FunctionName) ?? ''}:1`, attrs: { Version: '1', FunctionArn: str(props.FunctionName) } };
      case 'AWS::Lambda::Alias':
        this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: 'an alias stands for its function locally' });
        return { ref: `${str(props.FunctionName) ?? ''}:${str(props.Name) ?? ''}`, attrs: {} };
      case 'AWS::Lambda::EventSourceMapping':
        this.pendingEsm.push({ stackName, logicalId, props });
        return { ref: `${this.opts.prefix}-esm-${logicalId}`, attrs: {} };
      default: {
        this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: skipReason(resource.Type) });
        const name = this.physicalName('other', stackName, logicalId, undefined);
        const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
        const known: Record<string, unknown> = { Arn: `arn:aws:${service}:${this.opts.region}:${this.account()}:${name}`, Name: name };
        // Any other attribute of a resource not emulated (a security group's GroupId, a cluster's ...) reads as a
        // placeholder naming it: it only ends up in a function's environment, which the local runner overrides where it matters.
        const attrs = new Proxy(known, { has: () => true, get: (target, attr) => target[String(attr)] ?? `${name}.${String(attr)}` });
        return { ref: name, attrs };
      }
    }
    this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: skipReason(resource.Type) });
    const name = this.physicalName('other', stackName, logicalId, undefined);
    const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
    return { ref: name, attrs: { Arn: `arn:aws:${service}:${this.opts.region}:${this.account()}:${name}`, Name: name } };
  }

  queueByArn(arn: string): ProvisionedQueue | undefined {
    return Object.values(this.result.queues).find((q) => q.arn === arn);
  }

  async run(): Promise<void> {
    // Exports first, so Fn::ImportValue finds them (their values resolve on demand).
    for (const stack of this.templates) {
      for (const output of Object.values(stack.template.Outputs ?? {})) {
        if (output.Export) {
          const exportName = await this.resolve<string>(stack.stackName, output.Export.Name);
          this.exportSources.set(String(exportName), { stackName: stack.stackName, value: output.Value });
        }
      }
    }
    // Stateful resources first (a queue's DLQ resolves through its GetAtt anyway), functions last.
    const order = [
      'AWS::S3::Bucket',
      'AWS::DynamoDB::Table',
      'AWS::DynamoDB::GlobalTable',
      'AWS::Events::EventBus',
      'AWS::SQS::Queue',
      'AWS::Events::Rule',
      'AWS::Lambda::Function',
      'AWS::Lambda::Url',
      'AWS::Lambda::EventSourceMapping',
    ];
    const rank = (type: string) => {
      const i = order.indexOf(type);
      return i < 0 ? order.length : i;
    };
    for (const stack of this.templates) {
      const entries = Object.entries(stack.template.Resources ?? {}).sort(([, a], [, b]) => rank(a.Type) - rank(b.Type));
      for (const [logicalId] of entries) await this.ensure(stack.stackName, logicalId);
    }
    // Fill DLQ urls of queues created before their DLQ was known by ARN only.
    for (const q of Object.values(this.result.queues)) {
      if (q.deadLetter && !q.deadLetter.url) {
        const dlq = this.queueByArn(q.deadLetter.arn);
        if (dlq) Object.assign(q.deadLetter, { url: dlq.url, logicalId: dlq.logicalId });
      }
    }
    recordEventSourceMappings(this, this.pendingEsm);
    for (const stack of this.templates) {
      const outputs: Record<string, string> = {};
      for (const [key, output] of Object.entries(stack.template.Outputs ?? {})) {
        if (output.Condition && !(await this.condition(stack.stackName, output.Condition))) continue;
        const value = await this.resolve(stack.stackName, output.Value);
        outputs[key] = typeof value === 'string' ? value : JSON.stringify(value);
        if (output.Export) this.result.exports[String(await this.resolve(stack.stackName, output.Export.Name))] = outputs[key];
      }
      this.result.outputs[stack.stackName] = outputs;
    }
    this.result.accountId = this.account();
  }
}

/**
 * Creates the resources of `templates` (dependencies first) in the emulator behind `clients`.
 * Not idempotent: use a fresh prefix for each copy.
 */
export async function provisionFromTemplates(templates: StackTemplate[], options: ProvisionOptions): Promise<ProvisionedResources> {
  const started = Date.now();
  const p = new Provisioner(templates, options);
  await p.run();
  const r = p.result;
  const resources = { ...r, timings: { provisionMs: Date.now() - started } } as ProvisionedResources;
  Object.defineProperties(resources, {
    bucket: { enumerable: false, get: () => primary(r.buckets, 'bucket', r.functions, 'BUCKET_NAME') },
    table: { enumerable: false, get: () => primary(r.tables, 'table', r.functions, 'TABLE_NAME') },
    bus: { enumerable: false, get: () => primary(r.eventBuses, 'event bus', r.functions, 'EVENT_BUS_NAME') },
  });
  return resources;
}

/**
 * Deletes what provisionFromTemplates created (rules and their targets, buses, queues, tables,
 * buckets with every object version). For endpoints that outlive a test run (LocalStack);
 * errors are collected, not thrown, so one leftover does not hide the others.
 */
export async function deprovision(resources: ProvisionedResources, clients: ProvisionClients): Promise<string[]> {
  const errors: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      errors.push(`${what}: ${errorText(e)}`);
    }
  };
  for (const rule of Object.values(resources.rules)) {
    if (rule.targets.length)
      await attempt(`targets of ${rule.name}`, () =>
        clients.events.send(
          new RemoveTargetsCommand({ Rule: rule.name, EventBusName: rule.eventBusName, Ids: rule.targets.map((t) => t.id) }),
        ),
      );
    await attempt(`rule ${rule.name}`, () =>
      clients.events.send(new DeleteRuleCommand({ Name: rule.name, EventBusName: rule.eventBusName })),
    );
  }
  for (const bus of Object.values(resources.eventBuses))
    await attempt(`bus ${bus.name}`, () => clients.events.send(new DeleteEventBusCommand({ Name: bus.name })));
  for (const q of Object.values(resources.queues))
    await attempt(`queue ${q.name}`, () => clients.sqs.send(new DeleteQueueCommand({ QueueUrl: q.url })));
  for (const t of Object.values(resources.topics ?? {}))
    if (clients.sns) await attempt(`topic ${t.name}`, () => clients.sns!.send(new DeleteTopicCommand({ TopicArn: t.arn })));
  for (const t of Object.values(resources.tables))
    await attempt(`table ${t.name}`, () => clients.dynamo.send(new DeleteTableCommand({ TableName: t.name })));
  for (const b of Object.values(resources.buckets)) {
    await attempt(`bucket ${b.name}`, async () => {
      for (let more = true; more;) {
        const listed = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: b.name }));
        const objects = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key, VersionId: v.VersionId }));
        if (objects.length) await clients.s3.send(new DeleteObjectsCommand({ Bucket: b.name, Delete: { Objects: objects, Quiet: true } }));
        more = Boolean(listed.IsTruncated);
      }
      await clients.s3.send(new DeleteBucketCommand({ Bucket: b.name }));
    });
  }
  return errors;
}
