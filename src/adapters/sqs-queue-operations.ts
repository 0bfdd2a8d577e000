/**
 * The archive's SQS queues as operators see them (`beamline-archive dlq`, `runs retry`): listed by
 * name prefix with depth and redrive policy, dead-letter messages read without removing them, and
 * moved back to their queue (sent first, then deleted: a crash in between duplicates, never loses).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ParkedAttribute } from './sqs-dead-letter-queue.js';

export interface QueueInfo {
  name: string;
  url: string;
  arn: string;
  visible: number;
  inFlight: number;
  /** For a work queue: its DLQ's ARN. */
  deadLetterArn?: string | undefined;
  maxReceiveCount?: number | undefined;
}

export interface DeadLetterQueue extends QueueInfo {
  /** The queue whose failures land here; undefined for the bus rules' DLQ (events the bus could not deliver). */
  source?: QueueInfo | undefined;
}

/** Every queue under the prefix, with its depth and redrive policy. */
export async function listQueues(sqs: SQSClient, prefix: string): Promise<QueueInfo[]> {
  const urls: string[] = [];
  let token: string | undefined;
  do {
    const out = await sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 1000, ...(token ? { NextToken: token } : {}) }),
    );
    urls.push(...(out.QueueUrls ?? []));
    token = out.NextToken;
  } while (token);
  const queues: QueueInfo[] = [];
  for (const url of urls.sort()) {
    const a =
      (
        await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['QueueArn', 'RedrivePolicy', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        )
      ).Attributes ?? {};
    const redrive = a.RedrivePolicy
      ? (JSON.parse(a.RedrivePolicy) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string })
      : undefined;
    queues.push({
      name: url.slice(url.lastIndexOf('/') + 1),
      url,
      arn: a.QueueArn ?? '',
      visible: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      deadLetterArn: redrive?.deadLetterTargetArn,
      maxReceiveCount: redrive?.maxReceiveCount !== undefined ? Number(redrive.maxReceiveCount) : undefined,
    });
  }
  return queues;
}

export interface ShownMessage {
  messageId: string;
  receiveCount: number;
  sentAt: string | undefined;
  parked?: { error?: string; reason?: string; function?: string; runUid?: string; parkedAt?: string };
  /** EventBridge's own attributes on the bus rules' DLQ (RULE_ARN, TARGET_ARN, ERROR_MESSAGE ...). */
  attributes?: Record<string, string>;
  detailType?: string;
  body: string;
}

function shown(m: Message): ShownMessage {
  const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
  const parked = {
    ...(attr(ParkedAttribute.Error) ? { error: attr(ParkedAttribute.Error) } : {}),
    ...(attr(ParkedAttribute.Reason) ? { reason: attr(ParkedAttribute.Reason) } : {}),
    ...(attr(ParkedAttribute.Function) ? { function: attr(ParkedAttribute.Function) } : {}),
    ...(attr(ParkedAttribute.RunUid) ? { runUid: attr(ParkedAttribute.RunUid) } : {}),
    ...(attr(ParkedAttribute.ParkedAt) ? { parkedAt: attr(ParkedAttribute.ParkedAt) } : {}),
  };
  const others = Object.fromEntries(
    Object.entries(m.MessageAttributes ?? {})
      .filter(([k]) => !k.startsWith('beamline-archive-'))
      .map(([k, v]) => [k, v.StringValue ?? '']),
  );
  let detailType: string | undefined;
  try {
    detailType = (JSON.parse(m.Body ?? '') as { 'detail-type'?: string })['detail-type'];
  } catch {
    detailType = undefined;
  }
  return {
    messageId: m.MessageId ?? '',
    receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
    sentAt: m.Attributes?.SentTimestamp ? new Date(Number(m.Attributes.SentTimestamp)).toISOString() : undefined,
    ...(Object.keys(parked).length ? { parked } : {}),
    ...(Object.keys(others).length ? { attributes: others } : {}),
    ...(detailType ? { detailType } : {}),
    body: m.Body ?? '',
  };
}

/** Receives up to `max` messages and makes them visible again at once: nothing is removed. */
export async function peekMessages(sqs: SQSClient, dlq: DeadLetterQueue, max: number): Promise<ShownMessage[]> {
  const seen = new Map<string, Message>();
  for (let empty = 0; seen.size < max && empty < 2;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.url,
        MaxNumberOfMessages: Math.min(10, max - seen.size),
        WaitTimeSeconds: 1,
        VisibilityTimeout: 30,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        AttributeNames: ['All'],
      }),
    );
    const got = (out.Messages ?? []).filter((m) => !seen.has(m.MessageId ?? ''));
    if (got.length === 0) {
      empty++;
      continue;
    }
    for (const m of got) seen.set(m.MessageId ?? '', m);
  }
  const messages = [...seen.values()];
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: dlq.url,
        Entries: messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  }
  return messages.map(shown);
}

/** Moves messages back to their queue: sent first, then deleted from the DLQ (a crash in between duplicates, never loses). */
export async function redriveMessages(
  sqs: SQSClient,
  dlq: DeadLetterQueue,
  queues: readonly QueueInfo[],
  max: number | undefined,
  report: (done: number, total: number, what: string) => void,
): Promise<{ moved: number; skipped: number; reasons: string[] }> {
  const total = max ?? dlq.visible;
  let moved = 0;
  let skipped = 0;
  const reasons = new Set<string>();
  const byArn = new Map(queues.map((q) => [q.arn, q]));
  const skippedIds = new Set<string>();
  for (let empty = 0; (max === undefined || moved < max) && empty < 2;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.url,
        MaxNumberOfMessages: Math.min(10, max === undefined ? 10 : max - moved),
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
        AttributeNames: ['All'],
      }),
    );
    const messages = (out.Messages ?? []).filter((m) => !skippedIds.has(m.MessageId ?? ''));
    if (messages.length === 0) {
      empty++;
      continue;
    }
    empty = 0;
    for (const m of messages) {
      // The bus rules' DLQ: EventBridge says which queue the event was for.
      const destination = dlq.source ?? byArn.get(m.MessageAttributes?.TARGET_ARN?.StringValue ?? '');
      if (!destination) {
        skipped++;
        skippedIds.add(m.MessageId ?? '');
        reasons.add(`target ${m.MessageAttributes?.TARGET_ARN?.StringValue ?? 'unknown'} is not one of the archive's queues`);
        continue;
      }
      await sqs.send(new SendMessageCommand({ QueueUrl: destination.url, MessageBody: m.Body ?? '' }));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlq.url, ReceiptHandle: m.ReceiptHandle }));
      moved++;
      report(moved, Math.max(total, moved), `→ ${destination.name}`);
    }
  }
  return { moved, skipped, reasons: [...reasons] };
}

/** Sends a message body to a queue. */
export async function sendToQueue(sqs: SQSClient, url: string, body: string): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
}
