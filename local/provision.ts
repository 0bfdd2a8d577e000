/**
 * Creates in an AWS emulator (moto, LocalStack: anything behind AWS SDK v3) exactly the resources
 * the synthesized CDK templates declare, under physical names `<prefix>-<logical name>`, and
 * returns a typed description of them. Lambda functions and event source mappings are not created
 * in the emulator: they are recorded (entry, resolved environment, queue, batch settings) for the
 * local runner (local/runner.ts), which plays the Lambda service.
 *
 * Resource types that are not emulated (IAM, alarms, log groups, layers, archives, policies,
 * custom resources, …) are listed in `skipped`, with the reason.
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectVersionsCommand, PutBucketEncryptionCommand, PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand, PutBucketCorsCommand, PutPublicAccessBlockCommand, type BucketLocationConstraint,
  type LifecycleRule, type ServerSideEncryptionRule, type Tag,
} from '@aws-sdk/client-s3';
import {
  CreateTableCommand, DeleteTableCommand, DescribeTableCommand, UpdateTimeToLiveCommand,
  type AttributeDefinition, type CreateTableCommandInput, type GlobalSecondaryIndex,
  type KeySchemaElement, type LocalSecondaryIndex, type Projection,
} from '@aws-sdk/client-dynamodb';
import {
  CreateEventBusCommand, DeleteEventBusCommand, DeleteRuleCommand, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand, type Target,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, type QueueAttributeName } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, DeleteTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import type { AwsClients } from '../src/adapters/aws-clients.js';
import type { CloudFormationTemplate, StackTemplate, TemplateResource } from './cloudformation-template.js';
import { evaluateCondition, resolveValue, TemplateResolutionError, type IntrinsicScope } from './intrinsics.js';
import { NameAllocator, readableLogicalId, type NameKind } from './physical-names.js';
import { projectRoot } from './services.js';
import { isRecord } from '../src/core/guards.js';

export type ProvisionClients = Pick<AwsClients, 's3' | 'dynamo' | 'events' | 'sqs'> & Partial<Pick<AwsClients, 'sns'>>;

export interface ProvisionOptions {
  clients: ProvisionClients;
  /** Physical names start with `<prefix>-`; 1-20 chars of [a-z0-9-]. */
  prefix: string;
  region: string;
  /** Account used in ARNs the emulator does not return (Lambda); taken from created ARNs otherwise. */
  accountId?: string;
  /** Base directory of relative function entries; default: the project root. */
  rootDir?: string;
}

interface Located { stackName: string; logicalId: string }

export interface ProvisionedBucket extends Located { name: string; arn: string; versioning?: string; lifecycleRules: number; notes: string[] }
export interface ProvisionedTable extends Located {
  name: string; arn: string; billingMode: string;
  keySchema: KeySchemaElement[]; globalSecondaryIndexes: string[]; notes: string[];
}
export interface ProvisionedEventBus extends Located { name: string; arn: string }
export interface ProvisionedQueue extends Located {
  name: string; url: string; arn: string; visibilityTimeoutSeconds: number;
  /** Present when the queue has a RedrivePolicy. */
  deadLetter?: { arn: string; url: string; logicalId: string; maxReceiveCount: number };
}
export interface ProvisionedRuleTarget { id: string; arn: string; queueLogicalId?: string; queueUrl?: string }
export interface ProvisionedRule extends Located {
  name: string; arn: string; eventBusName: string;
  eventPattern?: Record<string, unknown>; scheduleExpression?: string; state: string;
  targets: ProvisionedRuleTarget[];
}
export interface ProvisionedEventSourceMapping extends Located {
  functionLogicalId: string; functionName: string;
  queueLogicalId: string; queueArn: string; queueUrl: string;
  batchSize: number; maximumBatchingWindowInSeconds: number;
  reportBatchItemFailures: boolean; enabled: boolean; maximumConcurrency?: number;
}
export interface LocalFunction extends Located {
  /** Short name: `<name>` of `functions/<name>/handler.ts`, else the readable logical id. */
  name: string;
  /** Physical name, as Lambda would have it. */
  functionName: string;
  arn: string;
  /** Entry as declared in the metadata (relative to the project root) and its absolute path. */
  entry: string | undefined;
  entryPath: string | undefined;
  /** Exported handler name (`index.handler` → `handler`). */
  handlerExport: string;
  runtime?: string;
  timeoutSeconds: number;
  memorySize: number;
  environment: Record<string, string>;
  /** From its (first) SQS event source mapping. */
  queueUrl?: string; queueArn?: string; dlqUrl?: string; dlqArn?: string; maxReceiveCount?: number;
  batchSize?: number; reportBatchItemFailures?: boolean;
  /** Its AWS::Lambda::Url, when it has one (served locally by local/http-gateway.ts). */
  functionUrl?: { authType: string };
  /**
   * The URL on an alias (AWS::Lambda::Url with a Qualifier), e.g. the people URL (AuthType NONE,
   * bearer tokens checked by the handler, docs/adr/0008); served at the same local path.
   */
  aliasUrl?: { authType: string; qualifier: string; cors?: { allowOrigins: string[]; allowHeaders: string[]; allowMethods: string[]; maxAge?: number } };
}
export interface SkippedResource extends Located { type: string; reason: string }
export interface ProvisionedTopic extends Located { name: string; arn: string; subscriptions: { protocol: string; endpoint: string }[] }
/** A scheduled rule's Lambda target: not registered in the emulator (it runs no schedules); the local runner plays it. */
export interface ProvisionedSchedule extends Located { ruleName: string; scheduleExpression: string; functionArn: string; state: string }

