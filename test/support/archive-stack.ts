/**
 * The archive's stateful resources in the AWS emulator, as the scan-writer integration tests and
 * bench/big-scan.ts stand them up: the bucket (versioned on request, as the storage stack deploys
 * it), the catalogue table (pk/sk, gsi1 and gsi4), the event bus, the S3 store on them; the functions'
 * environment for their Lambda entries (restored by stop()); SQS events as Lambda receives them;
 * a queue behind a bus rule to see what the functions announce.
 */
import { createHash, randomUUID } from 'node:crypto';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { createAwsClients, type AwsClients } from '../../src/adapters/aws-clients.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { credentialsEnvironment, emulatorCredentials, startAwsEmulator } from '../../local/aws-target.js';
import type { FixtureRun } from '../unit/archive-fixtures.js';

export const REGION = 'eu-west-1';

/** A function's SQS entry as the tests call it. */
export type SqsHandler = (event: SQSEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

export interface ArchiveStackOptions {
  /** Prefix of the bucket name (made unique with the time), or the bucket's whole name with `bucket`. */
  name: string;
  /** The bucket's name, when a test needs it before the stack starts. */
  bucket?: string;
  /** The table's name, likewise. */
  table?: string;
  /** A versioned bucket, as the storage stack deploys it (a re-archive keeps the old file). */
  versioned?: boolean;
  /** Part size of the store's multipart uploads. */
  partSize?: number;
  /** The emulator (default: startAwsEmulator, moto unless a LocalStack endpoint is given). */
  start?: () => Promise<{ url: string; stop(): Promise<void> }>;
  /**
   * Set the functions' environment in process.env (endpoint, credentials, BUCKET_NAME, TABLE_NAME,
   * EVENT_BUS_NAME, BEAMLINE_ARCHIVE_REPOSITORY, NOT_READY_WAIT_SECONDS=0, LOG_LEVEL) plus these
   * variables, for tests that call the Lambda entries; stop() puts process.env back as it was.
   */
  functionEnv?: Record<string, string>;
}

export interface ArchiveStack {
  endpoint: string;
  clients: AwsClients;
  bucket: string;
  table: string;
  bus: string;
  store: S3ObjectStore;
  /** Restores process.env (when functionEnv was given) and stops the emulator it started. */
  stop(): Promise<void>;
}

export async function startArchiveStack(options: ArchiveStackOptions): Promise<ArchiveStack> {
  const emulator = await (options.start ?? startAwsEmulator)();
  const saved = { ...process.env };
  const stop = async () => {
    if (options.functionEnv) {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    await emulator.stop();
  };
  try {
    const stamp = Date.now();
    const bucket = options.bucket ?? `${options.name}-${stamp}`;
    const table = options.table ?? `catalogue-${stamp}`;
    const bus = `bus-${stamp}`;
    const clients = createAwsClients({ region: REGION, endpoint: emulator.url, credentials: emulatorCredentials() });
    if (options.functionEnv) {
      Object.assign(process.env, {
        AWS_ENDPOINT_URL: emulator.url,
        AWS_REGION: REGION,
        ...credentialsEnvironment(),
        BUCKET_NAME: bucket,
        TABLE_NAME: table,
        EVENT_BUS_NAME: bus,
        BEAMLINE_ARCHIVE_REPOSITORY: 'https://example.org/beamline-archive.git',
        NOT_READY_WAIT_SECONDS: '0',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'ERROR',
        ...options.functionEnv,
      });
    }
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    if (options.versioned)
      await clients.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await clients.dynamo.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi4pk', 'gsi4sk'].map((n) => ({
          AttributeName: n,
          AttributeType: 'S' as const,
        })),
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          // Runs of a dataset, and runs by state (what the watchdog lists).
          {
            IndexName: 'gsi1',
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: 'gsi4',
            KeySchema: [
              { AttributeName: 'gsi4pk', KeyType: 'HASH' },
              { AttributeName: 'gsi4sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
    await waitUntilTableExists({ client: clients.dynamo, maxWaitTime: 30 }, { TableName: table });
    await clients.events.send(new CreateEventBusCommand({ Name: bus }));
    const store = new S3ObjectStore(clients.s3, bucket, options.partSize !== undefined ? { partSize: options.partSize } : undefined);
    return { endpoint: emulator.url, clients, bucket, table, bus, store, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A queue that receives what the bus carries from these sources (a rule on the stack's bus); its URL. */
export async function queueOfSources(stack: ArchiveStack, rule: string, sources: readonly string[]): Promise<string> {
  const { sqs, events } = stack.clients;
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${rule}-${Date.now()}` }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await events.send(new PutRuleCommand({ Name: rule, EventBusName: stack.bus, EventPattern: JSON.stringify({ source: sources }) }));
  await events.send(new PutTargetsCommand({ Rule: rule, EventBusName: stack.bus, Targets: [{ Id: 'q', Arn: arn }] }));
  return queueUrl;
}

/** Bus events as one SQS batch, the way Lambda delivers it. */
export function sqsEvent(events: readonly unknown[]): SQSEvent {
  return {
    Records: events.map((e) => {
      const body = JSON.stringify(e);
      return {
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body,
        md5OfBody: createHash('md5').update(body).digest('hex'),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${REGION}:123456789012:q`,
        awsRegion: REGION,
      };
    }),
  };
}

/** The run's chunks and scan_info in the bucket, as the bridge stages them. */
export async function stageRun(store: S3ObjectStore, run: FixtureRun): Promise<void> {
  for (const c of run.chunks) await store.put(c.key, c.bytes);
  if (run.scanInfo) await store.put(run.scanInfo.key, run.scanInfo.bytes, 'application/json');
}
