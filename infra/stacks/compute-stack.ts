import { CfnOutput, Duration, RemovalPolicy, Size, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule, type IEventBus } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { AccountRootPrincipal, Effect, PolicyStatement, Role, type IRole } from 'aws-cdk-lib/aws-iam';
import { ADMIN_ROLE, parseIamCallerGrants } from '../../src/core/access/caller.js';
import { Architecture, Code, LayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { buildH5wasmLayer } from '../../layers/h5wasm/build.mjs';
import { AnalysisStore } from '../constructs/analysis-store.js';
import { ArchiveTask } from '../constructs/archive-task.js';
import { acknowledgeObjectPrefixWildcard } from '../constructs/nag.js';
import { Datasets } from '../constructs/datasets.js';
import { Exports } from '../constructs/exports.js';
import { DEAD_LETTER_RETENTION_DAYS, FUNCTION_RUNTIME, QueueFedFunction } from '../constructs/queue-fed-function.js';
import { accessSettingsFromContext, type AccessSettings } from '../constructs/people-url.js';
import { Monitoring, monitoringFromContext, type MonitoringSettings } from '../constructs/monitoring.js';
import { StoragePrefix } from './storage-stack.js';
import { TMP_SUFFIX } from '../../src/core/object-keys.js';
import { DetailType, EventSource, runDocumentTypes } from '../../src/core/contract/detail-types.js';
import { storageEnvironment, type StorageSettings } from '../../functions/scan-writer/storage-config.js';

/** Maximum concurrency of the scan-writer (issue 15 item 6; the export worker's is in infra/constructs/exports.ts). */
export const SCAN_WRITER_MAX_CONCURRENCY = 10;

/**
 * Sources of the edge bridges' events: `beamline-archive.bridge.<beamline>`, one per beamline
 * (src/core/access/edge-source.ts). Matched as the prefix `beamline-archive.bridge`, without the
 * dot: a source of that family that names no beamline (an old bridge) reaches the functions and is
 * refused there with a reason a person can act on, instead of vanishing unmatched on the bus.
 */
export const BRIDGE_SOURCES = Match.prefix(EventSource.Bridge);

/** Sources whose events the run-recorder takes: the bridges' run documents and both stages' failures. */
export const RUN_RECORDER_SOURCES = Match.anyOf(BRIDGE_SOURCES, EventSource.ScanWriter, EventSource.RunRecorder);
/** Detail-types routed to the run-recorder: every run document plus run failures. */
export const RUN_RECORDER_DETAIL_TYPES = [...runDocumentTypes, DetailType.RunFailed];
/** Detail-types routed to the scan-writer: a RunStop means every chunk of the run is staged. */
export const SCAN_WRITER_DETAIL_TYPES = [DetailType.RunStop];

export interface ComputeStackProps extends StackProps {
  readonly bucket: IBucket;
  readonly table: ITable;
  readonly eventBus: IEventBus;
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  /** URL of the source repository of this code (software.repository of the archive's provenance records). */
  readonly sourceRepository: string;
  /** LOG_LEVEL of the functions. @default 'INFO' */
  readonly logLevel?: string;
  /**
   * How the scan-writer stores channel datasets (gzip level and threshold, per-kind levels, chunk size):
   * set per deployment, validated at synthesis, passed as NEXUS_* variables (functions/scan-writer/storage-config.ts).
   * @default the context values `scanFileGzip`, `scanFileGzipMinBytes`, `scanFileGzipSpectra`, `scanFileGzipImages`,
   * `scanFileMaxChunkBytes` (`cdk deploy -c scanFileGzip=0` for uncompressed files), else gzip level 4 on
   * datasets of 1 MiB and more, 1 MiB chunks (docs/nexus-layout.md, docs/adr/0015)
   */
  readonly scanFileStorage?: StorageSettings;
  /**
   * OIDC issuer and audience of people's tokens, CORS origins of the people URLs, embargo years.
   * @default the context values `oidcIssuer`, `oidcAudience`, `oidcJwksUri`, `corsOrigins`, `embargoYears`
   */
  readonly access?: AccessSettings;
  /** Alarm e-mails, watchdog schedule and limits. @default from the context (infra/constructs/monitoring.ts) */
  readonly monitoring?: MonitoringSettings;
}

/** The scan-writer's storage settings from the CDK context (strings from `-c`, numbers from cdk.json). */
export function scanFileStorageFromContext(scope: Construct): StorageSettings {
  const read = (key: string): number | undefined => {
    const value: unknown = scope.node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (!/^\d+$/.test(String(value).trim())) throw new Error(`context ${key} must be a non-negative integer, got ${JSON.stringify(value)}`);
    return Number(String(value).trim());
  };
  return {
    gzip: read('scanFileGzip'),
    gzipMinBytes: read('scanFileGzipMinBytes'),
    gzipSpectra: read('scanFileGzipSpectra'),
    gzipImages: read('scanFileGzipImages'),
    maxChunkBytes: read('scanFileMaxChunkBytes'),
  };
}

/**
 * The stateless half: the run-recorder and scan-writer functions, their queues, the bus rules that
 * feed them, the h5wasm layer and the alarms. Safe to destroy and redeploy at any time.
 */
export class ComputeStack extends Stack {
  readonly runRecorder: QueueFedFunction;
  readonly scanWriter: QueueFedFunction;
  /** The task engine of runs too big for the scan-writer (infra/constructs/archive-task.ts). */
  readonly archiveTask: ArchiveTask;
  readonly h5wasmLayer: LayerVersion;
  /** Where the bus parks events it could not deliver to a function queue. */
  readonly ruleDeadLetterQueue: Queue;
  /** dataset-recorder, dataset-api and its function URL (infra/constructs/datasets.ts). */
  readonly datasets: Datasets;
  readonly analysisStore: AnalysisStore;
  /** export-api and its function URL, export-worker and its queue (infra/constructs/exports.ts). */
  readonly exports: Exports;
  /** Alarm topic, notifier, run-watchdog and alarms (infra/constructs/monitoring.ts). */
  readonly monitoring: Monitoring;
  /** The operators' role: invokes the APIs' IAM URLs, mapped as archive administrator (IAM_CALLERS). */
  readonly operatorRole: Role;

  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, props);
    const { bucket, table, eventBus, projectRoot } = props;

    const environment = {
      BUCKET_NAME: bucket.bucketName,
      TABLE_NAME: table.tableName,
      EVENT_BUS_NAME: eventBus.eventBusName,
      LOG_LEVEL: props.logLevel ?? 'INFO',
      BEAMLINE_ARCHIVE_REPOSITORY: props.sourceRepository,
    };

    this.h5wasmLayer = new LayerVersion(this, 'H5wasmLayer', {
      description: 'h5wasm (HDF5 compiled to WebAssembly) at /opt/nodejs/node_modules/h5wasm',
      code: Code.fromAsset(buildH5wasmLayer()),
      compatibleRuntimes: [FUNCTION_RUNTIME],
      compatibleArchitectures: [Architecture.ARM_64, Architecture.X86_64],
    });

    this.runRecorder = new QueueFedFunction(this, 'RunRecorder', {
      name: 'run-recorder',
      projectRoot,
      memorySize: 512,
      timeout: Duration.seconds(60),
      batchSize: 10,
      environment,
    });

    const scanWriterEnvironment = { ...environment, ...storageEnvironment(props.scanFileStorage ?? scanFileStorageFromContext(this)) };
    this.scanWriter = new QueueFedFunction(this, 'ScanWriter', {
      name: 'scan-writer',
      projectRoot,
      memorySize: 3008,
      timeout: Duration.minutes(15),
      ephemeralStorageSize: Size.gibibytes(10),
      batchSize: 1,
      // Heavy (3 GB, up to 15 min each): a burst of RunStops queues instead of taking the account's concurrency.
      maxConcurrency: SCAN_WRITER_MAX_CONCURRENCY,
      environment: scanWriterEnvironment,
      // Only the scan-writer writes HDF5; the run-recorder never loads h5wasm.
      layers: [this.h5wasmLayer],
    });

    // The table's ARN and its one index by name: no wildcard on DynamoDB.
    const tableResources = [table.tableArn, `${table.tableArn}/index/gsi1`];

    this.runRecorder.role.addToPolicy(
      new PolicyStatement({
        sid: 'RecordRunDocuments',
        effect: Effect.ALLOW,
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        resources: tableResources,
      }),
    );
    this.runRecorder.role.addToPolicy(
      new PolicyStatement({
        sid: 'AnnounceUnrecordableRuns',
        effect: Effect.ALLOW,
        actions: ['events:PutEvents'],
        resources: [eventBus.eventBusArn],
        // Run Failed for a run whose document can never be recorded, and only as itself.
        conditions: { StringEquals: { 'events:source': EventSource.RunRecorder } },
      }),
    );
    // Runs failed by the bridge or the run-recorder: their staged objects tagged run-state=failed (lifecycle by
    // state, docs/adr/0015); tagging only, confined to staging/ (the scan-writer tags the runs it fails itself).
    this.runRecorder.role.addToPolicy(
      new PolicyStatement({
        sid: 'TagStagedObjectsOfFailedRuns',
        effect: Effect.ALLOW,
        actions: ['s3:PutObjectTagging'],
        resources: [bucket.arnForObjects(`${StoragePrefix.Staging}*`)],
      }),
    );
    this.runRecorder.role.addToPolicy(
      new PolicyStatement({
        sid: 'ListStagedObjectsOfFailedRuns',
        effect: Effect.ALLOW,
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${StoragePrefix.Staging}*`] } },
      }),
    );
    const recorderPolicy = this.runRecorder.role.node.tryFindChild('DefaultPolicy');
    if (recorderPolicy) {
      acknowledgeObjectPrefixWildcard(
        recorderPolicy,
        bucket,
        StoragePrefix.Staging,
        'The run-recorder tags the staged objects of the runs failed by the bridge or by itself (staging/<run>/...); tagging only, confined to staging/.',
      );
    }

    // The scan-writer function and the archive task run the same use case: the same data permissions.
    const grantArchiveWriter = (writerRole: IRole, who: string) => {
      writerRole.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'ReadStagedChunks',
          effect: Effect.ALLOW,
          // Reads the chunks; tags them run-state=archived|failed once the run has ended (staging lifecycle).
          actions: ['s3:GetObject', 's3:PutObjectTagging'],
          resources: [bucket.arnForObjects(`${StoragePrefix.Staging}*`)],
        }),
      );
      writerRole.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'PublishScanFiles',
          effect: Effect.ALLOW,
          // .tmp upload (tagged state=tmp, possibly multipart), verification, copy to the final key.
          actions: ['s3:PutObject', 's3:GetObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload'],
          resources: [bucket.arnForObjects(`${StoragePrefix.Archive}*`)],
        }),
      );
      writerRole.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'RemoveTmpObjects',
          effect: Effect.ALLOW,
          // Only objects under construction can be deleted: a published file never. The version
          // uploaded is removed for good (a versioned bucket would otherwise keep the .tmp bytes).
          actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
          resources: [bucket.arnForObjects(`${StoragePrefix.Archive}*${TMP_SUFFIX}`)],
        }),
      );
      writerRole.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'ListOwnPrefixes',
          effect: Effect.ALLOW,
          // Lets HeadObject answer 404 (not 403) for a missing key, within the two prefixes only.
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${StoragePrefix.Staging}*`, `${StoragePrefix.Archive}*`] } },
        }),
      );
      writerRole.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'CatalogueRuns',
          effect: Effect.ALLOW,
          actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
          resources: tableResources,
        }),
      );
      writerRole.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'AnnounceArchivedRuns',
          effect: Effect.ALLOW,
          actions: ['events:PutEvents'],
          resources: [eventBus.eventBusArn],
          // Only as itself: the scan-writer cannot speak for the bridge or the datasets service.
          conditions: { StringEquals: { 'events:source': EventSource.ScanWriter } },
        }),
      );
      const writerPolicy = writerRole.node.tryFindChild('DefaultPolicy');
      if (writerPolicy) {
        acknowledgeObjectPrefixWildcard(
          writerPolicy,
          bucket,
          StoragePrefix.Staging,
          `The ${who} reads the chunks of any run it writes (staging/<run>/<channel>/...); read-only and confined to staging/.`,
        );
        acknowledgeObjectPrefixWildcard(
          writerPolicy,
          bucket,
          StoragePrefix.Archive,
          `Scan file keys derive from the data policy of each run (archive/<proposal>/<beamline>/...); confined to archive/.`,
        );
        acknowledgeObjectPrefixWildcard(
          writerPolicy,
          bucket,
          StoragePrefix.Archive,
          `The ${who} removes its own .tmp objects (archive/...<key>.tmp) after publishing; no other object can be deleted.`,
          `${StoragePrefix.Archive}*${TMP_SUFFIX}`,
        );
      }
    };
    grantArchiveWriter(this.scanWriter.role, 'scan-writer');

    // The task engine: runs too big for the scan-writer's /tmp or 15 minutes are written by the same
    // use case in a Fargate task (docs/big-scans.md); the scan-writer may start it, and only it.
    this.archiveTask = new ArchiveTask(this, 'ArchiveTask', { projectRoot, environment: scanWriterEnvironment });
    grantArchiveWriter(this.archiveTask.taskRole, 'archive task');
    this.archiveTask.grantRun(this.scanWriter.role);
    for (const [name, value] of Object.entries(this.archiveTask.engineEnvironment)) this.scanWriter.function.addEnvironment(name, value);

    this.ruleDeadLetterQueue = new Queue(this, 'RuleDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.ruleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself a dead-letter queue: the one of the EventBridge rule targets (events the bus failed to deliver).',
    });
    new Alarm(this, 'RuleDeadLetterAlarm', {
      alarmDescription: 'The event bus failed to deliver events to a function queue',
      metric: this.ruleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const target = (fn: QueueFedFunction) =>
      new SqsQueue(fn.queue, {
        deadLetterQueue: this.ruleDeadLetterQueue,
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      });

    new Rule(this, 'RunRecorderRule', {
      eventBus,
      description: 'Every run document and run failure to the run-recorder queue',
      eventPattern: { source: RUN_RECORDER_SOURCES, detailType: RUN_RECORDER_DETAIL_TYPES },
      targets: [target(this.runRecorder)],
    });
    new Rule(this, 'ScanWriterRule', {
      eventBus,
      description: 'RunStop (all chunks staged) to the scan-writer queue',
      eventPattern: { source: BRIDGE_SOURCES, detailType: SCAN_WRITER_DETAIL_TYPES },
      targets: [target(this.scanWriter)],
    });
    new Rule(this, 'RearchiveRule', {
      eventBus,
      description: "An operator's explicit re-archive of an ARCHIVED run to the scan-writer queue",
      eventPattern: { source: [EventSource.Operator], detailType: [DetailType.RearchiveRequested] },
      targets: [target(this.scanWriter)],
    });

    // The operators' role (the CLI with BEAMLINE_ARCHIVE_AUTH=iam): the one IAM principal the APIs treat as
    // an archive administrator (IAM_CALLERS, src/core/access/caller.ts); any other IAM caller has only
    // the rights the iamCallers context names (none by default).
    this.operatorRole = new Role(this, 'OperatorRole', {
      assumedBy: new AccountRootPrincipal(),
      description: 'beamline-archive operators (CLI over the IAM URLs): archive administrator in the APIs',
      maxSessionDuration: Duration.hours(1),
    });
    const contextAccess = props.access ?? accessSettingsFromContext(this);
    const access: AccessSettings = {
      ...contextAccess,
      iamCallers: Stack.of(this).toJsonString([
        { principal: this.operatorRole.roleArn, roles: [ADMIN_ROLE] },
        ...parseIamCallerGrants(contextAccess.iamCallers),
      ]),
    };
    this.analysisStore = new AnalysisStore(this, 'AnalysisStore', {
      bucket,
      table,
      projectRoot,
      environment,
      h5wasmLayer: this.h5wasmLayer,
      access,
    });

    this.datasets = new Datasets(this, 'Datasets', {
      bucket,
      table,
      eventBus,
      projectRoot,
      h5wasmLayer: this.h5wasmLayer,
      ruleDeadLetterQueue: this.ruleDeadLetterQueue,
      sourceRepository: props.sourceRepository,
      access,
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
    });

    this.exports = new Exports(this, 'Exports', {
      bucket,
      table,
      eventBus,
      projectRoot,
      h5wasmLayer: this.h5wasmLayer,
      ruleDeadLetterQueue: this.ruleDeadLetterQueue,
      sourceRepository: props.sourceRepository,
      access,
      archiveTask: this.archiveTask,
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
    });

    for (const fn of [this.datasets.api, this.exports.api, this.analysisStore.function]) fn.grantInvokeUrl(this.operatorRole);
    new CfnOutput(this, 'OperatorRoleArn', {
      value: this.operatorRole.roleArn,
      description: 'Assume to call the IAM URLs as an archive administrator',
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      bucket,
      table,
      eventBus,
      projectRoot,
      ruleDeadLetterQueue: this.ruleDeadLetterQueue,
      settings: props.monitoring ?? monitoringFromContext(this),
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
    });
    // Last: every alarm defined above (the DLQ alarms of every function included) notifies people.
    this.monitoring.notifyOnAlarms();
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });

    new CfnOutput(this, 'RunRecorderQueueUrl', { value: this.runRecorder.queue.queueUrl });
    new CfnOutput(this, 'ScanWriterQueueUrl', { value: this.scanWriter.queue.queueUrl });
    new CfnOutput(this, 'RunRecorderFunctionName', { value: this.runRecorder.function.functionName });
    new CfnOutput(this, 'ScanWriterFunctionName', { value: this.scanWriter.function.functionName });
  }
}
