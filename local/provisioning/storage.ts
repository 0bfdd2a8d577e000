/** S3 buckets and DynamoDB tables of the templates, created in the emulator (local/provision.ts). */
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutBucketCorsCommand,
  PutPublicAccessBlockCommand,
  type BucketLocationConstraint,
  type LifecycleRule,
  type ServerSideEncryptionRule,
  type Tag,
} from '@aws-sdk/client-s3';
import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type CreateTableCommandInput,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type LocalSecondaryIndex,
  type Projection,
} from '@aws-sdk/client-dynamodb';
import { errorText, num, str, type Created, type ProvisionContext } from './resources.js';

/** Converts the CloudFormation lifecycle rule shape to the S3 API shape. */
function lifecycleRule(rule: Record<string, unknown>, index: number): LifecycleRule {
  const tagFilters = Array.isArray(rule.TagFilters) ? (rule.TagFilters as Array<{ Key: string; Value: string }>) : [];
  const prefix = str(rule.Prefix);
  const sizeGt = num(rule.ObjectSizeGreaterThan);
  const sizeLt = num(rule.ObjectSizeLessThan);
  const conditions = (prefix !== undefined ? 1 : 0) + tagFilters.length + (sizeGt !== undefined ? 1 : 0) + (sizeLt !== undefined ? 1 : 0);
  const tags: Tag[] = tagFilters.map((t) => ({ Key: t.Key, Value: t.Value }));
  const filter =
    conditions > 1
      ? {
          And: {
            ...(prefix !== undefined ? { Prefix: prefix } : {}),
            ...(tags.length ? { Tags: tags } : {}),
            ...(sizeGt !== undefined ? { ObjectSizeGreaterThan: sizeGt } : {}),
            ...(sizeLt !== undefined ? { ObjectSizeLessThan: sizeLt } : {}),
          },
        }
      : tags[0]
        ? { Tag: tags[0] }
        : sizeGt !== undefined
          ? { ObjectSizeGreaterThan: sizeGt }
          : sizeLt !== undefined
            ? { ObjectSizeLessThan: sizeLt }
            : { Prefix: prefix ?? '' };
  const expirationDays = num(rule.ExpirationInDays);
  const nve = rule.NoncurrentVersionExpiration as { NoncurrentDays?: unknown; NewerNoncurrentVersions?: unknown } | undefined;
  const nveDays = num(rule.NoncurrentVersionExpirationInDays) ?? num(nve?.NoncurrentDays);
  const abort = rule.AbortIncompleteMultipartUpload as { DaysAfterInitiation?: unknown } | undefined;
  const transitions = Array.isArray(rule.Transitions) ? (rule.Transitions as Array<Record<string, unknown>>) : [];
  const ncTransitions = Array.isArray(rule.NoncurrentVersionTransitions)
    ? (rule.NoncurrentVersionTransitions as Array<Record<string, unknown>>)
    : [];
  return {
    ID: str(rule.Id) ?? `rule-${index}`,
    Status: (str(rule.Status) ?? 'Enabled') as LifecycleRule['Status'],
    Filter: filter,
    ...(expirationDays !== undefined || rule.ExpiredObjectDeleteMarker !== undefined
      ? {
          Expiration: {
            ...(expirationDays !== undefined ? { Days: expirationDays } : {}),
            ...(rule.ExpiredObjectDeleteMarker !== undefined ? { ExpiredObjectDeleteMarker: Boolean(rule.ExpiredObjectDeleteMarker) } : {}),
          },
        }
      : {}),
    ...(nveDays !== undefined
      ? {
          NoncurrentVersionExpiration: {
            NoncurrentDays: nveDays,
            ...(num(nve?.NewerNoncurrentVersions) !== undefined ? { NewerNoncurrentVersions: num(nve?.NewerNoncurrentVersions) } : {}),
          },
        }
      : {}),
    ...(abort ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: num(abort.DaysAfterInitiation) } } : {}),
    ...(transitions.length
      ? { Transitions: transitions.map((t) => ({ Days: num(t.TransitionInDays), StorageClass: str(t.StorageClass) as never })) }
      : {}),
    ...(ncTransitions.length
      ? {
          NoncurrentVersionTransitions: ncTransitions.map((t) => ({
            NoncurrentDays: num(t.TransitionInDays),
            StorageClass: str(t.StorageClass) as never,
          })),
        }
      : {}),
  };
}