export interface ProvisionedResources {
  prefix: string;
  region: string;
  accountId: string;
  buckets: Record<string, ProvisionedBucket>;
  tables: Record<string, ProvisionedTable>;
  eventBuses: Record<string, ProvisionedEventBus>;
  queues: Record<string, ProvisionedQueue>;
  rules: Record<string, ProvisionedRule>;
  /** SNS topics (with their subscriptions), when the clients include SNS. */
  topics: Record<string, ProvisionedTopic>;
  /** Scheduled rules targeting functions (the local runner invokes them on their rate, or on demand). */
  schedules: ProvisionedSchedule[];
  /** Keyed by short name (`run-recorder`). */
  functions: Record<string, LocalFunction>;
  eventSourceMappings: ProvisionedEventSourceMapping[];
  /** Stack name → output key → resolved value. */
  outputs: Record<string, Record<string, string>>;
  /** Export name → resolved value. */
  exports: Record<string, string>;
  skipped: SkippedResource[];
  /**
   * The app's bucket / table / custom bus: the one the functions' BUCKET_NAME / TABLE_NAME /
   * EVENT_BUS_NAME names, else the only one (a clear error when neither singles one out).
   */
  readonly bucket: ProvisionedBucket;
  readonly table: ProvisionedTable;
  readonly bus: ProvisionedEventBus;
  timings: { provisionMs: number };
}

/** Resource types the provisioner knows it does not emulate, with why. */
const SKIP_REASONS: Array<[RegExp, string]> = [
  [/^AWS::IAM::/, 'IAM is not enforced by the emulator; the local runner uses the test credentials'],
  [/^AWS::CloudWatch::/, 'alarms and dashboards are not emulated'],
  [/^AWS::Logs::/, 'log groups are not emulated; the runner logs to stdout'],
  [/^AWS::Lambda::LayerVersion/, 'layers are not needed: the runner imports the handler with node_modules'],
  [/^AWS::Lambda::Permission$/, 'invoke permissions are not enforced locally'],
  [/^AWS::Events::Archive$/, 'event archive/replay is not emulated'],
  [/Policy$/, 'resource policies are not enforced by the emulator'],
  [/^Custom::|^AWS::CloudFormation::CustomResource$/, 'custom resources run Lambda code at deploy time; not executed locally'],
  [/^AWS::CDK::Metadata$/, 'CDK metadata'],
  [/^AWS::SSM::Parameter$/, 'SSM is not emulated'],
  [/^AWS::SNS::/, 'SNS is not emulated by this endpoint (no SNS client given)'],
  [/^AWS::KMS::/, 'KMS is not emulated'],
];

function skipReason(type: string): string {
  return SKIP_REASONS.find(([re]) => re.test(type))?.[1] ?? 'resource type not emulated by local/provision.ts';
}

interface Created { ref: unknown; attrs: Record<string, unknown> }

const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : Number(v));

/**
 * The app's bucket / table / bus: the one its functions are told about (BUCKET_NAME, TABLE_NAME,
 * EVENT_BUS_NAME), else the only one declared; a clear error otherwise.
 */
function primary<T extends { name: string }>(record: Record<string, T>, what: string, functions: Record<string, LocalFunction>, variable: string): T {
  const values = Object.values(record);
  const named = new Set(Object.values(functions).map((f) => f.environment[variable]).filter((v): v is string => v !== undefined));
  const referenced = values.filter((v) => named.has(v.name));
  if (referenced.length === 1) return referenced[0] as T;
  if (values.length === 1) return values[0] as T;
  throw new Error(`the templates declare ${values.length} ${what}s (${Object.keys(record).join(', ') || 'none'}) and the functions' ${variable} does not single one out; pick one from the ${what}s record`);
}

/** Converts the CloudFormation lifecycle rule shape to the S3 API shape. */
function lifecycleRule(rule: Record<string, unknown>, index: number): LifecycleRule {
  const tagFilters = Array.isArray(rule.TagFilters) ? (rule.TagFilters as Array<{ Key: string; Value: string }>) : [];
  const prefix = str(rule.Prefix);
  const sizeGt = num(rule.ObjectSizeGreaterThan);
  const sizeLt = num(rule.ObjectSizeLessThan);
  const conditions = (prefix !== undefined ? 1 : 0) + tagFilters.length + (sizeGt !== undefined ? 1 : 0) + (sizeLt !== undefined ? 1 : 0);
  const tags: Tag[] = tagFilters.map((t) => ({ Key: t.Key, Value: t.Value }));
  const filter = conditions > 1
    ? { And: { ...(prefix !== undefined ? { Prefix: prefix } : {}), ...(tags.length ? { Tags: tags } : {}), ...(sizeGt !== undefined ? { ObjectSizeGreaterThan: sizeGt } : {}), ...(sizeLt !== undefined ? { ObjectSizeLessThan: sizeLt } : {}) } }
    : tags[0] ? { Tag: tags[0] } : sizeGt !== undefined ? { ObjectSizeGreaterThan: sizeGt } : sizeLt !== undefined ? { ObjectSizeLessThan: sizeLt } : { Prefix: prefix ?? '' };
  const expirationDays = num(rule.ExpirationInDays);
  const nve = rule.NoncurrentVersionExpiration as { NoncurrentDays?: unknown; NewerNoncurrentVersions?: unknown } | undefined;
  const nveDays = num(rule.NoncurrentVersionExpirationInDays) ?? num(nve?.NoncurrentDays);
  const abort = rule.AbortIncompleteMultipartUpload as { DaysAfterInitiation?: unknown } | undefined;
  const transitions = Array.isArray(rule.Transitions) ? (rule.Transitions as Array<Record<string, unknown>>) : [];
  const ncTransitions = Array.isArray(rule.NoncurrentVersionTransitions) ? (rule.NoncurrentVersionTransitions as Array<Record<string, unknown>>) : [];
  return {
    ID: str(rule.Id) ?? `rule-${index}`,
    Status: (str(rule.Status) ?? 'Enabled') as LifecycleRule['Status'],
    Filter: filter,
    ...(expirationDays !== undefined || rule.ExpiredObjectDeleteMarker !== undefined
      ? { Expiration: { ...(expirationDays !== undefined ? { Days: expirationDays } : {}), ...(rule.ExpiredObjectDeleteMarker !== undefined ? { ExpiredObjectDeleteMarker: Boolean(rule.ExpiredObjectDeleteMarker) } : {}) } }
      : {}),
    ...(nveDays !== undefined ? { NoncurrentVersionExpiration: { NoncurrentDays: nveDays, ...(num(nve?.NewerNoncurrentVersions) !== undefined ? { NewerNoncurrentVersions: num(nve?.NewerNoncurrentVersions) } : {}) } } : {}),
    ...(abort ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: num(abort.DaysAfterInitiation) } } : {}),
    ...(transitions.length ? { Transitions: transitions.map((t) => ({ Days: num(t.TransitionInDays), StorageClass: str(t.StorageClass) as never })) } : {}),
    ...(ncTransitions.length ? { NoncurrentVersionTransitions: ncTransitions.map((t) => ({ NoncurrentDays: num(t.TransitionInDays), StorageClass: str(t.StorageClass) as never })) } : {}),
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

