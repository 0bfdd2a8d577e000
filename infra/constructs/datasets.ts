import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule, type IEventBus } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Effect, PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl, type ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DetailType, EventSource } from '../../src/core/contract/detail-types.js';
import { Prefix, TMP_SUFFIX } from '../../src/core/object-keys.js';
import { acknowledgeObjectPrefixWildcard } from './nag.js';
import { createArchiveFunction } from './archive-function.js';
import { accessEnvironment, addPeopleUrl, type AccessSettings } from './people-url.js';
import { QueueFedFunction } from './queue-fed-function.js';

/** Events the dataset-recorder takes: scans starting (bridge) and scan files archived (scan-writer). */
export const DATASET_RECORDER_PATTERN = {
  // The bridges' RunStart (one source per beamline, infra/stacks/compute-stack.ts BRIDGE_SOURCES) and Run Archived.
  source: Match.anyOf(Match.prefix(EventSource.Bridge), EventSource.ScanWriter),
  detailType: [DetailType.RunStart, DetailType.RunArchived],
};

/** The catalogue indexes the dataset functions query (docs/datasets.md). */
export const DATASET_INDEXES = ['gsi1', 'gsi2', 'gsi3'] as const;

export interface DatasetsProps {
  readonly bucket: IBucket;
  readonly table: ITable;
  readonly eventBus: IEventBus;
  readonly projectRoot: string;
  /** The h5wasm layer: the API writes master files at close. */
  readonly h5wasmLayer: ILayerVersion;
  /** Where the bus parks events it could not deliver to the recorder's queue. */
  readonly ruleDeadLetterQueue: IQueue;
  /** Source repository of the archive (provenance of the master files). */
  readonly sourceRepository: string;
  readonly logLevel?: string;
  /** OIDC issuer and audience, CORS origins, embargo (infra/constructs/people-url.ts). */
  readonly access?: AccessSettings;
}

/**
 * The datasets: `dataset-recorder` (fed by the bus through its queue: scans join their dataset)
 * and `dataset-api` (an IAM-authorised function URL: open, add technique, write/read metadata,
 * missing fields, close, list). Each function has its own role with table, bucket (archive/ only)
 * and bus grants.
 */
export class Datasets extends Construct {
  readonly recorder: QueueFedFunction;
  readonly api: NodejsFunction;
  readonly apiRole: Role;
  readonly apiUrl: FunctionUrl;
  /** The people URL (AuthType NONE on the `people` alias; bearer tokens checked by the function). */
  readonly peopleUrl: FunctionUrl;

  constructor(scope: Construct, id: string, props: DatasetsProps) {
    super(scope, id);
    const { bucket, table, eventBus } = props;
    const environment = {
      BUCKET_NAME: bucket.bucketName,
      TABLE_NAME: table.tableName,
      EVENT_BUS_NAME: eventBus.eventBusName,
      LOG_LEVEL: props.logLevel ?? 'INFO',
      BEAMLINE_ARCHIVE_REPOSITORY: props.sourceRepository,
    };
    const tableResources = [table.tableArn, ...DATASET_INDEXES.map((index) => `${table.tableArn}/index/${index}`)];

    this.recorder = new QueueFedFunction(this, 'DatasetRecorder', {
      name: 'dataset-recorder',
      projectRoot: props.projectRoot,
      memorySize: 512,
      timeout: Duration.seconds(60),
      batchSize: 10,
      environment,
    });
    this.recorder.role.addToPolicy(
      new PolicyStatement({
        sid: 'CatalogueDatasets',
        effect: Effect.ALLOW,
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
        resources: tableResources,
      }),
    );
    this.recorder.role.addToPolicy(
      new PolicyStatement({
        sid: 'AnnounceDatasets',
        effect: Effect.ALLOW,
        actions: ['events:PutEvents'],
        resources: [eventBus.eventBusArn],
        conditions: { StringEquals: { 'events:source': EventSource.Datasets } },
      }),
    );
    new Rule(this, 'DatasetRecorderRule', {
      eventBus,
      description: 'RunStart and Run Archived to the dataset-recorder queue (scans join their dataset)',
      eventPattern: DATASET_RECORDER_PATTERN,
      targets: [
        new SqsQueue(this.recorder.queue, {
          deadLetterQueue: props.ruleDeadLetterQueue,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    ({ function: this.api, role: this.apiRole } = createArchiveFunction(this, {
      name: 'dataset-api',
      idPrefix: 'Api',
      projectRoot: props.projectRoot,
      memorySize: 1024,
      timeout: Duration.seconds(60),
      environment: { ...environment, ...accessEnvironment(props.access ?? {}) },
      layers: [props.h5wasmLayer],
    }));
    this.apiUrl = this.api.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    this.peopleUrl = addPeopleUrl(this, this.api, props.access ?? {}, 'DatasetApiPeopleUrl');

    this.apiRole.addToPolicy(
      new PolicyStatement({
        sid: 'CatalogueDatasets',
        effect: Effect.ALLOW,
        // Transactions need the item actions they contain: Put/Update/Delete/ConditionCheck.
        actions: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Query',
          'dynamodb:ConditionCheckItem',
        ],
        resources: tableResources,
      }),
    );
    this.apiRole.addToPolicy(
      new PolicyStatement({
        sid: 'PublishMasterFiles',
        effect: Effect.ALLOW,
        actions: ['s3:PutObject', 's3:GetObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload'],
        resources: [bucket.arnForObjects(`${Prefix.Archive}*`)],
      }),
    );
    this.apiRole.addToPolicy(
      new PolicyStatement({
        sid: 'RemoveMasterFileTmp',
        effect: Effect.ALLOW,
        // Only the master file's own .tmp upload (and its version) can be deleted: never a published file.
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
        resources: [bucket.arnForObjects(`${Prefix.Archive}*${TMP_SUFFIX}`)],
      }),
    );
    this.apiRole.addToPolicy(
      new PolicyStatement({
        sid: 'ListArchivePrefix',
        effect: Effect.ALLOW,
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${Prefix.Archive}*`] } },
      }),
    );
    this.apiRole.addToPolicy(
      new PolicyStatement({
        sid: 'AnnounceDatasets',
        effect: Effect.ALLOW,
        actions: ['events:PutEvents'],
        resources: [eventBus.eventBusArn],
        conditions: { StringEquals: { 'events:source': EventSource.Datasets } },
      }),
    );
    const apiPolicy = this.apiRole.node.tryFindChild('DefaultPolicy');
    if (apiPolicy) {
      acknowledgeObjectPrefixWildcard(
        apiPolicy,
        bucket,
        Prefix.Archive,
        'Master file keys derive from the dataset folder (archive/<proposal>/<beamline>/<session>/...); confined to archive/.',
      );
      acknowledgeObjectPrefixWildcard(
        apiPolicy,
        bucket,
        Prefix.Archive,
        'dataset-api removes only its own master file upload (archive/<dataset folder>/<name>.h5.tmp) after publishing; no published object can be deleted.',
        `${Prefix.Archive}*${TMP_SUFFIX}`,
      );
    }

    const stack = Stack.of(this);
    new CfnOutput(stack, 'DatasetApiUrl', { value: this.apiUrl.url });
    new CfnOutput(stack, 'DatasetApiFunctionName', { value: this.api.functionName });
    new CfnOutput(stack, 'DatasetRecorderQueueUrl', { value: this.recorder.queue.queueUrl });
  }
}
