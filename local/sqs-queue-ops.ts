/**
 * The SQS side of the local Lambda runner (runner.ts): an event source mapping as the runner plays
 * it, and the queue operations its pollers make: hand messages back (visibility), move the ones
 * received more than maxReceiveCount times to the DLQ, count a queue's messages.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SqsHandler } from './handler-module.js';
import type { LocalFunction, ProvisionedEventSourceMapping } from './provision.js';
import type { FunctionStats, RunnerLogEntry } from './runner-options.js';

export interface ActiveMapping {
  fn: LocalFunction;
  mapping: ProvisionedEventSourceMapping;
  deadLetter: { url: string; maxReceiveCount: number } | undefined;
  visibilityTimeoutSeconds: number;
  handler?: SqsHandler;
}

export type RunnerLog = (entry: Omit<RunnerLogEntry, 'timestamp'>) => void;

/** Makes messages visible again after `visibilityTimeout` seconds (0: at once). */
export async function releaseMessages(sqs: SQSClient, m: ActiveMapping, messages: Message[], visibilityTimeout = 0): Promise<void> {
  await sqs.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl: m.mapping.queueUrl,
      Entries: messages.map((x, i) => ({ Id: String(i), ReceiptHandle: x.ReceiptHandle, VisibilityTimeout: visibilityTimeout })),
    }),
  );
}

/** Moves messages received more than maxReceiveCount times to the DLQ; returns the others. */
export async function redriveExhausted(
  sqs: SQSClient,
  m: ActiveMapping,
  messages: Message[],
  stats: FunctionStats | undefined,
  log: RunnerLog,
): Promise<Message[]> {
  if (!m.deadLetter) return messages;
  const { url, maxReceiveCount } = m.deadLetter;
  const keep: Message[] = [];
  for (const msg of messages) {
    const count = Number(msg.Attributes?.ApproximateReceiveCount ?? '1');
    if (count <= maxReceiveCount) {
      keep.push(msg);
      continue;
    }
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: msg.Body ?? '',
        ...(msg.MessageAttributes && Object.keys(msg.MessageAttributes).length ? { MessageAttributes: msg.MessageAttributes } : {}),
      }),
    );
    await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: m.mapping.queueUrl, Entries: [{ Id: '0', ReceiptHandle: msg.ReceiptHandle }] }),
    );
    if (stats) stats.redriven++;
    log({
      level: 'WARN',
      message: 'moved to dead-letter queue by the runner',
      function: m.fn.name,
      messageId: msg.MessageId,
      receiveCount: count,
      maxReceiveCount,
    });
  }
  return keep;
}

/** Messages per queue (visible + in flight + delayed). */
export async function queueDepthsOf(sqs: SQSClient, queueUrls: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const url of queueUrls) {
    const a =
      (
        await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
          }),
        )
      ).Attributes ?? {};
    out[url] =
      Number(a.ApproximateNumberOfMessages ?? 0) +
      Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
  }
  return out;
}
