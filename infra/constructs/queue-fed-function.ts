import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Role } from 'aws-cdk-lib/aws-iam';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { createArchiveFunction } from './archive-function.js';

export { ENTRY_METADATA_KEY, ESM_BUNDLING, ESM_REQUIRE_BANNER, EXTERNAL_MODULES, FUNCTION_RUNTIME } from './archive-function.js';

/** SQS visibility timeout = this many function timeouts (AWS guidance for SQS event sources). */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
export const MAX_RECEIVE_COUNT = 5;
/** SQS's maximum; staged data of FAILED/STALLED runs lives longer (LifecycleDays in storage-stack.ts), so a redrive finds it. */
export const DEAD_LETTER_RETENTION_DAYS = 14;

export interface QueueFedFunctionProps {
  /** Folder name under functions/, also the Powertools service name. */
  readonly name: string;
  /** Absolute path of the repository root (entries, lock file and asset paths hang off it). */
  readonly projectRoot: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly ephemeralStorageSize?: Size;
  readonly batchSize: number;
  readonly environment: Record<string, string>;
  readonly layers?: ILayerVersion[];
  readonly logRetention?: RetentionDays;
  /**
   * At most this many concurrent invocations from the queue (the event source's maximum concurrency):
   * a burst of heavy work cannot take every Lambda slot of the account, nor hammer the table and
   * bucket; messages wait in the queue instead. @default unbounded
   */
  readonly maxConcurrency?: number;
}

/**
 * A Lambda function fed by its own SQS queue: encrypted queue + dead-letter queue (redrive after
 * MAX_RECEIVE_COUNT receives), an event source mapping with partial batch responses, a log group,
 * a role that starts with nothing but its own logs and queue, and an alarm on the DLQ.
 * Grant further permissions on `role`.
 */
export class QueueFedFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly deadLetterAlarm: Alarm;
  /** Repository-relative handler module, as written into the function's metadata. */
  readonly entry: string;

  constructor(scope: Construct, id: string, props: QueueFedFunctionProps) {
    super(scope, id);
    ({ function: this.function, role: this.role, entry: this.entry } = createArchiveFunction(this, props));

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
      // Kept with the data: deleting the compute stack must not delete what is waiting for an operator.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.timeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    // Messages no retry can fix are parked here at once by the function itself (functions/shared/sqs-batch.ts).
    this.function.addEnvironment('DEAD_LETTER_QUEUE_URL', this.deadLetterQueue.queueUrl);
    this.deadLetterQueue.grantSendMessages(this.role);

    this.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: props.batchSize,
        reportBatchItemFailures: true,
        ...(props.maxConcurrency !== undefined ? { maxConcurrency: props.maxConcurrency } : {}),
      }),
    );

    this.deadLetterAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `Messages the ${props.name} function failed ${MAX_RECEIVE_COUNT} times are waiting in its DLQ`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
