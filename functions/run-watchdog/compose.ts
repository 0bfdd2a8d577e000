/**
 * Composition root of the run-watchdog: TABLE_NAME, BUCKET_NAME, EVENT_BUS_NAME and the stall limits
 * (STALL_AFTER_STOP_SECONDS, STALL_AFTER_START_SECONDS) checked once; the run catalogue, the bus,
 * the staging tagger, logger and metrics on one set of clients.
 */
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import { createLogger } from '../../src/adapters/logger.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import { S3StagingTagger } from '../../src/adapters/s3-staging-tagger.js';
import { DEFAULT_WATCHDOG_LIMITS, type WatchdogLimits } from '../../src/core/archive/run-watchdog.js';

export interface RunWatchdogConfig {
  tableName: string;
  bucketName: string;
  eventBusName: string;
  serviceName: string;
  limits: WatchdogLimits;
}

/** A whole number of seconds from the environment, or the default; a clear error otherwise. */
export function secondsFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new Error(`run-watchdog: ${name} must be a whole number of seconds, got ${JSON.stringify(raw)}`);
  return Number(raw.trim());
}

export function runWatchdogConfigFromEnv(env: NodeJS.ProcessEnv): RunWatchdogConfig {
  const missing = ['TABLE_NAME', 'BUCKET_NAME', 'EVENT_BUS_NAME'].filter((n) => !env[n]);
  if (missing.length > 0) throw new Error(`run-watchdog: environment variable(s) ${missing.join(', ')} not set`);
  return {
    tableName: env.TABLE_NAME!,
    bucketName: env.BUCKET_NAME!,
    eventBusName: env.EVENT_BUS_NAME!,
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'run-watchdog',
    limits: {
      stoppedAfterSeconds: secondsFromEnv(env, 'STALL_AFTER_STOP_SECONDS', DEFAULT_WATCHDOG_LIMITS.stoppedAfterSeconds),
      recordingAfterSeconds: secondsFromEnv(env, 'STALL_AFTER_START_SECONDS', DEFAULT_WATCHDOG_LIMITS.recordingAfterSeconds),
    },
  };
}

/** The handler's dependencies (handler.ts: RunWatchdogDeps). */
export function composeRunWatchdog(env: NodeJS.ProcessEnv = process.env) {
  const config = runWatchdogConfigFromEnv(env);
  const clients = createAwsClients(awsConnectionFromEnv(env));
  const catalogue = new DynamoDbRunCatalogue(clients.dynamo, config.tableName);
  return {
    runs: catalogue,
    catalogue,
    publisher: new EventBridgePublisher(clients.events, { eventBusName: config.eventBusName }),
    staging: new S3StagingTagger(clients.s3, config.bucketName),
    now: () => new Date(),
    logger: createLogger(config.serviceName),
    metrics: createMetrics(config.serviceName),
    limits: config.limits,
  };
}
