/**
 * Composition root of the archive use case, shared by the scan-writer function and the archive task
 * (functions/archive-task/main.ts, the container entry point): configuration from the environment,
 * clients, adapters, the capacity settings and the task engine.
 */
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { awsConnectionFromEnv, createAwsClients, createEcsClient, type AwsClients } from '../../src/adapters/aws-clients.js';
import { ChildProcessTaskEngine } from '../../src/adapters/child-process-task-engine.js';
import { DynamoDbProvenanceStore } from '../../src/adapters/dynamodb-provenance-store.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { EcsTaskEngine } from '../../src/adapters/ecs-task-engine.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import { H5wasmScanFileWriter } from '../../src/adapters/h5wasm-scan-file-writer.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import type { RunCatalogue, TaskEngine } from '../../src/core/archive/ports.js';
import type { StorageOptions } from '../../src/core/nexus/writers/channel-writer.js';
import type { EventPublisher, ObjectStore } from '../../src/core/ports.js';
import { archiveSoftware, withScanFileProvenance } from '../../src/core/provenance/scan-file-provenance.js';
import pkg from '../../package.json' with { type: 'json' };
import { capacitySettingsFromEnv, type CapacitySettings } from './capacity-config.js';
import { storageOptionsFromEnv } from './storage-config.js';

/** The creator attribute of every scan file: `beamline-archive <version>`. */
export const CREATOR = `beamline-archive ${pkg.version}`;

export interface ArchiveConfig {
  bucketName: string;
  tableName: string;
  eventBusName: string;
  sourceRepository: string;
  notReadyWaitMs: number;
  storage: StorageOptions;
  capacity: CapacitySettings;
}

export function archiveConfigFromEnv(env: NodeJS.ProcessEnv): ArchiveConfig {
  const missing = ['BUCKET_NAME', 'TABLE_NAME', 'EVENT_BUS_NAME', 'BEAMLINE_ARCHIVE_REPOSITORY'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`scan-writer: environment variable(s) ${missing.join(', ')} not set`);
  return {
    bucketName: env.BUCKET_NAME!,
    tableName: env.TABLE_NAME!,
    eventBusName: env.EVENT_BUS_NAME!,
    sourceRepository: env.BEAMLINE_ARCHIVE_REPOSITORY!,
    notReadyWaitMs: 1000 * Number(env.NOT_READY_WAIT_SECONDS ?? 30),
    storage: storageOptionsFromEnv(env),
    capacity: capacitySettingsFromEnv(env),
  };
}

export interface ArchiveComposition {
  config: ArchiveConfig;
  clients: AwsClients;
  /** The catalogue with the scan file's provenance recorded before a run is ARCHIVED. */
  catalogue: RunCatalogue;
  /** The plain DynamoDB catalogue: hand-over claims. */
  runs: DynamoDbRunCatalogue;
  store: ObjectStore;
  writer: H5wasmScanFileWriter;
  publisher: EventPublisher;
  /** The task engine runs too big for the function go to (absent: TASK_ENGINE=none). */
  taskEngine?: TaskEngine | undefined;
}

export async function composeArchive(env: NodeJS.ProcessEnv = process.env): Promise<ArchiveComposition> {
  const config = archiveConfigFromEnv(env);
  const clients = createAwsClients(awsConnectionFromEnv(env));
  const runs = new DynamoDbRunCatalogue(clients.dynamo, config.tableName);
  return {
    config,
    clients,
    runs,
    // The archive's own products get provenance too: runArchived also records the scan file's (docs/analysis-store.md).
    catalogue: withScanFileProvenance(
      runs,
      new DynamoDbProvenanceStore(clients.dynamo, config.tableName, config.bucketName),
      archiveSoftware(pkg.version, config.sourceRepository, env.BEAMLINE_ARCHIVE_COMMIT),
    ),
    store: new S3ObjectStore(clients.s3, config.bucketName),
    writer: await H5wasmScanFileWriter.create(),
    publisher: new EventBridgePublisher(clients.events, { eventBusName: config.eventBusName }),
    taskEngine: taskEngineOf(config.capacity, env),
  };
}

function taskEngineOf(settings: CapacitySettings, env: NodeJS.ProcessEnv): TaskEngine | undefined {
  if (settings.taskEngine === 'ecs' && settings.ecs) {
    const connection = awsConnectionFromEnv(env);
    return new EcsTaskEngine(createEcsClient(connection), {
      ...settings.ecs,
      startedBy: env.AWS_LAMBDA_FUNCTION_NAME ?? 'scan-writer',
    });
  }
  if (settings.taskEngine === 'process') return new ChildProcessTaskEngine();
  return undefined;
}

/** Bytes free for the writer's files (the temp folder it writes in). */
export async function freeTempBytes(dir = tmpdir()): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}
