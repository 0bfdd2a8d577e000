/**
 * The functions fed by bridge events (run-recorder, scan-writer, dataset-recorder) apply the edge's
 * source rule (src/core/access/edge-source.ts) here, before anything else reads the event: a bridge
 * event whose source does not speak for its run's beamline is refused with an
 * EventSourceRefusedError (permanent: parked in the function's DLQ with the reason by
 * sqsBatchHandler), logged, and counted (EMF metric BridgeEventsRefused, dimension `service`); the
 * run it names is never created, changed or failed by it. Runs before the schema check so that an
 * old bridge's plain source gets this reason, not a schema mismatch.
 */
import type { Logger } from '../../src/adapters/logger.js';
import { MetricName, MetricUnit, type Metrics } from '../../src/adapters/metrics.js';
import { decideBridgeSource, EventSourceRefusedError, isBridgeFamilySource } from '../../src/core/access/edge-source.js';
import { runUidOfBody } from './sqs-batch.js';

export interface EdgeCheck {
  logger: Logger;
  metrics?: Metrics | undefined;
  /** The data-policy beamline the catalogue holds for a run (its recorded RunStart), undefined when the run is not known. */
  recordedBeamline?: ((runUid: string) => Promise<string | undefined>) | undefined;
}

/** What an unvalidated RunStart claims: its data policy's beamline. */
function claimedBeamline(body: unknown): string | undefined {
  const detail = (body as { detail?: { data_policy?: { beamline?: unknown } } } | null)?.detail;
  const beamline = detail?.data_policy?.beamline;
  return typeof beamline === 'string' ? beamline : undefined;
}

/**
 * Throws EventSourceRefusedError when `body` is a bridge event (source `beamline-archive.bridge…`)
 * that may not speak for its run; events of other sources pass untouched (their IAM conditions
 * say who may send them).
 */
export async function checkEdgeSource(body: unknown, check: EdgeCheck): Promise<void> {
  const source = (body as { source?: unknown } | null)?.source;
  if (!isBridgeFamilySource(source)) return;
  const detailType = String((body as { 'detail-type'?: unknown } | null)?.['detail-type']).slice(0, 100);
  const runUid = runUidOfBody(body);
  const claimed = detailType === 'RunStart' ? claimedBeamline(body) : undefined;
  const decision = decideBridgeSource(source, { runUid, claimed });
  // The catalogue is asked only when the source itself is acceptable.
  const recorded = decision.allowed && runUid && check.recordedBeamline ? await check.recordedBeamline(runUid) : undefined;
  const final = recorded === undefined ? decision : decideBridgeSource(source, { runUid, claimed, recorded });
  if (final.allowed) return;
  check.logger.error('bridge event refused: its source may not speak for this run', {
    source: source.slice(0, 300),
    detailType,
    runUid,
    claimed,
    recorded,
    reason: final.reason,
  });
  if (check.metrics) {
    check.metrics.addMetric(MetricName.BridgeEventsRefused, MetricUnit.Count, 1);
    check.metrics.publishStoredMetrics();
  }
  throw new EventSourceRefusedError(final.reason, { source: source.slice(0, 300), detailType, ...(runUid ? { runUid } : {}) });
}

/**
 * The recorded beamline of runs, remembered per container: a run's data policy never changes once
 * its RunStart is recorded, and a run's documents come by the hundred.
 */
export function cachedRecordedBeamline(
  getRun: (runUid: string) => Promise<{ dataPolicy?: { beamline: string } | undefined } | undefined>,
  max = 10_000,
) {
  const known = new Map<string, string>();
  return async (runUid: string): Promise<string | undefined> => {
    const hit = known.get(runUid);
    if (hit !== undefined) return hit;
    const beamline = (await getRun(runUid))?.dataPolicy?.beamline;
    if (beamline !== undefined) {
      if (known.size >= max) known.delete(known.keys().next().value as string);
      known.set(runUid, beamline);
    }
    return beamline;
  };
}
