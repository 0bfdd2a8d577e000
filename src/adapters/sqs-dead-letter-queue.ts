/**
 * Parks a message in a dead-letter queue at once, with why (SendMessage of the original body plus
 * message attributes). Used by the SQS-fed functions for messages no retry can fix: the message is
 * kept for an operator (`beamline-archive dlq show|redrive`) without being retried
 * maxReceiveCount times first.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** Message attributes of a parked message (read back by `beamline-archive dlq show`). */
export const ParkedAttribute = {
  Error: 'beamline-archive-error',
  Reason: 'beamline-archive-reason',
  Function: 'beamline-archive-function',
  ParkedAt: 'beamline-archive-parked-at',
  RunUid: 'beamline-archive-run-uid',
} as const;

export interface ParkedMessage {
  body: string;
  /** Name of the error class. */
  error: string;
  reason: string;
  functionName: string;
  runUid?: string | undefined;
}

/** Where a function parks the messages it can never process. */
export interface DeadLetterSink {
  park(message: ParkedMessage): Promise<void>;
}

export class SqsDeadLetterQueue implements DeadLetterSink {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async park(message: ParkedMessage): Promise<void> {
    const text = (value: string) => ({ DataType: 'String', StringValue: value.slice(0, 1000) || '-' });
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: message.body,
        MessageAttributes: {
          [ParkedAttribute.Error]: text(message.error),
          [ParkedAttribute.Reason]: text(message.reason),
          [ParkedAttribute.Function]: text(message.functionName),
          [ParkedAttribute.ParkedAt]: text(this.now().toISOString()),
          ...(message.runUid ? { [ParkedAttribute.RunUid]: text(message.runUid) } : {}),
        },
      }),
    );
  }
}

/** The sink named by DEAD_LETTER_QUEUE_URL (set by infra for every queue-fed function), or undefined. */
export function deadLetterQueueFromEnv(sqs: SQSClient, env: NodeJS.ProcessEnv = process.env): SqsDeadLetterQueue | undefined {
  const url = env.DEAD_LETTER_QUEUE_URL;
  return url ? new SqsDeadLetterQueue(sqs, url) : undefined;
}
