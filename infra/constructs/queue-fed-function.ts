import { join } from 'node:path';
import { Duration, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, type ILayerVersion, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * Runtime of every function. nodejs20.x is the project's Node (package.json engines, the local
 * runner); AWS deprecated it on 2026-04-30 and blocks creating functions on it from 2027-02-01,
 * so moving to nodejs22.x/24.x is the next step (change it here and the layer follows).
 */
export const FUNCTION_RUNTIME = Runtime.NODEJS_20_X;

/** CloudFormation Metadata key on every function: the handler module, relative to the repository root. */
export const ENTRY_METADATA_KEY = 'BeamlineArchive:Entry';

/** Modules left out of the bundles: the Lambda runtime ships the AWS SDK v3, the h5wasm layer ships h5wasm. */
export const EXTERNAL_MODULES = ['h5wasm', '@aws-sdk/*'];

/** SQS visibility timeout = this many function timeouts (AWS guidance for SQS event sources). */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
export const MAX_RECEIVE_COUNT = 5;

/**
 * ESM bundles call `require` for Node built-ins pulled in by CommonJS dependencies; define it.
 * The alias avoids clashing with a bundled `createRequire` import.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __beamlineCreateRequire } from 'node:module'; const require = __beamlineCreateRequire(import.meta.url);";

/** How every function of the app is bundled: one minified ESM file, the SDK and h5wasm left out. */
export const ESM_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node20',
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  externalModules: EXTERNAL_MODULES,
  sourceMap: true,
  minify: true,
};

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
    this.entry = `functions/${props.name}/handler.ts`;

    const logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // An own role instead of the default one, whose AWS managed AWSLambdaBasicExecutionRole
    // allows writing to every log group of the account.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${props.name} function`,
    });
    logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: join(props.projectRoot, this.entry),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      runtime: FUNCTION_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      ...(props.ephemeralStorageSize ? { ephemeralStorageSize: props.ephemeralStorageSize } : {}),
      role: this.role,
      logGroup,
      layers: props.layers ?? [],
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.name,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: ESM_BUNDLING,
    });
    const cfnFunction = this.function.node.defaultChild as CfnFunction;
    cfnFunction.addMetadata(ENTRY_METADATA_KEY, this.entry);
    Validations.of(cfnFunction).acknowledge(
      {
        id: 'AwsSolutions-L1',
        reason: 'Runtime pinned to nodejs20.x, the Node version the project, its h5wasm layer and its local Lambda runner are built and tested on; see FUNCTION_RUNTIME.',
      },
      {
        id: 'CloudFormation-Validate::W2531',
        reason: 'Same pin: the nodejs20.x deprecation is known and tracked at FUNCTION_RUNTIME.',
      },
    );

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.timeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    this.function.addEventSource(new SqsEventSource(this.queue, {
      batchSize: props.batchSize,
      reportBatchItemFailures: true,
    }));

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
