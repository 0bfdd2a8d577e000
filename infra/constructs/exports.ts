import { CfnOutput, Duration, Size, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, type IEventBus } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Effect, PolicyStatement, type IRole, type Role } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl, type ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { exportPk } from '../../src/adapters/dynamodb-export-catalogue.js';
import { provPk } from '../../src/adapters/dynamodb-provenance-store.js';
import { DetailType, EventSource } from '../../src/core/contract/detail-types.js';
import { Prefix, TMP_SUFFIX } from '../../src/core/object-keys.js';
import type { ArchiveTask } from './archive-task.js';
import { acknowledgeObjectPrefixWildcard } from './nag.js';
import { createArchiveFunction } from './archive-function.js';
import { accessEnvironment, addPeopleUrl, type AccessSettings } from './people-url.js';
import { QueueFedFunction } from './queue-fed-function.js';

/** Export requests the worker takes: from the export API and from any client on the bus. */
export const EXPORT_WORKER_PATTERN = {
  source: [EventSource.ExportApi, EventSource.ExportClient],
  detailType: [DetailType.ExportRequested],
};

/** How long one build may run (the worker's timeout, and the lease a build holds on its record). */
export const EXPORT_WORKER_TIMEOUT = Duration.minutes(15);
/** Partition keys of the items the export worker may write (dynamodb:LeadingKeys): export records, provenance. */
export const EXPORT_WORKER_ITEM_KEYS = [`${exportPk('')}*`, `${provPk('')}*`];
/** Maximum concurrency of the export worker (issue 15 item 6). */
export const EXPORT_WORKER_MAX_CONCURRENCY = 5;

export interface ExportsProps {
  readonly bucket: IBucket;
  readonly table: ITable;
  readonly eventBus: IEventBus;
  readonly projectRoot: string;
  /** The h5wasm layer: the worker reads scan files and writes NeXus/NXstxm files. */
  readonly h5wasmLayer: ILayerVersion;
  /** Where the bus parks events it could not deliver to the worker's queue. */
  readonly ruleDeadLetterQueue: IQueue;
  /** Source repository of the archive (software of the exports' provenance). */
  readonly sourceRepository: string;
  readonly logLevel?: string;
  /** OIDC issuer and audience, CORS origins, embargo (infra/constructs/people-url.ts). */
  readonly access?: AccessSettings;
  /** The task engine of the big scans: exports too big for the worker are built there (job kind `export`). */
  readonly archiveTask?: ArchiveTask;
}

/**
 * What building an export takes, for the export worker and for the archive task that builds the
 * exports handed over to it (the same service, functions/export-worker/compose.ts): read archive/,
 * write exports/ and delete only exports/…tmp, write only its own catalogue items (export records,
 * provenance: dynamodb:LeadingKeys), speak on the bus only as beamline-archive.exports.
 */
export function grantExportBuilder(role: IRole, who: string, bucket: IBucket, table: ITable, eventBus: IEventBus): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ReadArchivedScanFiles',
      effect: Effect.ALLOW,
      actions: ['s3:GetObject'],
      resources: [bucket.arnForObjects(`${Prefix.Archive}*`)],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'PublishExports',
      effect: Effect.ALLOW,
      // .tmp upload (tagged state=tmp, possibly multipart), read-back check, copy to the final key or to .err.
      actions: ['s3:PutObject', 's3:GetObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload'],
      resources: [bucket.arnForObjects(`${Prefix.Exports}*`)],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'RemoveExportTmpObjects',
      effect: Effect.ALLOW,
      actions: ['s3:DeleteObject'],
      resources: [bucket.arnForObjects(`${Prefix.Exports}*${TMP_SUFFIX}`)],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ListExportPrefixes',
      effect: Effect.ALLOW,
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      // Lets HeadObject answer 404 (not 403) for a missing key, within the two prefixes only.
      conditions: { StringLike: { 's3:prefix': [`${Prefix.Archive}*`, `${Prefix.Exports}*`] } },
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ReadCatalogue',
      effect: Effect.ALLOW,
      // Export records, run records and documents, provenance records (a transaction: Put + ConditionCheck).
      actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
      resources: [table.tableArn],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'WriteExportItems',
      effect: Effect.ALLOW,
      // Writes only its own item types: export records and provenance records/edges, never a run, dataset or file.
      actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
      resources: [table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': EXPORT_WORKER_ITEM_KEYS } },
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'AnnounceExports',
      effect: Effect.ALLOW,
      actions: ['events:PutEvents'],
      resources: [eventBus.eventBusArn],
      conditions: { StringEquals: { 'events:source': EventSource.Exports } },
    }),
  );
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    acknowledgeObjectPrefixWildcard(
      policy,
      bucket,
      Prefix.Archive,
      `The ${who} reads the scan file of any run it exports (archive/<proposal>/<beamline>/...); read-only, confined to archive/.`,
    );
    acknowledgeObjectPrefixWildcard(
      policy,
      bucket,
      Prefix.Exports,
      `Export keys are exports/<export id>/<file>, one folder per request; the ${who} writes exports only there.`,
    );
    acknowledgeObjectPrefixWildcard(
      policy,
      bucket,
      Prefix.Exports,
      `The ${who} removes its own export .tmp objects (exports/<id>/<file>.tmp) after publishing; no other export object can be deleted.`,
      `${Prefix.Exports}*${TMP_SUFFIX}`,
    );
  }
}

