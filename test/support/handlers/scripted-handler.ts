/**
 * A test Lambda handler for the local runner. Each SQS message body says what to do through a
 * `script` word found in it (plain text, or `detail.script` of an EventBridge event):
 *   ok          succeed
 *   fail-once   report a batch item failure on the first receive, succeed afterwards
 *   fail-always report a batch item failure every time
 *   throw-once  throw (the whole batch fails) on the first receive
 * Every record the handler sees is kept in `calls`, with what the runner gave it.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export interface HandlerCall {
  messageId: string;
  body: string;
  script: string;
  receiveCount: number;
  eventSourceARN: string;
  awsRegion: string;
  functionName: string;
  requestId: string;
  remainingMs: number;
  tableName: string | undefined;
  bucketName: string | undefined;
  endpoint: string | undefined;
  batchSize: number;
}

export const calls: HandlerCall[] = [];

export function resetCalls(): void {
  calls.length = 0;
}

export function scriptOf(record: SQSRecord): string {
  try {
    const parsed = JSON.parse(record.body) as { script?: unknown; detail?: { script?: unknown } };
    const script = parsed.detail?.script ?? parsed.script;
    if (typeof script === 'string') return script;
  } catch {
    // plain text body
  }
  return record.body.match(/\b(ok|fail-once|fail-always|throw-once)\b/)?.[1] ?? 'ok';
}

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  let throwBatch = false;
  for (const record of event.Records) {
    const script = scriptOf(record);
    const receiveCount = Number(record.attributes.ApproximateReceiveCount);
    calls.push({
      messageId: record.messageId,
      body: record.body,
      script,
      receiveCount,
      eventSourceARN: record.eventSourceARN,
      awsRegion: record.awsRegion,
      functionName: context.functionName,
      requestId: context.awsRequestId,
      remainingMs: context.getRemainingTimeInMillis(),
      tableName: process.env.TABLE_NAME,
      bucketName: process.env.BUCKET_NAME,
      endpoint: process.env.AWS_ENDPOINT_URL,
      batchSize: event.Records.length,
    });
    if (script === 'fail-always' || (script === 'fail-once' && receiveCount === 1)) failures.push({ itemIdentifier: record.messageId });
    if (script === 'throw-once' && receiveCount === 1) throwBatch = true;
  }
  if (throwBatch) throw new Error('scripted failure of the whole batch');
  return { batchItemFailures: failures };
};