class Provisioner {
  private readonly names: NameAllocator;
  private readonly stacks = new Map<string, StackTemplate>();
  private readonly created = new Map<string, Promise<Created>>();
  private readonly conditions = new Map<string, Promise<boolean>>();
  private readonly exportSources = new Map<string, { stackName: string; value: unknown }>();
  private accountId: string | undefined;
  readonly result: Omit<ProvisionedResources, 'bucket' | 'table' | 'bus' | 'timings'>;
  private readonly pendingEsm: Array<{ stackName: string; logicalId: string; props: Record<string, unknown> }> = [];

  constructor(private readonly templates: StackTemplate[], private readonly opts: ProvisionOptions) {
    this.names = new NameAllocator(opts.prefix);
    for (const t of templates) this.stacks.set(t.stackName, t);
    this.accountId = opts.accountId;
    this.result = {
      prefix: opts.prefix, region: opts.region, accountId: opts.accountId ?? '',
      buckets: {}, tables: {}, eventBuses: {}, queues: {}, rules: {}, topics: {}, schedules: [], functions: {},
      eventSourceMappings: [], outputs: {}, exports: {}, skipped: [],
    };
  }

  private account(): string {
    return this.accountId ?? '000000000000';
  }

  private learnAccount(arn: string | undefined): void {
    const account = arn?.split(':')[4];
    if (!this.accountId && account && /^\d{12}$/.test(account)) this.accountId = account;
  }

  private template(stackName: string): CloudFormationTemplate {
    const t = this.stacks.get(stackName);
    if (!t) throw new Error(`unknown stack ${stackName}`);
    return t.template;
  }

  private scope(stackName: string): IntrinsicScope {
    return {
      stackName,
      region: this.opts.region,
      accountId: () => this.account(),
      ref: async (id) => {
        const param = this.template(stackName).Parameters?.[id];
        if (param) return param.Default;
        return (await this.ensure(stackName, id)).ref;
      },
      getAtt: async (id, attr) => {
        const created = await this.ensure(stackName, id);
        if (!(attr in created.attrs)) {
          throw new TemplateResolutionError(`Fn::GetAtt ${id}.${attr}: attribute not available locally (have ${Object.keys(created.attrs).join(', ')})`, stackName);
        }
        return created.attrs[attr];
      },
      importValue: async (name) => {
        const source = this.exportSources.get(name);
        if (!source) throw new TemplateResolutionError(`Fn::ImportValue ${name}: no stack exports it`, stackName);
        return resolveValue(source.value, this.scope(source.stackName));
      },
      condition: (name) => this.condition(stackName, name),
    };
  }

  private condition(stackName: string, name: string): Promise<boolean> {
    const key = `${stackName}/${name}`;
    let p = this.conditions.get(key);
    if (!p) {
      const expr = this.template(stackName).Conditions?.[name];
      if (expr === undefined) throw new TemplateResolutionError(`unknown condition ${name}`, stackName);
      p = evaluateCondition(expr, this.scope(stackName));
      this.conditions.set(key, p);
    }
    return p;
  }

  private resolve<T = unknown>(stackName: string, value: unknown): Promise<T> {
    return resolveValue(value, this.scope(stackName)) as Promise<T>;
  }

  /** Creates a resource once (on first reference or in the main pass) and remembers Ref/GetAtt. */
  ensure(stackName: string, logicalId: string): Promise<Created> {
    const key = `${stackName}/${logicalId}`;
    let p = this.created.get(key);
    if (!p) {
      const resource = this.template(stackName).Resources?.[logicalId];
      if (!resource) return Promise.reject(new TemplateResolutionError(`Ref to unknown resource ${logicalId}`, stackName));
      p = this.create(stackName, logicalId, resource).catch((e: unknown) => {
        if (e instanceof TemplateResolutionError) throw e;
        throw new Error(`${stackName}/${logicalId} (${resource.Type}): ${errorText(e)}`, { cause: e });
      });
      this.created.set(key, p);
    }
    return p;
  }

