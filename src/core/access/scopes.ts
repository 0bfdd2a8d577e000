/** The access scope of the archive's records: datasets and runs (pure). */
import type { AccessScope } from './policy.js';
import { embargoEnd } from './policy.js';

/** A dataset is public `embargoYears` after its end date; an open dataset never. */
export function datasetScope(
  record: { ref: { proposal: string; beamline: string }; endDate?: string | undefined },
  embargoYears: number,
): AccessScope {
  return { proposal: record.ref.proposal, beamline: record.ref.beamline, publicFrom: embargoEnd(record.endDate, embargoYears) };
}

/** A run is public `embargoYears` after it ended (its start when no end was recorded). */
export function runScope(
  run: { dataPolicy?: { proposal: string; beamline: string } | undefined; endTime?: string | undefined; startTime?: string | undefined },
  embargoYears: number,
): AccessScope | undefined {
  if (!run.dataPolicy) return undefined;
  return {
    proposal: run.dataPolicy.proposal,
    beamline: run.dataPolicy.beamline,
    publicFrom: embargoEnd(run.endTime ?? run.startTime, embargoYears),
  };
}

/** `archive/<proposal>/<beamline>/…`: the scope of an archived file from its key (public never decided from a key alone). */
export function archiveKeyScope(key: string): AccessScope | undefined {
  const match = /^archive\/([^/]+)\/([^/]+)\//.exec(key);
  return match ? { proposal: match[1]!, beamline: match[2]! } : undefined;
}
