import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { BlockPublicAccess, Bucket, BucketEncryption, HttpMethods, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { BridgeRoles, beamlinesFromContext } from '../constructs/bridge-roles.js';
import { accessSettingsFromContext, allowedOrigins, type AccessSettings } from '../constructs/people-url.js';
import { Prefix as StoragePrefix } from '../../src/core/object-keys.js';
import { RUN_STATE_TAG } from '../../src/core/archive/staging-lifecycle.js';

/** Key prefixes of the archive bucket: the same constants the code writing the keys uses. */
export { Prefix as StoragePrefix } from '../../src/core/object-keys.js';

/**
 * S3 lifecycle rules cannot filter on a key suffix, so abandoned `<final>.tmp` objects are found by
 * tag: every writer uploads a .tmp object with the tag `state=tmp` (x-amz-tagging), and publishes
 * the final key with `TaggingDirective: REPLACE` so the final object never inherits the tag.
 */
export const TmpObjectTag = { key: 'state', value: 'tmp' } as const;

export const LifecycleDays = {
  /** Staged objects of an ARCHIVED run (tag run-state=archived): the file holds them. */
  stagingArchived: 7,
  /** Staged objects of a FAILED or STALLED run (run-state=failed|stalled): kept so the run can be retried. */
  stagingFailed: 60,
  /** Any staged object, tagged or not: a safety net for runs no watchdog ever saw end (docs/operations.md). */
  stagingSafety: 365,
  /** A .tmp object older than this belongs to a writer that died between upload and publish. */
  tmpExpiration: 2,
  abortIncompleteMultipartUpload: 1,
  noncurrentVersionExpiration: 30,
  accessLogExpiration: 365,
} as const;

/** How long staged objects live once their run has ended, and at most (days). */
export interface StagingLifecycle {
  readonly archivedDays: number;
  readonly failedDays: number;
  readonly safetyDays: number;
}

/** From the context `stagingArchivedDays`, `stagingFailedDays`, `stagingSafetyDays` (whole days), else LifecycleDays. */
export function stagingLifecycleFromContext(scope: Construct): StagingLifecycle {
  const read = (key: string, fallback: number): number => {
    const value: unknown = scope.node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return fallback;
    if (!/^\d+$/.test(String(value).trim()) || Number(value) < 1)
      throw new Error(`context ${key} must be a positive whole number of days, got ${JSON.stringify(value)}`);
    return Number(String(value).trim());
  };
  const lifecycle = {
    archivedDays: read('stagingArchivedDays', LifecycleDays.stagingArchived),
    failedDays: read('stagingFailedDays', LifecycleDays.stagingFailed),
    safetyDays: read('stagingSafetyDays', LifecycleDays.stagingSafety),
  };
  if (lifecycle.failedDays <= DLQ_RETENTION_DAYS) {
    throw new Error(
      `context stagingFailedDays (${lifecycle.failedDays}) must exceed the DLQ retention (${DLQ_RETENTION_DAYS} days): a redriven message must find its staged data`,
    );
  }
  if (lifecycle.safetyDays < lifecycle.failedDays)
    throw new Error(`context stagingSafetyDays (${lifecycle.safetyDays}) must be at least stagingFailedDays (${lifecycle.failedDays})`);
  return lifecycle;
}

/** The DLQs keep messages 14 days (SQS's maximum, infra/constructs/queue-fed-function.ts). */
const DLQ_RETENTION_DAYS = 14;

export interface StorageStackProps extends StackProps {
  /** Staged data lifecycle by run state. @default stagingLifecycleFromContext */
  readonly stagingLifecycle?: StagingLifecycle;
  /** Name of the custom event bus. @default 'beamline-archive' */
  readonly eventBusName?: string;
  /** How long the bus archive keeps events for replay. @default 365 days */
  readonly eventArchiveRetention?: Duration;
  /** The browser origins of the bucket's CORS rule. @default from the context (corsOrigins, portalOrigin) */
  readonly access?: AccessSettings;
  /** The beamlines whose bridges may publish (one role each). @default the context `beamlines`, else none */
  readonly beamlines?: readonly string[];
}

/**
 * The stateful half of the archive: bucket, catalogue table and event bus (with its replay
 * archive). Everything here is retained on stack deletion; the compute stack gets these constructs
 * through its props and can be redeployed freely.
 */
export class StorageStack extends Stack {
  readonly bucket: Bucket;
  readonly accessLogsBucket: Bucket;
  readonly table: Table;
  readonly eventBus: EventBus;
  /** One role per beamline's bridge host: PutEvents as that beamline's bridge, staging/ and its Lima folders only. */
  readonly bridgeRoles: BridgeRoles;

  constructor(scope: Construct, id: string, props: StorageStackProps = {}) {
    super(scope, id, props);

    this.accessLogsBucket = new Bucket(this, 'AccessLogsBucket', {
      // Server access log delivery only supports SSE-S3 on the target bucket.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(LifecycleDays.accessLogExpiration) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the server access log destination of the archive bucket; logging it into itself would loop.',
    });

    const staging = props.stagingLifecycle ?? stagingLifecycleFromContext(this);
    const browserOrigins = allowedOrigins(props.access ?? accessSettingsFromContext(this));
    this.bucket = new Bucket(this, 'ArchiveBucket', {
      versioned: true,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'archive-bucket/',
      lifecycleRules: [
        // Staged data lives until its run is terminal: tagged run-state=<state> when the run ends
        // (src/core/archive/staging-lifecycle.ts), then expired by state; untagged only by the safety rule.
        {
          id: 'expire-staging-archived',
          prefix: StoragePrefix.Staging,
          tagFilters: { [RUN_STATE_TAG]: 'archived' },
          expiration: Duration.days(staging.archivedDays),
        },
        {
          id: 'expire-staging-failed',
          prefix: StoragePrefix.Staging,
          tagFilters: { [RUN_STATE_TAG]: 'failed' },
          expiration: Duration.days(staging.failedDays),
        },
        {
          id: 'expire-staging-stalled',
          prefix: StoragePrefix.Staging,
          tagFilters: { [RUN_STATE_TAG]: 'stalled' },
          expiration: Duration.days(staging.failedDays),
        },
        {
          id: 'expire-staging-safety',
          prefix: StoragePrefix.Staging,
          expiration: Duration.days(staging.safetyDays),
        },
        {
          id: 'expire-abandoned-tmp',
          tagFilters: { [TmpObjectTag.key]: TmpObjectTag.value },
          expiration: Duration.days(LifecycleDays.tmpExpiration),
        },
        {
          id: 'abort-incomplete-multipart-uploads',
          abortIncompleteMultipartUploadAfter: Duration.days(LifecycleDays.abortIncompleteMultipartUpload),
        },
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(LifecycleDays.noncurrentVersionExpiration),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
      // The portal reads archived files by range with presigned GET URLs from the browser (docs/adr/0009).
      // A presigned URL is the authorisation; CORS lets only the portal's page (corsOrigins / portalOrigin,
      // infra/constructs/people-url.ts) read what it holds; no origin set: no page at all.
      ...(browserOrigins.length
        ? {
            cors: [
              {
                allowedMethods: [HttpMethods.GET, HttpMethods.HEAD],
                allowedOrigins: browserOrigins,
                allowedHeaders: ['range'],
                exposedHeaders: ['Content-Range', 'Content-Length', 'ETag', 'x-amz-meta-sha256'],
                maxAge: 3600,
              },
            ],
          }
        : {}),
    });

    this.table = new Table(this, 'Catalogue', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'gsi1',
      partitionKey: { name: 'gsi1pk', type: AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: AttributeType.STRING },
    });
    // Datasets (docs/datasets.md): gsi2 by sample, gsi3 by month of the start date (time ranges);
    // runs by state (gsi4: RUNSTATE#<state>, since): the watchdog and `beamline-archive runs list`.
    for (const index of ['gsi2', 'gsi3', 'gsi4']) {
      this.table.addGlobalSecondaryIndex({
        indexName: index,
        partitionKey: { name: `${index}pk`, type: AttributeType.STRING },
        sortKey: { name: `${index}sk`, type: AttributeType.STRING },
      });
    }

    this.eventBus = new EventBus(this, 'EventBus', { eventBusName: props.eventBusName ?? 'beamline-archive' });
    this.eventBus.archive('EventArchive', {
      description: 'Every event of the beamline-archive bus, for replay',
      // An archive needs a pattern; every event on the bus comes from this account.
      eventPattern: { account: [this.account] },
      retention: props.eventArchiveRetention ?? Duration.days(365),
    });

    // One credential per beamline's bridge (infra/constructs/bridge-roles.ts, docs/access.md "The edge").
    this.bridgeRoles = new BridgeRoles(this, 'BridgeRoles', {
      bucket: this.bucket,
      eventBus: this.eventBus,
      beamlines: props.beamlines ?? beamlinesFromContext(this),
    });

    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName });
  }
}