  private physicalName(kind: NameKind, stackName: string, logicalId: string, explicit: unknown): string {
    const base = typeof explicit === 'string' && explicit ? explicit : readableLogicalId(logicalId);
    return this.names.allocate(kind, base, `${stackName}/${logicalId}`);
  }

  private async create(stackName: string, logicalId: string, resource: TemplateResource): Promise<Created> {
    if (resource.Condition && !(await this.condition(stackName, resource.Condition))) {
      this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: `condition ${resource.Condition} is false` });
      return { ref: undefined, attrs: {} };
    }
    const props = await this.resolve<Record<string, unknown>>(stackName, resource.Properties ?? {});
    switch (resource.Type) {
      case 'AWS::S3::Bucket': return this.createBucket(stackName, logicalId, props);
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable': return this.createTable(stackName, logicalId, resource.Type, props);
      case 'AWS::Events::EventBus': return this.createEventBus(stackName, logicalId, props);
      case 'AWS::Events::Rule': return this.createRule(stackName, logicalId, props);
      case 'AWS::SQS::Queue': return this.createQueue(stackName, logicalId, props);
      case 'AWS::Lambda::Function': return this.recordFunction(stackName, logicalId, resource, props);
      case 'AWS::Lambda::Url': return this.recordFunctionUrl(stackName, logicalId, props);
      case 'AWS::SNS::Topic':
        if (this.opts.clients.sns) return this.createTopic(stackName, logicalId, props);
        break;
      case 'AWS::SNS::Subscription':
        if (this.opts.clients.sns) return this.createSubscription(stackName, logicalId, props);
        break;
      // A version and an alias of a function stand for the function itself locally (the people URL is on an alias).
      case 'AWS::Lambda::Version':
        this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: 'a version stands for its function locally' });
        return { ref: `${str(props.FunctionName) ?? ''}:1`, attrs: { Version: '1', FunctionArn: str(props.FunctionName) } };
      case 'AWS::Lambda::Alias':
        this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: 'an alias stands for its function locally' });
        return { ref: `${str(props.FunctionName) ?? ''}:${str(props.Name) ?? ''}`, attrs: {} };
      case 'AWS::Lambda::EventSourceMapping':
        this.pendingEsm.push({ stackName, logicalId, props });
        return { ref: `${this.opts.prefix}-esm-${logicalId}`, attrs: {} };
      default: {
        this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: skipReason(resource.Type) });
        const name = this.physicalName('other', stackName, logicalId, undefined);
        const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
        const known: Record<string, unknown> = { Arn: `arn:aws:${service}:${this.opts.region}:${this.account()}:${name}`, Name: name };
        // Any other attribute of a resource not emulated (a security group's GroupId, a cluster's ...) reads as a
        // placeholder naming it: it only ends up in a function's environment, which the local runner overrides where it matters.
        const attrs = new Proxy(known, { has: () => true, get: (target, attr) => target[String(attr)] ?? `${name}.${String(attr)}` });
        return { ref: name, attrs };
      }
    }
    this.result.skipped.push({ stackName, logicalId, type: resource.Type, reason: skipReason(resource.Type) });
    const name = this.physicalName('other', stackName, logicalId, undefined);
    const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
    return { ref: name, attrs: { Arn: `arn:aws:${service}:${this.opts.region}:${this.account()}:${name}`, Name: name } };
  }

  /** An SNS topic (KMS encryption is not applied locally: the emulator does not check keys). */
  private async createTopic(stackName: string, logicalId: string, props: Record<string, unknown>): Promise<Created> {
    const name = this.physicalName('topic', stackName, logicalId, props.TopicName);
    const out = await this.opts.clients.sns!.send(new CreateTopicCommand({
      Name: name, ...(props.DisplayName ? { Attributes: { DisplayName: str(props.DisplayName)! } } : {}),
    }));
    const arn = out.TopicArn ?? `arn:aws:sns:${this.opts.region}:${this.account()}:${name}`;
    this.learnAccount(arn);
    const subscriptions = ((props.Subscription ?? []) as Array<{ Protocol?: string; Endpoint?: string }>).map((sub) => ({ protocol: str(sub.Protocol) ?? '', endpoint: str(sub.Endpoint) ?? '' }));
    for (const sub of subscriptions) await this.opts.clients.sns!.send(new SubscribeCommand({ TopicArn: arn, Protocol: sub.protocol, Endpoint: sub.endpoint }));
    this.result.topics[logicalId] = { stackName, logicalId, name, arn, subscriptions };
    return { ref: arn, attrs: { TopicArn: arn, TopicName: name } };
  }

  private async createSubscription(stackName: string, logicalId: string, props: Record<string, unknown>): Promise<Created> {
    const topicArn = str(props.TopicArn) ?? '';
    const protocol = str(props.Protocol) ?? '';
    const endpoint = str(props.Endpoint) ?? '';
    const out = await this.opts.clients.sns!.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: protocol, Endpoint: endpoint }));
    const topic = Object.values(this.result.topics).find((t) => t.arn === topicArn);
    topic?.subscriptions.push({ protocol, endpoint });
    return { ref: out.SubscriptionArn ?? `${topicArn}:${logicalId}`, attrs: {} };
  }

  private async createBucket(stackName: string, logicalId: string, props: Record<string, unknown>): Promise<Created> {
    const { s3 } = this.opts.clients;
    const name = this.physicalName('bucket', stackName, logicalId, props.BucketName);
    const notes: string[] = [];
    await s3.send(new CreateBucketCommand({
      Bucket: name,
      ...(this.opts.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: this.opts.region as BucketLocationConstraint } }),
    }));
    const versioning = str((props.VersioningConfiguration as { Status?: unknown } | undefined)?.Status);
    if (versioning) {
      await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: versioning as 'Enabled' | 'Suspended' } }));
    }
    const rules = ((props.LifecycleConfiguration as { Rules?: unknown[] } | undefined)?.Rules ?? []) as Array<Record<string, unknown>>;
    if (rules.length) {
      try {
        await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: name, LifecycleConfiguration: { Rules: rules.map(lifecycleRule) } }));
      } catch (e) {
        notes.push(`lifecycle rules not accepted by the emulator: ${errorText(e)}`);
      }
    }
    const encryption = (props.BucketEncryption as { ServerSideEncryptionConfiguration?: unknown[] } | undefined)?.ServerSideEncryptionConfiguration;
    if (encryption?.length) {
      try {
        // CloudFormation says ServerSideEncryptionByDefault where the S3 API says ApplyServerSideEncryptionByDefault.
        const rules = (encryption as Array<Record<string, unknown>>).map((r): ServerSideEncryptionRule => ({
          ...(r.ServerSideEncryptionByDefault ? { ApplyServerSideEncryptionByDefault: r.ServerSideEncryptionByDefault as ServerSideEncryptionRule['ApplyServerSideEncryptionByDefault'] } : {}),
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
    const cors = props.CorsConfiguration as { CorsRules?: { AllowedHeaders?: string[]; AllowedMethods: string[]; AllowedOrigins: string[]; ExposedHeaders?: string[]; MaxAge?: number }[] } | undefined;
    if (cors?.CorsRules) {
      // The portal's range reads from the browser need it (docs/adr/0009).
      await s3.send(new PutBucketCorsCommand({
        Bucket: name,
        CORSConfiguration: { CORSRules: cors.CorsRules.map((r) => ({ AllowedHeaders: r.AllowedHeaders, AllowedMethods: r.AllowedMethods, AllowedOrigins: r.AllowedOrigins, ExposeHeaders: r.ExposedHeaders, MaxAgeSeconds: r.MaxAge })) },
      }));
    }
    for (const key of ['NotificationConfiguration', 'LoggingConfiguration', 'ReplicationConfiguration', 'ObjectLockConfiguration', 'IntelligentTieringConfigurations', 'InventoryConfigurations', 'MetricsConfigurations', 'WebsiteConfiguration']) {
      if (props[key] !== undefined) notes.push(`${key} not applied locally`);
    }
    const arn = `arn:aws:s3:::${name}`;
    this.result.buckets[logicalId] = { stackName, logicalId, name, arn, ...(versioning ? { versioning } : {}), lifecycleRules: rules.length, notes };
    return {
      ref: name,
      attrs: {
        Arn: arn, DomainName: `${name}.s3.amazonaws.com`, RegionalDomainName: `${name}.s3.${this.opts.region}.amazonaws.com`,
        DualStackDomainName: `${name}.s3.dualstack.${this.opts.region}.amazonaws.com`, WebsiteURL: `http://${name}.s3-website.${this.opts.region}.amazonaws.com`,
      },
    };
  }

  private async createTable(stackName: string, logicalId: string, type: string, props: Record<string, unknown>): Promise<Created> {
    const name = this.physicalName('table', stackName, logicalId, props.TableName);
    const billingMode = str(props.BillingMode) ?? (props.ProvisionedThroughput || props.WriteProvisionedThroughputSettings ? 'PROVISIONED' : type === 'AWS::DynamoDB::GlobalTable' ? 'PAY_PER_REQUEST' : 'PROVISIONED');
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
      IndexName: str(l.IndexName), KeySchema: l.KeySchema as KeySchemaElement[], Projection: l.Projection as Projection,
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
      ...(stream?.StreamViewType ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream.StreamViewType as 'NEW_AND_OLD_IMAGES' } } : {}),
      ...(props.DeletionProtectionEnabled !== undefined ? { DeletionProtectionEnabled: false } : {}),
    };
    const notes: string[] = [];
    if (props.DeletionProtectionEnabled) notes.push('deletion protection not enabled locally (so test tables can be dropped)');
    const out = await this.opts.clients.dynamo.send(new CreateTableCommand(input));
    let description = out.TableDescription;
    for (let i = 0; description?.TableStatus !== 'ACTIVE' && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      description = (await this.opts.clients.dynamo.send(new DescribeTableCommand({ TableName: name }))).Table;
    }
    const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
    if (ttl?.AttributeName) {
      try {
        await this.opts.clients.dynamo.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: ttl.Enabled ?? true } }));
      } catch (e) {
        notes.push(`TTL not accepted by the emulator: ${errorText(e)}`);
      }
    }
    if (props.PointInTimeRecoverySpecification) notes.push('point-in-time recovery not applied locally');
    const arn = description?.TableArn ?? `arn:aws:dynamodb:${this.opts.region}:${this.account()}:table/${name}`;
    this.learnAccount(arn);
    this.result.tables[logicalId] = {
      stackName, logicalId, name, arn, billingMode, keySchema: input.KeySchema ?? [],
      globalSecondaryIndexes: gsis.map((g) => g.IndexName ?? ''), notes,
    };
    return { ref: name, attrs: { Arn: arn, StreamArn: description?.LatestStreamArn ?? `${arn}/stream/local`, TableId: description?.TableId ?? name } };
  }

  private async createEventBus(stackName: string, logicalId: string, props: Record<string, unknown>): Promise<Created> {
    const name = this.physicalName('eventBus', stackName, logicalId, props.Name);
    const out = await this.opts.clients.events.send(new CreateEventBusCommand({
      Name: name,
      ...(props.Description ? { Description: str(props.Description) } : {}),
    }));
    const arn = out.EventBusArn ?? `arn:aws:events:${this.opts.region}:${this.account()}:event-bus/${name}`;
    this.learnAccount(arn);
    this.result.eventBuses[logicalId] = { stackName, logicalId, name, arn };
    return { ref: name, attrs: { Arn: arn, Name: name, Policy: '' } };
  }

  private async createQueue(stackName: string, logicalId: string, props: Record<string, unknown>): Promise<Created> {
    const fifo = props.FifoQueue === true || props.FifoQueue === 'true';
    let name = this.physicalName('queue', stackName, logicalId, typeof props.QueueName === 'string' ? props.QueueName.replace(/\.fifo$/, '') : undefined);
    if (fifo) name = `${name.slice(0, 75)}.fifo`;
    const attributes: Partial<Record<QueueAttributeName, string>> = {};
    for (const key of ['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds', 'MaximumMessageSize', 'ReceiveMessageWaitTimeSeconds', 'ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit', 'SqsManagedSseEnabled'] as const) {
      if (props[key] !== undefined) attributes[key] = String(props[key]);
    }
    if (fifo) attributes.FifoQueue = 'true';
    const redrive = props.RedrivePolicy as { deadLetterTargetArn?: string; maxReceiveCount?: unknown } | undefined;
    let deadLetter: ProvisionedQueue['deadLetter'];
    if (redrive?.deadLetterTargetArn) {
      const maxReceiveCount = num(redrive.maxReceiveCount) ?? 10;
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: redrive.deadLetterTargetArn, maxReceiveCount });
      const dlq = Object.values(this.result.queues).find((q) => q.arn === redrive.deadLetterTargetArn);
      deadLetter = { arn: redrive.deadLetterTargetArn, url: dlq?.url ?? '', logicalId: dlq?.logicalId ?? '', maxReceiveCount };
    }
    const { sqs } = this.opts.clients;
    const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const url = out.QueueUrl;
    if (!url) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'VisibilityTimeout'] }))).Attributes ?? {};
    const arn = attrs.QueueArn ?? `arn:aws:sqs:${this.opts.region}:${this.account()}:${name}`;
    this.learnAccount(arn);
    this.result.queues[logicalId] = {
      stackName, logicalId, name, url, arn, visibilityTimeoutSeconds: Number(attrs.VisibilityTimeout ?? 30),
      ...(deadLetter ? { deadLetter } : {}),
    };
    return { ref: url, attrs: { Arn: arn, QueueName: name, QueueUrl: url } };
  }

  private queueByArn(arn: string): ProvisionedQueue | undefined {
    return Object.values(this.result.queues).find((q) => q.arn === arn);
  }

  private async createRule(stackName: string, logicalId: string, props: Record<string, unknown>): Promise<Created> {
    const name = this.physicalName('rule', stackName, logicalId, props.Name);
    const busRef = str(props.EventBusName) ?? 'default';
    // EventBusName may be a name or an ARN; a bus ARN ends with event-bus/<name>.
    const eventBusName = busRef.startsWith('arn:') ? busRef.slice(busRef.lastIndexOf('/') + 1) : busRef;
    const eventPattern = isRecord(props.EventPattern) ? props.EventPattern : typeof props.EventPattern === 'string' ? JSON.parse(props.EventPattern) as Record<string, unknown> : undefined;
    const scheduleExpression = str(props.ScheduleExpression);
    const state = str(props.State) ?? 'ENABLED';
    const { events } = this.opts.clients;
    const out = await events.send(new PutRuleCommand({
      Name: name, EventBusName: eventBusName, State: state as 'ENABLED',
      ...(eventPattern ? { EventPattern: JSON.stringify(eventPattern) } : {}),
      ...(scheduleExpression ? { ScheduleExpression: scheduleExpression } : {}),
      ...(props.Description ? { Description: str(props.Description) } : {}),
    }));
    const arn = out.RuleArn ?? `arn:aws:events:${this.opts.region}:${this.account()}:rule/${eventBusName}/${name}`;
    const declared = (props.Targets ?? []) as Array<Record<string, unknown>>;
    // The emulator runs no schedules (and cannot deliver to Lambda): a scheduled rule's function targets go to the runner.
    const scheduled = scheduleExpression ? declared.filter((t) => String(t.Arn ?? '').includes(':lambda:')) : [];
    for (const t of scheduled) {
      this.result.schedules.push({ stackName, logicalId, ruleName: name, scheduleExpression: scheduleExpression!, functionArn: str(t.Arn) ?? '', state });
    }
    const targets = declared.filter((t) => !scheduled.includes(t)).map((t): Target => ({
      Id: str(t.Id), Arn: str(t.Arn),
      ...(t.Input !== undefined ? { Input: str(t.Input) } : {}),
      ...(t.InputPath !== undefined ? { InputPath: str(t.InputPath) } : {}),
      ...(t.InputTransformer ? { InputTransformer: t.InputTransformer as Target['InputTransformer'] } : {}),
      ...(t.SqsParameters ? { SqsParameters: t.SqsParameters as Target['SqsParameters'] } : {}),
      ...(t.RetryPolicy ? { RetryPolicy: t.RetryPolicy as Target['RetryPolicy'] } : {}),
      ...(t.DeadLetterConfig ? { DeadLetterConfig: t.DeadLetterConfig as Target['DeadLetterConfig'] } : {}),
    }));
    if (targets.length) {
      const put = await events.send(new PutTargetsCommand({ Rule: name, EventBusName: eventBusName, Targets: targets }));
      if (put.FailedEntryCount) throw new Error(`PutTargets ${name}: ${JSON.stringify(put.FailedEntries)}`);
    }
    this.result.rules[logicalId] = {
      stackName, logicalId, name, arn, eventBusName, state,
      ...(eventPattern ? { eventPattern } : {}), ...(scheduleExpression ? { scheduleExpression } : {}),
      targets: targets.map((t) => {
        const q = this.queueByArn(t.Arn ?? '');
        return { id: t.Id ?? '', arn: t.Arn ?? '', ...(q ? { queueLogicalId: q.logicalId, queueUrl: q.url } : {}) };
      }),
    };
    return { ref: name, attrs: { Arn: arn } };
  }

  private async recordFunction(stackName: string, logicalId: string, resource: TemplateResource, props: Record<string, unknown>): Promise<Created> {
    const entry = str(resource.Metadata?.['BeamlineArchive:Entry']);
    const short = entry?.match(/functions\/([^/]+)\//)?.[1] ?? readableLogicalId(logicalId);
    const functionName = this.physicalName('function', stackName, logicalId, props.FunctionName ?? short);
    const arn = `arn:aws:lambda:${this.opts.region}:${this.account()}:function:${functionName}`;
    const env = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {});
    const environment = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    const handler = str(props.Handler) ?? 'index.handler';
    const root = this.opts.rootDir ?? projectRoot;
    this.result.functions[short] = {
      stackName, logicalId, name: short, functionName, arn,
      entry, entryPath: entry ? (isAbsolute(entry) ? entry : resolvePath(root, entry)) : undefined,
      handlerExport: handler.slice(handler.lastIndexOf('.') + 1),
      ...(props.Runtime ? { runtime: str(props.Runtime) } : {}),
      timeoutSeconds: num(props.Timeout) ?? 3,
      memorySize: num(props.MemorySize) ?? 128,
      environment,
    };
    return { ref: functionName, attrs: { Arn: arn } };
  }

  /** A function URL is served by local/http-gateway.ts at `<gateway>/fn/<name>/`. */
  private recordFunctionUrl(stackName: string, logicalId: string, props: Record<string, unknown>): Created {
    const target = str(props.TargetFunctionArn) ?? '';
    const fn = Object.values(this.result.functions).find((f) => f.arn === target || f.functionName === target);
    if (!fn) {
      this.result.skipped.push({ stackName, logicalId, type: 'AWS::Lambda::Url', reason: `function ${target} is not in the templates` });
      return { ref: undefined, attrs: {} };
    }
    const qualifier = str(props.Qualifier);
    if (qualifier) {
      const cors = props.Cors as { AllowOrigins?: string[]; AllowHeaders?: string[]; AllowMethods?: string[]; MaxAge?: number } | undefined;
      fn.aliasUrl = {
        authType: str(props.AuthType) ?? 'AWS_IAM', qualifier,
        ...(cors ? { cors: { allowOrigins: cors.AllowOrigins ?? [], allowHeaders: cors.AllowHeaders ?? [], allowMethods: cors.AllowMethods ?? [], ...(cors.MaxAge !== undefined ? { maxAge: cors.MaxAge } : {}) } } : {}),
      };
    } else {
      fn.functionUrl = { authType: str(props.AuthType) ?? 'AWS_IAM' };
    }
    const url = `https://${qualifier ? `${fn.functionName}-${qualifier}` : fn.functionName}.lambda-url.${this.opts.region}.on.aws/`;
    return { ref: fn.arn, attrs: { FunctionUrl: url, FunctionArn: fn.arn } };
  }

  private recordEventSourceMappings(): void {
    for (const { stackName, logicalId, props } of this.pendingEsm) {
      const sourceArn = str(props.EventSourceArn) ?? '';
      const queue = this.queueByArn(sourceArn);
      const fnRef = str(props.FunctionName) ?? '';
      const fn = Object.values(this.result.functions).find((f) => f.functionName === fnRef || f.arn === fnRef || fnRef.endsWith(`:function:${f.functionName}`));
      if (!queue || !fn) {
        this.result.skipped.push({
          stackName, logicalId, type: 'AWS::Lambda::EventSourceMapping',
          reason: !queue ? `event source ${sourceArn} is not an emulated SQS queue` : `function ${fnRef} is not in the templates`,
        });
        continue;
      }
      const responseTypes = (props.FunctionResponseTypes ?? []) as string[];
      const esm: ProvisionedEventSourceMapping = {
        stackName, logicalId, functionLogicalId: fn.logicalId, functionName: fn.functionName,
        queueLogicalId: queue.logicalId, queueArn: queue.arn, queueUrl: queue.url,
        batchSize: num(props.BatchSize) ?? 10,
        maximumBatchingWindowInSeconds: num(props.MaximumBatchingWindowInSeconds) ?? 0,
        reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
        enabled: props.Enabled === undefined ? true : props.Enabled === true || props.Enabled === 'true',
        ...(num((props.ScalingConfig as { MaximumConcurrency?: unknown } | undefined)?.MaximumConcurrency) !== undefined
          ? { maximumConcurrency: num((props.ScalingConfig as { MaximumConcurrency?: unknown }).MaximumConcurrency) } : {}),
      };
      this.result.eventSourceMappings.push(esm);
      if (fn.queueUrl === undefined) {
        Object.assign(fn, {
          queueUrl: queue.url, queueArn: queue.arn, batchSize: esm.batchSize, reportBatchItemFailures: esm.reportBatchItemFailures,
          ...(queue.deadLetter ? { dlqUrl: queue.deadLetter.url, dlqArn: queue.deadLetter.arn, maxReceiveCount: queue.deadLetter.maxReceiveCount } : {}),
        });
      }
    }
  }

  async run(): Promise<void> {
    // Exports first, so Fn::ImportValue finds them (their values resolve on demand).
    for (const stack of this.templates) {
      for (const output of Object.values(stack.template.Outputs ?? {})) {
        if (output.Export) {
          const exportName = await this.resolve<string>(stack.stackName, output.Export.Name);
          this.exportSources.set(String(exportName), { stackName: stack.stackName, value: output.Value });
        }
      }
    }
    // Stateful resources first (a queue's DLQ resolves through its GetAtt anyway), functions last.
    const order = ['AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable', 'AWS::Events::EventBus', 'AWS::SQS::Queue', 'AWS::Events::Rule', 'AWS::Lambda::Function', 'AWS::Lambda::Url', 'AWS::Lambda::EventSourceMapping'];
    const rank = (type: string) => { const i = order.indexOf(type); return i < 0 ? order.length : i; };
    for (const stack of this.templates) {
      const entries = Object.entries(stack.template.Resources ?? {}).sort(([, a], [, b]) => rank(a.Type) - rank(b.Type));
      for (const [logicalId] of entries) await this.ensure(stack.stackName, logicalId);
    }
    // Fill DLQ urls of queues created before their DLQ was known by ARN only.
    for (const q of Object.values(this.result.queues)) {
      if (q.deadLetter && !q.deadLetter.url) {
        const dlq = this.queueByArn(q.deadLetter.arn);
        if (dlq) Object.assign(q.deadLetter, { url: dlq.url, logicalId: dlq.logicalId });
      }
    }
    this.recordEventSourceMappings();
    for (const stack of this.templates) {
      const outputs: Record<string, string> = {};
      for (const [key, output] of Object.entries(stack.template.Outputs ?? {})) {
        if (output.Condition && !(await this.condition(stack.stackName, output.Condition))) continue;
        const value = await this.resolve(stack.stackName, output.Value);
        outputs[key] = typeof value === 'string' ? value : JSON.stringify(value);
        if (output.Export) this.result.exports[String(await this.resolve(stack.stackName, output.Export.Name))] = outputs[key];
      }
      this.result.outputs[stack.stackName] = outputs;
    }
    this.result.accountId = this.account();
  }
}