export async function createBucket(
  ctx: ProvisionContext,
  stackName: string,
  logicalId: string,
  props: Record<string, unknown>,
): Promise<Created> {
  const { s3 } = ctx.opts.clients;
  const name = ctx.physicalName('bucket', stackName, logicalId, props.BucketName);
  const notes: string[] = [];
  await s3.send(
    new CreateBucketCommand({
      Bucket: name,
      ...(ctx.opts.region === 'us-east-1'
        ? {}
        : { CreateBucketConfiguration: { LocationConstraint: ctx.opts.region as BucketLocationConstraint } }),
    }),
  );
  const versioning = str((props.VersioningConfiguration as { Status?: unknown } | undefined)?.Status);
  if (versioning) {
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: versioning as 'Enabled' | 'Suspended' } }),
    );
  }
  const rules = ((props.LifecycleConfiguration as { Rules?: unknown[] } | undefined)?.Rules ?? []) as Array<Record<string, unknown>>;
  if (rules.length) {
    try {
      await s3.send(
        new PutBucketLifecycleConfigurationCommand({ Bucket: name, LifecycleConfiguration: { Rules: rules.map(lifecycleRule) } }),
      );
    } catch (e) {
      notes.push(`lifecycle rules not accepted by the emulator: ${errorText(e)}`);
    }
  }
  const encryption = (props.BucketEncryption as { ServerSideEncryptionConfiguration?: unknown[] } | undefined)
    ?.ServerSideEncryptionConfiguration;
  if (encryption?.length) {
    try {
      // CloudFormation says ServerSideEncryptionByDefault where the S3 API says ApplyServerSideEncryptionByDefault.
      const rules = (encryption as Array<Record<string, unknown>>).map((r): ServerSideEncryptionRule => ({
        ...(r.ServerSideEncryptionByDefault
          ? {
              ApplyServerSideEncryptionByDefault:
                r.ServerSideEncryptionByDefault as ServerSideEncryptionRule['ApplyServerSideEncryptionByDefault'],
            }
          : {}),
        ...(r.BucketKeyEnabled !== undefined ? { BucketKeyEnabled: Boolean(r.BucketKeyEnabled) } : {}),
      }));
      await s3.send(new PutBucketEncryptionCommand({ Bucket: name, ServerSideEncryptionConfiguration: { Rules: rules } }));
    } catch (e) {
      notes.push(`encryption not accepted by the emulator: ${errorText(e)}`);
    }
  }
  const pab = props.PublicAccessBlockConfiguration as Record<string, boolean> | undefined;
  if (pab) {
    try {
      await s3.send(new PutPublicAccessBlockCommand({ Bucket: name, PublicAccessBlockConfiguration: pab }));
    } catch (e) {
      notes.push(`public access block not accepted by the emulator: ${errorText(e)}`);
    }
  }
  const cors = props.CorsConfiguration as
    | {
        CorsRules?: {
          AllowedHeaders?: string[];
          AllowedMethods: string[];
          AllowedOrigins: string[];
          ExposedHeaders?: string[];
          MaxAge?: number;
        }[];
      }
    | undefined;
  if (cors?.CorsRules) {
    // The portal's range reads from the browser need it (docs/adr/0009).
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: name,
        CORSConfiguration: {
          CORSRules: cors.CorsRules.map((r) => ({
            AllowedHeaders: r.AllowedHeaders,
            AllowedMethods: r.AllowedMethods,
            AllowedOrigins: r.AllowedOrigins,
            ExposeHeaders: r.ExposedHeaders,
            MaxAgeSeconds: r.MaxAge,
          })),
        },
      }),
    );
  }
  for (const key of [
    'NotificationConfiguration',
    'LoggingConfiguration',
    'ReplicationConfiguration',
    'ObjectLockConfiguration',
    'IntelligentTieringConfigurations',
    'InventoryConfigurations',
    'MetricsConfigurations',
    'WebsiteConfiguration',
  ]) {
    if (props[key] !== undefined) notes.push(`${key} not applied locally`);
  }
  const arn = `arn:aws:s3:::${name}`;
  ctx.result.buckets[logicalId] = {
    stackName,
    logicalId,
    name,
    arn,
    ...(versioning ? { versioning } : {}),
    lifecycleRules: rules.length,
    notes,
  };
  return {
    ref: name,
    attrs: {
      Arn: arn,
      DomainName: `${name}.s3.amazonaws.com`,
      RegionalDomainName: `${name}.s3.${ctx.opts.region}.amazonaws.com`,
      DualStackDomainName: `${name}.s3.dualstack.${ctx.opts.region}.amazonaws.com`,
      WebsiteURL: `http://${name}.s3-website.${ctx.opts.region}.amazonaws.com`,
    },
  };
}

