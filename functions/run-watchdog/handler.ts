/**
 * run-watchdog: finds the runs that are not terminal after a configurable time and marks them
 * STALLED with what is missing (src/core/archive/run-watchdog.ts), tags their staged objects,
 * announces Run Stalled (the notifier tells people) and counts them in the RunsStalled metric (an
 * alarm). Input: the EventBridge schedule (any event; the payload is not read). Configuration:
 * STALL_AFTER_STOP_SECONDS (default 7200) and STALL_AFTER_START_SECONDS (default 86400).
 */
import type { Context } from 'aws-lambda';
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import { createLogger, type Logger } from '../../src/adapters/logger.js';
import { createMetrics, MetricName, MetricUnit, type Metrics } from '../../src/adapters/metrics.js';
import { S3StagingTagger } from '../../src/adapters/s3-staging-tagger.js';
import { DEFAULT_WATCHDOG_LIMITS, watchRuns, type WatchdogDeps, type WatchdogLimits, type WatchdogReport } from '../../src/core/archive/run-watchdog.js';

export interface RunWatchdogDeps extends Omit<WatchdogDeps, 'log'> {
  logger: Logger;
  metrics?: Metrics | undefined;
  limits?: WatchdogLimits;
}

export interface WatchdogResult {
  checked: number;
  stalled: string[];
  endedMeanwhile: string[];
}

export function createHandler(deps: RunWatchdogDeps): (event?: unknown, context?: Context) => Promise<WatchdogResult> {
  return async () => {
    const { logger, metrics } = deps;
    const report: WatchdogReport = await watchRuns({ ...deps, log: (message, context) => logger.info(message, context) }, deps.limits ?? DEFAULT_WATCHDOG_LIMITS);
    metrics?.addMetric(MetricName.RunsStalled, MetricUnit.Count, report.stalled.length);
    metrics?.addMetric(MetricName.RecordingRuns, MetricUnit.Count, report.checked);
    metrics?.publishStoredMetrics();
    for (const s of report.stalled) logger.error('run STALLED', { runUid: s.run_uid, reason: s.reason, missing: s.missing });
    logger.info('watchdog pass', { checked: report.checked, stalled: report.stalled.length, endedMeanwhile: report.endedMeanwhile.length });
    return { checked: report.checked, stalled: report.stalled.map((s) => s.run_uid), endedMeanwhile: report.endedMeanwhile };
  };
}

/** A whole number of seconds from the environment, or the default; a clear error otherwise. */
export function secondsFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new Error(`run-watchdog: ${name} must be a whole number of seconds, got ${JSON.stringify(raw)}`);
  return Number(raw.trim());
}

let built: ReturnType<typeof createHandler> | undefined;

export const handler = async (event?: unknown, context?: Context): Promise<WatchdogResult> => {
  if (!built) {
    const env = process.env;
    const missing = ['TABLE_NAME', 'BUCKET_NAME', 'EVENT_BUS_NAME'].filter((n) => !env[n]);
    if (missing.length > 0) throw new Error(`run-watchdog: environment variable(s) ${missing.join(', ')} not set`);
    const clients = createAwsClients(awsConnectionFromEnv());
    const catalogue = new DynamoDbRunCatalogue(clients.dynamo, env.TABLE_NAME!);
    built = createHandler({
      runs: catalogue, catalogue,
      publisher: new EventBridgePublisher(clients.events, { eventBusName: env.EVENT_BUS_NAME! }),
      staging: new S3StagingTagger(clients.s3, env.BUCKET_NAME!),
      now: () => new Date(),
      logger: createLogger(env.POWERTOOLS_SERVICE_NAME ?? 'run-watchdog'),
      metrics: createMetrics(env.POWERTOOLS_SERVICE_NAME ?? 'run-watchdog'),
      limits: {
        stoppedAfterSeconds: secondsFromEnv(env, 'STALL_AFTER_STOP_SECONDS', DEFAULT_WATCHDOG_LIMITS.stoppedAfterSeconds),
        recordingAfterSeconds: secondsFromEnv(env, 'STALL_AFTER_START_SECONDS', DEFAULT_WATCHDOG_LIMITS.recordingAfterSeconds),
      },
    });
  }
  return built(event, context);
};