/**
 * Exports on demand (docs/exports.md): `export-api` (an IAM-authorised function URL: request,
 * status, download links) puts Export Requested on the bus; `export-worker` (fed by a bus rule
 * through its queue + DLQ + alarm) builds and publishes them. Each function has its own role:
 * the worker reads archive/, writes exports/, deletes only exports/…tmp objects, and speaks on the
 * bus only as beamline-archive.exports; the API reads exports/ (for the links) and speaks only as
 * beamline-archive.export-api.
 */

export class Exports extends Construct {
  readonly worker: QueueFedFunction;
  readonly api: NodejsFunction;
  readonly apiRole: Role;
  readonly apiUrl: FunctionUrl;
  /** The people URL (AuthType NONE on the `people` alias; bearer tokens checked by the function). */
  readonly peopleUrl: FunctionUrl;

  constructor(scope: Construct, id: string, props: ExportsProps) {
    super(scope, id);
    const { bucket, table, eventBus } = props;
    const environment = {
      BUCKET_NAME: bucket.bucketName,
      TABLE_NAME: table.tableName,
      EVENT_BUS_NAME: eventBus.eventBusName,
      LOG_LEVEL: props.logLevel ?? 'INFO',
      BEAMLINE_ARCHIVE_REPOSITORY: props.sourceRepository,
      EXPORT_LEASE_SECONDS: String(EXPORT_WORKER_TIMEOUT.toSeconds()),
    };

    this.worker = new QueueFedFunction(this, 'ExportWorker', {
      name: 'export-worker',
      projectRoot: props.projectRoot,
      memorySize: 3008,
      timeout: EXPORT_WORKER_TIMEOUT,
      ephemeralStorageSize: Size.gibibytes(10),
      batchSize: 1,
      environment,
      layers: [props.h5wasmLayer],
      // Heavy (3 GB, up to 15 min): a burst of requests queues instead of taking the account's concurrency.
      maxConcurrency: EXPORT_WORKER_MAX_CONCURRENCY,
    });
    grantExportBuilder(this.worker.role, 'export worker', bucket, table, eventBus);
    // Exports that do not fit the function go to the big scans' task engine (docs/adr/0017): the
    // worker may start that task (RunTask on its definition, PassRole of its two roles) and is told
    // where it runs; the task's role gets the same export permissions as the worker.
    if (props.archiveTask) {
      const task = props.archiveTask;
      task.grantRun(this.worker.role);
      for (const [name, value] of Object.entries(task.engineEnvironment)) this.worker.function.addEnvironment(name, value);
      grantExportBuilder(task.taskRole, 'archive task', bucket, table, eventBus);
    }
    new Rule(this, 'ExportWorkerRule', {
      eventBus,
      description: 'Export Requested (export API or any client) to the export-worker queue',
      eventPattern: EXPORT_WORKER_PATTERN,
      targets: [
        new SqsQueue(this.worker.queue, {
          deadLetterQueue: props.ruleDeadLetterQueue,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    ({ function: this.api, role: this.apiRole } = createArchiveFunction(this, {
      name: 'export-api',
      idPrefix: 'Api',
      projectRoot: props.projectRoot,
      memorySize: 512,
      timeout: Duration.seconds(30),
      environment: { ...environment, ...accessEnvironment(props.access ?? {}) },
    }));
    this.apiUrl = this.api.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    this.peopleUrl = addPeopleUrl(this, this.api, props.access ?? {}, 'ExportApiPeopleUrl');
    this.apiRole.addToPolicy(
      new PolicyStatement({
        sid: 'CatalogueExports',
        effect: Effect.ALLOW,
        // Run records (is the run ARCHIVED?) and export records (read).
        actions: ['dynamodb:GetItem'],
        resources: [table.tableArn],
      }),
    );
    this.apiRole.addToPolicy(
      new PolicyStatement({
        sid: 'CreateExportRecords',
        effect: Effect.ALLOW,
        // Export records and audit entries only (create once; pk EXPORT#<id>, AUDIT#<proposal>):
        // the API can never write a run, dataset or provenance item.
        actions: ['dynamodb:PutItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['EXPORT#*', 'AUDIT#*'] } },
      }),
    );
    this.apiRole.addToPolicy(
      new PolicyStatement({
        sid: 'SignExportDownloads',
        effect: Effect.ALLOW,
        // The download links are presigned with this role: they can reach published exports only.
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${Prefix.Exports}*`)],
      }),
    );
    this.apiRole.addToPolicy(
      new PolicyStatement({
        sid: 'RequestExports',
        effect: Effect.ALLOW,
        actions: ['events:PutEvents'],
        resources: [eventBus.eventBusArn],
        conditions: { StringEquals: { 'events:source': EventSource.ExportApi } },
      }),
    );
    const apiPolicy = this.apiRole.node.tryFindChild('DefaultPolicy');
    if (apiPolicy) {
      acknowledgeObjectPrefixWildcard(
        apiPolicy,
        bucket,
        Prefix.Exports,
        'Download links of any export the caller may see (exports/<export id>/<file>); read-only, confined to exports/.',
      );
    }

    const stack = Stack.of(this);
    new CfnOutput(stack, 'ExportApiUrl', { value: this.apiUrl.url });
    new CfnOutput(stack, 'ExportApiFunctionName', { value: this.api.functionName });
    new CfnOutput(stack, 'ExportWorkerQueueUrl', { value: this.worker.queue.queueUrl });
  }
}
