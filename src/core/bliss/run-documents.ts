/**
 * A BLISS scan's RunStart and RunStop: what scan_info says (identity, title, times, end reason,
 * ICAT snapshot) in the archive's documents. The source-neutral documents (descriptor, resources,
 * datums, run failed) are built by ../event-model/documents.ts.
 */
import { validateDetail } from '../contract/validators.js';
import { DetailType } from '../contract/detail-types.js';
import type { RunStart, RunStop } from '../contract/generated-types.js';
import { icatSnapshotOf } from '../event-model/documents.js';
import { PRIMARY, runStopUid } from '../event-model/uids.js';
import { dataPolicyOf } from '../object-keys.js';
import type { BlissScan } from './scan-model.js';

/** scan_info larger than this (JSON bytes) is left out of RunStart; RunStop points at the staged copy. */
export const MAX_INLINE_SCAN_INFO = 64 * 1024;

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** BLISS times are ISO strings; event-model wants epoch seconds. */
function epochSeconds(iso: unknown, fallback: number): number {
  if (typeof iso !== 'string') return fallback;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : fallback;
}

/** Units of a channel: the stream info's `unit`, else scan_info.channels[name].unit. */
export function unitsOf(scan: BlissScan, channel: string, streamInfo: Record<string, unknown>): string | undefined {
  const fromStream = str(streamInfo.unit) ?? str(streamInfo.units);
  if (fromStream) return fromStream;
  const channels = scan.info.channels as Record<string, { unit?: unknown }> | undefined;
  return str(channels?.[channel]?.unit);
}

export function runStartOf(scan: BlissScan, beamline: string, now: number): RunStart {
  const info = scan.info;
  const icat = icatSnapshotOf(info.dataset_metadata_snapshot);
  const scanInfoJson = JSON.stringify(info);
  const bliss: RunStart['bliss'] = {
    scan_key: scan.key,
    identity: scan.identity,
    title: str(info.title) ?? `${scan.identity.name} ${scan.identity.number}`,
    ...(str(info.type) ? { type: info.type as string } : {}),
    ...(Number.isSafeInteger(info.npoints) ? { npoints: info.npoints as number } : {}),
    ...(typeof info.count_time === 'number' && Number.isFinite(info.count_time) ? { count_time: info.count_time } : {}),
    ...(str(info.start_time) ? { start_time: info.start_time as string } : {}),
    ...(Buffer.byteLength(scanInfoJson) < MAX_INLINE_SCAN_INFO ? { scan_info: JSON.parse(scanInfoJson) as object } : {}),
  };
  const doc: RunStart = {
    uid: scan.uid,
    time: epochSeconds(info.start_time, now),
    scan_id: scan.identity.number,
    plan_name: str(info.type) ?? scan.identity.name,
    ...(icat.Sample_name ? { sample: icat.Sample_name } : {}),
    ...(scan.identity.proposal ? { project: scan.identity.proposal } : {}),
    ...(scan.identity.session ? { data_session: scan.identity.session } : {}),
    data_policy: dataPolicyOf(scan.identity, beamline),
    bliss,
    icat,
  };
  return validateDetail(DetailType.RunStart, doc);
}

/** event-model exit_status of a BLISS end_reason. */
export function exitStatusOf(endReason: unknown): RunStop['exit_status'] {
  const reason = typeof endReason === 'string' ? endReason.toUpperCase() : '';
  if (reason === 'SUCCESS') return 'success';
  if (reason === 'FAILURE' || reason === 'DELETION' || reason === '') return 'fail';
  return 'abort'; // USER_ABORT, KILLED and other interruptions
}

export interface RunEnd {
  points: Record<string, number>;
  documents: RunStop['bliss']['documents'];
  scanInfoRef: { bucket: string; key: string; bytes: number; sha256: string };
  /** Index ranges missing from Redis (trimmed), per stream. */
  gaps?: { stream: string; start: number; stop: number }[];
}

export function runStopOf(scan: BlissScan, end: RunEnd, now: number): RunStop {
  const info = scan.info;
  const endReason = str(info.end_reason);
  const maxPoints = Math.max(0, ...Object.values(end.points));
  return validateDetail(DetailType.RunStop, {
    uid: runStopUid(scan.uid),
    run_start: scan.uid,
    time: epochSeconds(info.end_time, now),
    exit_status: exitStatusOf(endReason),
    ...(endReason ? { reason: endReason } : { reason: 'no end_reason in scan_info' }),
    num_events: { [PRIMARY]: maxPoints },
    bliss: {
      ...(endReason ? { end_reason: endReason } : {}),
      ...(str(info.end_time) ? { end_time: info.end_time as string } : {}),
      points: end.points,
      documents: end.documents,
      scan_info_ref: end.scanInfoRef,
      ...(end.gaps && end.gaps.length > 0 ? { gaps: end.gaps } : {}),
    },
  } satisfies RunStop);
}