/**
 * Creates the resources of `templates` (dependencies first) in the emulator behind `clients`.
 * Not idempotent: use a fresh prefix for each copy.
 */
export async function provisionFromTemplates(templates: StackTemplate[], options: ProvisionOptions): Promise<ProvisionedResources> {
  const started = Date.now();
  const p = new Provisioner(templates, options);
  await p.run();
  const r = p.result;
  const resources = { ...r, timings: { provisionMs: Date.now() - started } } as ProvisionedResources;
  Object.defineProperties(resources, {
    bucket: { enumerable: false, get: () => primary(r.buckets, 'bucket', r.functions, 'BUCKET_NAME') },
    table: { enumerable: false, get: () => primary(r.tables, 'table', r.functions, 'TABLE_NAME') },
    bus: { enumerable: false, get: () => primary(r.eventBuses, 'event bus', r.functions, 'EVENT_BUS_NAME') },
  });
  return resources;
}

/**
 * Deletes what provisionFromTemplates created (rules and their targets, buses, queues, tables,
 * buckets with every object version). For endpoints that outlive a test run (LocalStack);
 * errors are collected, not thrown, so one leftover does not hide the others.
 */
export async function deprovision(resources: ProvisionedResources, clients: ProvisionClients): Promise<string[]> {
  const errors: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try { await fn(); } catch (e) { errors.push(`${what}: ${errorText(e)}`); }
  };
  for (const rule of Object.values(resources.rules)) {
    if (rule.targets.length) await attempt(`targets of ${rule.name}`, () => clients.events.send(new RemoveTargetsCommand({ Rule: rule.name, EventBusName: rule.eventBusName, Ids: rule.targets.map((t) => t.id) })));
    await attempt(`rule ${rule.name}`, () => clients.events.send(new DeleteRuleCommand({ Name: rule.name, EventBusName: rule.eventBusName })));
  }
  for (const bus of Object.values(resources.eventBuses)) await attempt(`bus ${bus.name}`, () => clients.events.send(new DeleteEventBusCommand({ Name: bus.name })));
  for (const q of Object.values(resources.queues)) await attempt(`queue ${q.name}`, () => clients.sqs.send(new DeleteQueueCommand({ QueueUrl: q.url })));
  for (const t of Object.values(resources.topics ?? {})) if (clients.sns) await attempt(`topic ${t.name}`, () => clients.sns!.send(new DeleteTopicCommand({ TopicArn: t.arn })));
  for (const t of Object.values(resources.tables)) await attempt(`table ${t.name}`, () => clients.dynamo.send(new DeleteTableCommand({ TableName: t.name })));
  for (const b of Object.values(resources.buckets)) {
    await attempt(`bucket ${b.name}`, async () => {
      for (let more = true; more;) {
        const listed = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: b.name }));
        const objects = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key, VersionId: v.VersionId }));
        if (objects.length) await clients.s3.send(new DeleteObjectsCommand({ Bucket: b.name, Delete: { Objects: objects, Quiet: true } }));
        more = Boolean(listed.IsTruncated);
      }
      await clients.s3.send(new DeleteBucketCommand({ Bucket: b.name }));
    });
  }
  return errors;
}