export async function createTable(
  ctx: ProvisionContext,
  stackName: string,
  logicalId: string,
  type: string,
  props: Record<string, unknown>,
): Promise<Created> {
  const name = ctx.physicalName('table', stackName, logicalId, props.TableName);
  const billingMode =
    str(props.BillingMode) ??
    (props.ProvisionedThroughput || props.WriteProvisionedThroughputSettings
      ? 'PROVISIONED'
      : type === 'AWS::DynamoDB::GlobalTable'
        ? 'PAY_PER_REQUEST'
        : 'PROVISIONED');
  const provisioned = billingMode === 'PROVISIONED';
  const throughput = (p: unknown) => {
    const t = p as { ReadCapacityUnits?: unknown; WriteCapacityUnits?: unknown } | undefined;
    return { ReadCapacityUnits: num(t?.ReadCapacityUnits) ?? 5, WriteCapacityUnits: num(t?.WriteCapacityUnits) ?? 5 };
  };
  const gsis = ((props.GlobalSecondaryIndexes ?? []) as Array<Record<string, unknown>>).map((g): GlobalSecondaryIndex => ({
    IndexName: str(g.IndexName),
    KeySchema: g.KeySchema as KeySchemaElement[],
    Projection: g.Projection as Projection,
    ...(provisioned ? { ProvisionedThroughput: throughput(g.ProvisionedThroughput) } : {}),
  }));
  const lsis = ((props.LocalSecondaryIndexes ?? []) as Array<Record<string, unknown>>).map((l): LocalSecondaryIndex => ({
    IndexName: str(l.IndexName),
    KeySchema: l.KeySchema as KeySchemaElement[],
    Projection: l.Projection as Projection,
  }));
  const stream = props.StreamSpecification as { StreamViewType?: string } | undefined;
  const input: CreateTableCommandInput = {
    TableName: name,
    KeySchema: props.KeySchema as KeySchemaElement[],
    AttributeDefinitions: props.AttributeDefinitions as AttributeDefinition[],
    BillingMode: billingMode as 'PROVISIONED' | 'PAY_PER_REQUEST',
    ...(provisioned ? { ProvisionedThroughput: throughput(props.ProvisionedThroughput) } : {}),
    ...(gsis.length ? { GlobalSecondaryIndexes: gsis } : {}),
    ...(lsis.length ? { LocalSecondaryIndexes: lsis } : {}),
    ...(stream?.StreamViewType
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream.StreamViewType as 'NEW_AND_OLD_IMAGES' } }
      : {}),
    ...(props.DeletionProtectionEnabled !== undefined ? { DeletionProtectionEnabled: false } : {}),
  };
  const notes: string[] = [];
  if (props.DeletionProtectionEnabled) notes.push('deletion protection not enabled locally (so test tables can be dropped)');
  const out = await ctx.opts.clients.dynamo.send(new CreateTableCommand(input));
  let description = out.TableDescription;
  for (let i = 0; description?.TableStatus !== 'ACTIVE' && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    description = (await ctx.opts.clients.dynamo.send(new DescribeTableCommand({ TableName: name }))).Table;
  }
  const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
  if (ttl?.AttributeName) {
    try {
      await ctx.opts.clients.dynamo.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: ttl.Enabled ?? true },
        }),
      );
    } catch (e) {
      notes.push(`TTL not accepted by the emulator: ${errorText(e)}`);
    }
  }
  if (props.PointInTimeRecoverySpecification) notes.push('point-in-time recovery not applied locally');
  const arn = description?.TableArn ?? `arn:aws:dynamodb:${ctx.opts.region}:${ctx.account()}:table/${name}`;
  ctx.learnAccount(arn);
  ctx.result.tables[logicalId] = {
    stackName,
    logicalId,
    name,
    arn,
    billingMode,
    keySchema: input.KeySchema ?? [],
    globalSecondaryIndexes: gsis.map((g) => g.IndexName ?? ''),
    notes,
  };
  return {
    ref: name,
    attrs: { Arn: arn, StreamArn: description?.LatestStreamArn ?? `${arn}/stream/local`, TableId: description?.TableId ?? name },
  };
}
