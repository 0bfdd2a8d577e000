/**
 * What the Lambda service hands a function, built locally: the SQSEvent of a batch (with moto's
 * EventBridge envelopes completed), the context, the environment, the reading of a batch response,
 * and the period of a rate() schedule. Used by the local runner (local/runner.ts) and the HTTP
 * gateway (local/http-gateway.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { LocalFunction } from './provision.js';

/** The milliseconds of an EventBridge `rate(N unit)` expression; undefined for cron() (not played locally). */
export function rateMilliseconds(expression: string): number | undefined {
  const m = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!m) return undefined;
  const unit = m[2]!.startsWith('minute') ? 60_000 : m[2]!.startsWith('hour') ? 3_600_000 : 86_400_000;
  return Number(m[1]) * unit;
}

function toRecordAttributes(m: Message): SQSRecord['attributes'] {
  const a = m.Attributes ?? {};
  return {
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
    SentTimestamp: a.SentTimestamp ?? String(Date.now()),
    SenderId: a.SenderId ?? 'local',
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    ...(a.SequenceNumber ? { SequenceNumber: a.SequenceNumber } : {}),
    ...(a.MessageGroupId ? { MessageGroupId: a.MessageGroupId } : {}),
    ...(a.MessageDeduplicationId ? { MessageDeduplicationId: a.MessageDeduplicationId } : {}),
    ...(a.AWSTraceHeader ? { AWSTraceHeader: a.AWSTraceHeader } : {}),
    ...(a.DeadLetterQueueSourceArn ? { DeadLetterQueueSourceArn: a.DeadLetterQueueSourceArn } : {}),
  };
}

function toRecordMessageAttributes(attrs: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [k, v] of Object.entries(attrs ?? {})) {
    out[k] = {
      dataType: v.DataType ?? 'String',
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
    };
  }
  return out;
}

const ENVELOPE_ORDER = ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'];

/**
 * moto's EventBridge → SQS delivery leaves `account` out of the event envelope (AWS always sends
 * it; docs/adr/0002-local-emulator.md). Returns the body with `account` added, in AWS's key order,
 * or undefined when the body is not an EventBridge event or already complete.
 */
export function completeEventBridgeEnvelope(body: string, accountId: string): string | undefined {
  if (!body.startsWith('{') || !body.includes('"detail-type"')) return undefined;
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const isEnvelope = ['version', 'id', 'detail-type', 'source', 'time', 'region', 'detail'].every((k) => k in event);
  if (!isEnvelope || 'account' in event) return undefined;
  const completed: Record<string, unknown> = {};
  for (const k of ENVELOPE_ORDER)
    if (k === 'account') completed.account = accountId;
    else if (k in event) completed[k] = event[k];
  for (const [k, v] of Object.entries(event)) if (!(k in completed)) completed[k] = v;
  return JSON.stringify(completed);
}

/** The SQSEvent Lambda would build for these messages. */
export function buildSqsEvent(messages: Message[], queueArn: string, region: string): SQSEvent {
  return {
    Records: messages.map((m): SQSRecord => ({
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: toRecordAttributes(m),
      messageAttributes: toRecordMessageAttributes(m.MessageAttributes),
      md5OfBody: m.MD5OfBody ?? '',
      ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: region,
    })),
  };
}

/** A Lambda context for one invocation; getRemainingTimeInMillis counts down from the timeout. */
export function buildLambdaContext(fn: LocalFunction, region: string, deadline: number): Context {
  const requestId = randomUUID();
  const unsupported = () => {
    throw new Error('callback-style context methods are not supported by the local runner');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: String(fn.memorySize),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${requestId.replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/** The variables a function sees in Lambda: the runtime's own, its template environment (the task engine played locally), then overrides. */
export function functionEnvironment(
  fn: LocalFunction,
  region: string,
  awsEndpoint?: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    ...(awsEndpoint ? { AWS_ENDPOINT_URL: awsEndpoint } : {}),
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    ...fn.environment,
    // The runner plays the task engine: a function configured for ECS starts the task's entry
    // point as a child process of this host instead (src/adapters/child-process-task-engine.ts).
    ...(fn.environment.TASK_ENGINE === 'ecs' ? { TASK_ENGINE: 'process' } : {}),
    ...overrides,
  };
}

/**
 * Lambda's reading of the response: without ReportBatchItemFailures any return value means
 * success; with it, listed ids fail and an id that is empty or not in the batch fails the batch.
 */
export function batchItemFailures(reportBatchItemFailures: boolean, response: unknown, messages: Message[]): Set<string> {
  if (!reportBatchItemFailures || response === undefined || response === null) return new Set();
  const items = (response as SQSBatchResponse).batchItemFailures;
  if (items === undefined || items === null) return new Set();
  const ids = new Set(messages.map((x) => x.MessageId ?? ''));
  if (!Array.isArray(items)) throw new Error('batchItemFailures is not a list: the whole batch fails');
  const failed = new Set<string>();
  for (const item of items) {
    const id = item?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id))
      throw new Error(`batchItemFailures names ${JSON.stringify(id)}, which is not in the batch: the whole batch fails`);
    failed.add(id);
  }
  return failed;
}

/** The Scheduled Event EventBridge sends a rule's target. */
export function scheduledEvent(region: string, accountId: string, ruleName: string): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: accountId,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:${accountId}:rule/${ruleName}`],
    detail: {},
  };
}
