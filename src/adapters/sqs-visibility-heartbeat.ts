/**
 * Keeps an SQS message invisible for as long as its work runs: every `everySeconds` its
 * visibility timeout is set to `timeoutSeconds` from now (ChangeMessageVisibility), so a long
 * write is never handed to a second consumer, and a crashed one comes back after at most
 * `timeoutSeconds`, whatever the queue's own visibility timeout. Lambda's SQS event source and the
 * local runner (local/runner.ts) both leave a message's visibility to the queue, so the same calls
 * work in both.
 */
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';

export interface VisibilityHeartbeatOptions {
  /** Visibility set at each beat (s, at most 12 h as SQS allows). */
  timeoutSeconds: number;
  /** Seconds between beats; must be well below timeoutSeconds. */
  everySeconds: number;
  /** A beat that failed (logged, the work goes on: the queue's own timeout still holds). */
  onError?: (error: unknown) => void;
}

export interface Heartbeat {
  /** Beats sent so far. */
  readonly beats: number;
  stop(): Promise<void>;
}

/** The queue URL of an SQS queue ARN (`arn:aws:sqs:<region>:<account>:<name>`); the client's endpoint decides the host it is sent to. */
export function queueUrlOfArn(arn: string): string {
  const parts = arn.split(':');
  const [, partition, service, region, account, name] = parts;
  if (parts.length !== 6 || service !== 'sqs' || !region || !account || !name) throw new Error(`not an SQS queue ARN: ${arn}`);
  const suffix = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${suffix}/${account}/${name}`;
}

/** A message's visibility, extended by heartbeats; one instance per composition root. */
export class SqsVisibilityHeartbeat {
  constructor(
    private readonly sqs: SQSClient,
    private readonly options: VisibilityHeartbeatOptions,
  ) {
    if (!(options.everySeconds > 0 && options.everySeconds < options.timeoutSeconds && options.timeoutSeconds <= 43_200)) {
      throw new Error(
        `visibility heartbeat: need 0 < everySeconds (${options.everySeconds}) < timeoutSeconds (${options.timeoutSeconds}) <= 43200`,
      );
    }
  }

  /** Starts beating for one record (the first beat at once); stop() when the work is over. */
  start(record: Pick<SQSRecord, 'eventSourceARN' | 'receiptHandle'>): Heartbeat {
    const queueUrl = queueUrlOfArn(record.eventSourceARN);
    let beats = 0;
    let inFlight: Promise<void> = Promise.resolve();
    const beat = () => {
      inFlight = this.sqs
        .send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: record.receiptHandle,
            VisibilityTimeout: this.options.timeoutSeconds,
          }),
        )
        .then(
          () => {
            beats += 1;
          },
          (error: unknown) => this.options.onError?.(error),
        );
    };
    beat();
    const timer = setInterval(beat, this.options.everySeconds * 1000);
    timer.unref();
    return {
      get beats() {
        return beats;
      },
      stop: async () => {
        clearInterval(timer);
        await inFlight;
      },
    };
  }
}
