/**
 * What local/provision.ts creates and records: the typed description of the provisioned
 * resources, and the context the per-service creators (storage, messaging, functions) share.
 */
import type { KeySchemaElement } from '@aws-sdk/client-dynamodb';
import type { AwsClients } from '../../src/adapters/aws-clients.js';
import type { NameKind } from '../physical-names.js';

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

export interface Located {
  stackName: string;
  logicalId: string;
}

export interface ProvisionedBucket extends Located {
  name: string;
  arn: string;
  versioning?: string;
  lifecycleRules: number;
  notes: string[];
}
export interface ProvisionedTable extends Located {
  name: string;
  arn: string;
  billingMode: string;
  keySchema: KeySchemaElement[];
  globalSecondaryIndexes: string[];
  notes: string[];
}
export interface ProvisionedEventBus extends Located {
  name: string;
  arn: string;
}
export interface ProvisionedQueue extends Located {
  name: string;
  url: string;
  arn: string;
  visibilityTimeoutSeconds: number;
  /** Present when the queue has a RedrivePolicy. */
  deadLetter?: { arn: string; url: string; logicalId: string; maxReceiveCount: number };
}
export interface ProvisionedRuleTarget {
  id: string;
  arn: string;
  queueLogicalId?: string;
  queueUrl?: string;
}
export interface ProvisionedRule extends Located {
  name: string;
  arn: string;
  eventBusName: string;
  eventPattern?: Record<string, unknown>;
  scheduleExpression?: string;
  state: string;
  targets: ProvisionedRuleTarget[];
}
export interface ProvisionedEventSourceMapping extends Located {
  functionLogicalId: string;
  functionName: string;
  queueLogicalId: string;
  queueArn: string;
  queueUrl: string;
  batchSize: number;
  maximumBatchingWindowInSeconds: number;
  reportBatchItemFailures: boolean;
  enabled: boolean;
  maximumConcurrency?: number;
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
  queueUrl?: string;
  queueArn?: string;
  dlqUrl?: string;
  dlqArn?: string;
  maxReceiveCount?: number;
  batchSize?: number;
  reportBatchItemFailures?: boolean;
  /** Its AWS::Lambda::Url, when it has one (served locally by local/http-gateway.ts). */
  functionUrl?: { authType: string };
  /**
   * The URL on an alias (AWS::Lambda::Url with a Qualifier), e.g. the people URL (AuthType NONE,
   * bearer tokens checked by the handler, docs/adr/0008); served at the same local path.
   */
  aliasUrl?: {
    authType: string;
    qualifier: string;
    cors?: { allowOrigins: string[]; allowHeaders: string[]; allowMethods: string[]; maxAge?: number };
  };
}
export interface SkippedResource extends Located {
  type: string;
  reason: string;
}
export interface ProvisionedTopic extends Located {
  name: string;
  arn: string;
  subscriptions: { protocol: string; endpoint: string }[];
}
/** A scheduled rule's Lambda target: not registered in the emulator (it runs no schedules); the local runner plays it. */
export interface ProvisionedSchedule extends Located {
  ruleName: string;
  scheduleExpression: string;
  functionArn: string;
  state: string;
}

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

/** What a created resource answers to Ref and Fn::GetAtt. */
export interface Created {
  ref: unknown;
  attrs: Record<string, unknown>;
}

/** The resources recorded so far (the primary bucket/table/bus and the timings are added at the end). */
export type ProvisionResult = Omit<ProvisionedResources, 'bucket' | 'table' | 'bus' | 'timings'>;

/** An AWS::Lambda::EventSourceMapping, recorded once every queue and function is known. */
export interface PendingEventSourceMapping {
  stackName: string;
  logicalId: string;
  props: Record<string, unknown>;
}

/** What the per-service creators need of the provisioner. */
export interface ProvisionContext {
  readonly opts: ProvisionOptions;
  readonly result: ProvisionResult;
  account(): string;
  learnAccount(arn: string | undefined): void;
  physicalName(kind: NameKind, stackName: string, logicalId: string, explicit: unknown): string;
  queueByArn(arn: string): ProvisionedQueue | undefined;
}

export const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
export const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : Number(v));

export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
