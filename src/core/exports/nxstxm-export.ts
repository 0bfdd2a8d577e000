/**
 * NXstxm export: one HDF5 file, the NXentry groups of every requested run in request order
 * (`entry1`, `entry2` …). Each run is classified (stxm-scan-types.ts), planned into entries
 * (stxm-plan.ts) and each entry carries what the NXstxm definition requires: title, start/end
 * time, definition; instrument with source, monochromator/energy (per point), the detector's
 * readings (per point, dtype unchanged) and the scanned positioners as NXdetector groups;
 * sample/rotation_angle; NXdata with stxm_scan_type, data reshaped onto the scan grid, energy,
 * sample_y, sample_x (+ the scan's own axes); control (NXmonitor) when the ring current was read at
 * every point; the baseline readings (start and stop values) in an NXcollection. docs/exports.md
 * gives the metadata convention. Each run is checked in stxm-run-context.ts; each entry's tree is
 * written by stxm-entry-writer.ts.
 */
import { itemSize, elementCount, type NdArray } from '../analysis/ndarray.js';
import { safeSegment } from '../object-keys.js';
import { ExportError, ExportRequestError } from './errors.js';
import { TreeBuilder } from './hdf5-tree.js';
import type { BuildExportOptions, ColumnData, ExportProduct, ExportRun } from './model.js';
import { planEntries, stxmGeometry } from './stxm-plan.js';
import { mergeStackRuns } from './stxm-stack-runs.js';
import { checkVaryingPositioners, contextOf, refuseLostPoints, requestError } from './stxm-run-context.js';
import { writeEntry } from './stxm-entry-writer.js';

/** Rows `points` of a `[N, ...]` array, as an array of shape `[...shape, ...point shape]` (default `[points.length]`). */
export function gatherRows(array: NdArray, points: readonly number[], shape: readonly number[] = [points.length]): NdArray {
  const rowBytes = elementCount(array.shape.slice(1)) * itemSize(array.dtype);
  const rows = array.shape[0] ?? 0;
  const outside = points.find((p) => !Number.isInteger(p) || p < 0 || p >= rows);
  if (outside !== undefined) throw new ExportError(`point ${outside} is outside an array of ${rows} points`, { index: outside });
  const bytes = new Uint8Array(points.length * rowBytes);
  points.forEach((p, i) => bytes.set(array.bytes.subarray(p * rowBytes, (p + 1) * rowBytes), i * rowBytes));
  return { dtype: array.dtype, shape: [...shape, ...array.shape.slice(1)], bytes };
}

/**
 * Every per-point dataset of an entry is a source over the runs' columns (stxm-columns.ts), read a
 * slice at a time while the tree writer fills it; stacks recorded as one run per image are joined
 * the same way (stxm-stack-runs.ts). Memory is a slice, whatever the size of the runs.
 */
export function buildNxstxmExport(runs: readonly ExportRun<ColumnData>[], options: BuildExportOptions): ExportProduct {
  if (runs.length === 0) throw new ExportRequestError('an NXstxm export needs at least one run', { format: 'nxstxm' });
  const seenUids = new Set<string>();
  for (const run of runs) {
    if (seenUids.has(run.uid)) throw new ExportRequestError(`run ${run.uid} is requested twice`, { runUid: run.uid, format: 'nxstxm' });
    seenUids.add(run.uid);
  }
  for (const run of runs) refuseLostPoints(run);
  const stacks = mergeStackRuns(runs);
  const contexts = stacks.runs.map(contextOf);
  const kinds = [...new Set(contexts.map((c) => c.info.nxstxm))];
  if (kinds.length > 1) {
    const list = contexts.map((c) => `${c.run.uid} (${c.scanType} → ${c.info.nxstxm})`).join(', ');
    throw new ExportRequestError(
      `these runs cannot share one NXstxm file: their stxm_scan_type differs (${list}); request one export per scan type`,
      { runUid: contexts.find((c) => c.info.nxstxm !== kinds[0])!.run.uid, format: 'nxstxm' },
    );
  }
  const fileName = `${safeSegment(options.exportId, 'export id')}.hdf5`;
  const t = new TreeBuilder({
    NX_class: 'NXroot',
    default: 'entry1',
    file_name: fileName,
    file_time: options.now.toISOString(),
    creator: options.creator,
  });
  const notes: string[] = [...stacks.notes];
  let n = 0;
  for (const ctx of contexts) {
    const points = ctx.detector.array.shape[0]!;
    if (points === 0) {
      throw requestError(
        ctx.run,
        `the primary stream has no points (the scan ended before its first point): there is no detector reading to put in an NXstxm entry`,
        { stream: 'primary' },
      );
    }
    const geometry = stxmGeometry(ctx.run, ctx.info, points);
    if (geometry.totalPoints !== points) {
      throw requestError(
        ctx.run,
        `the primary stream has ${points} points, the stxm metadata describes ${geometry.totalPoints} (${geometry.angles} angle(s) × ${geometry.energies} energies × ${geometry.polarizations} polarization(s) × ${geometry.blockPoints} points in the regions); an incomplete scan cannot fill the NXstxm grid`,
        { stream: 'primary' },
      );
    }
    checkVaryingPositioners(ctx, geometry);
    const entries = planEntries(geometry, ctx.info);
    const first = n + 1;
    for (const entry of entries) {
      n += 1;
      writeEntry(t, `/entry${n}`, ctx, entry, geometry.regions.length > 1, notes);
    }
    notes.push(
      `run ${ctx.run.uid} (${ctx.scanType} → ${ctx.info.nxstxm}): ${entries.length === 1 ? `entry${first}` : `entry${first}–entry${n}`}`,
    );
    // NXstxm has a place for the detector and the positioners only: say which readings are not in the file.
    const mapped = new Set([ctx.detector.dataKey, ...Object.values(ctx.positioners)]);
    const unmapped = ctx.primary.columns.map((c) => c.dataKey).filter((key) => !mapped.has(key));
    if (unmapped.length > 0) {
      notes.push(
        `run ${ctx.run.uid}: primary keys that are neither stxm.detector nor a positioner are not in the NXstxm file: ${unmapped.join(', ')} (a nexus export carries every key)`,
      );
    }
  }
  return { format: 'nxstxm', files: [{ name: fileName, kind: 'hdf5', tree: t.tree }], notes };
}
