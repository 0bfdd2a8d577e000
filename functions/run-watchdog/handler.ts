/**
 * run-watchdog: finds the runs that are not terminal after a configurable time and marks them
 * STALLED with what is missing (src/core/archive/run-watchdog.ts), tags their staged objects,
 * announces Run Stalled (the notifier tells people) and counts them in the RunsStalled metric (an
 * alarm). Input: the EventBridge schedule (any event; the payload is not read). Configuration:
 * STALL_AFTER_STOP_SECONDS (default 7200) and STALL_AFTER_START_SECONDS (default 86400).
 */
import type { Context } from 'aws-lambda';
import type { Logger } from '../../src/adapters/logger.js';
import { MetricName, MetricUnit, type Metrics } from '../../src/adapters/metrics.js';
import {
  DEFAULT_WATCHDOG_LIMITS,
  watchRuns,
  type WatchdogDeps,
  type WatchdogLimits,
  type WatchdogReport,
} from '../../src/core/archive/run-watchdog.js';
import { composeRunWatchdog } from './compose.js';

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
    const report: WatchdogReport = await watchRuns(
      { ...deps, log: (message, context) => logger.info(message, context) },
      deps.limits ?? DEFAULT_WATCHDOG_LIMITS,
    );
    metrics?.addMetric(MetricName.RunsStalled, MetricUnit.Count, report.stalled.length);
    metrics?.addMetric(MetricName.RecordingRuns, MetricUnit.Count, report.checked);
    metrics?.publishStoredMetrics();
    for (const s of report.stalled) logger.error('run STALLED', { runUid: s.run_uid, reason: s.reason, missing: s.missing });
    logger.info('watchdog pass', { checked: report.checked, stalled: report.stalled.length, endedMeanwhile: report.endedMeanwhile.length });
    return { checked: report.checked, stalled: report.stalled.map((s) => s.run_uid), endedMeanwhile: report.endedMeanwhile };
  };
}

let built: ReturnType<typeof createHandler> | undefined;

/** The Lambda entry: clients and configuration are built once (compose.ts), on the first invocation. */
export const handler = async (event?: unknown, context?: Context): Promise<WatchdogResult> => {
  built ??= createHandler(composeRunWatchdog(process.env));
  return built(event, context);
};
