/**
 * The one metrics setup of the project: Powertools Metrics, CloudWatch embedded metric format (EMF)
 * lines in the function's log, namespace `BeamlineArchive`, dimension `service`. The alarms of the
 * compute stack read these metrics (docs/operations.md, "Metrics").
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export const METRICS_NAMESPACE = 'BeamlineArchive';

/** Metric names (the alarms in infra/ use the same constants). */
export const MetricName = {
  ScansArchived: 'ScansArchived',
  ScansFailed: 'ScansFailed',
  ArchivedBytes: 'ArchivedBytes',
  /** Seconds from the scan's end (RunStop) to its file being visible at its final key. */
  CloseToVisibleSeconds: 'CloseToVisibleSeconds',
  /** Scan files archived without their `<file>.index.json` (the indexer failed; the run is ARCHIVED all the same). */
  IndexesMissing: 'IndexesMissing',
  RunsStalled: 'RunsStalled',
  RecordingRuns: 'RecordingRuns',
  BridgeHeartbeats: 'BridgeHeartbeats',
  BridgeLagSeconds: 'BridgeLagSeconds',
  /** Bridge events refused because their source may not speak for their run's beamline (functions/shared/edge-source.ts). */
  BridgeEventsRefused: 'BridgeEventsRefused',
} as const;

export function createMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE, serviceName });
}

export { Metrics, MetricUnit };
