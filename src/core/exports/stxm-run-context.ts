/**
 * One run of an NXstxm export, checked and ready to write (nxstxm-export.ts): its scan type, stxm
 * metadata, primary and baseline streams, detector and the positioners' logical names
 * (docs/exports.md); the checks that refuse a run the NXstxm grid cannot hold, and how a
 * positioner is read at a few points or at every point of an entry.
 */
import { elementCount, type NdArray } from '../analysis/ndarray.js';
import { missingPointsText } from '../nexus/layout.js';
import { ExportError, ExportRequestError } from './errors.js';
import type { ColumnData, ColumnSource, ExportColumn, ExportRun, ExportStream, Hdf5AttrValue } from './model.js';
import { checkColumn, findColumn, findStream, startKey } from './run-data.js';
import type { PlannedEntry } from './stxm-plan.js';
import { asFloat, asFloatData, gatherPoints, pointsArray, repeatFirst, subRanges } from './stxm-columns.js';
import { classifyRun, stxmMetadata, type ScanTypeInfo, type StxmScanType } from './stxm-scan-types.js';

/** The logical positioner names `stxm.positioners` may map (docs/exports.md). */
export const POSITIONER_NAMES = [
  'energy',
  'sample_x',
  'sample_y',
  'sample_z',
  'osa_x',
  'osa_y',
  'zoneplate_z',
  'detector_x',
  'detector_y',
  'goniometer_theta',
  'polarization',
  'ring_current',
] as const;

export interface RunContext {
  run: ExportRun<ColumnData>;
  scanType: StxmScanType;
  info: ScanTypeInfo;
  md: Record<string, unknown>;
  primary: ExportStream<ColumnData>;
  baseline: ExportStream<ColumnData> | undefined;
  detector: ExportColumn<ColumnData>;
  positioners: Record<string, string>;
}

export function requestError(run: ExportRun<ColumnData>, message: string, extra: Record<string, unknown> = {}): ExportRequestError {
  return new ExportRequestError(`run ${run.uid}: ${message}`, { runUid: run.uid, format: 'nxstxm', ...extra });
}

export function contextOf(run: ExportRun<ColumnData>): RunContext {
  const { scanType, info } = classifyRun(run);
  const md = stxmMetadata(run);
  const primary = findStream(run, 'primary');
  if (!primary) throw requestError(run, 'has no primary stream: an NXstxm entry needs the detector readings', { stream: 'primary' });
  const baseline = findStream(run, 'baseline');
  for (const stream of [primary, ...(baseline ? [baseline] : [])])
    for (const column of stream.columns) checkColumn(run, stream, column, 'nxstxm');
  const rawPositioners = md.positioners ?? {};
  if (
    typeof rawPositioners !== 'object' ||
    Array.isArray(rawPositioners) ||
    !Object.values(rawPositioners).every((v) => typeof v === 'string')
  ) {
    throw requestError(run, 'stxm.positioners must map logical names (energy, sample_x …) to data keys');
  }
  const positioners = rawPositioners as Record<string, string>;
  const unknown = Object.keys(positioners).filter((name) => !(POSITIONER_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw requestError(run, `stxm.positioners has unknown logical names ${unknown.join(', ')}; use ${POSITIONER_NAMES.join(', ')}`);
  const detectorKey = md.detector;
  if (typeof detectorKey !== 'string') throw requestError(run, 'stxm.detector (the primary data key of the detector) is required');
  const detector = findColumn(primary, detectorKey);
  if (!detector)
    throw requestError(
      run,
      `stxm.detector names ${JSON.stringify(detectorKey)}, which is not a key of the primary stream (keys: ${primary.columns.map((c) => c.dataKey).join(', ')})`,
      { stream: 'primary', key: detectorKey },
    );
  for (const [logical, key] of Object.entries(positioners)) {
    const column = findColumn(primary, key) ?? findColumn(baseline, key);
    if (!column)
      throw requestError(run, `stxm.positioners.${logical} names ${JSON.stringify(key)}, which is neither a primary nor a baseline key`, {
        key,
      });
    if (column.array.shape.length !== 1) throw requestError(run, `positioner ${logical} (${key}) is not one value per point`, { key });
    const points = detector.array.shape[0]!;
    if (findColumn(primary, key) && column.array.shape[0] !== points) {
      throw requestError(
        run,
        `positioner ${logical} (${key}) has ${column.array.shape[0]} points in the primary stream, the detector ${detectorKey} has ${points}; an NXstxm grid needs both at every point`,
        { stream: 'primary', key },
      );
    }
    if (!findColumn(primary, key) && column.array.shape[0] === 0)
      throw requestError(run, `positioner ${logical} (${key}) has no baseline reading`, { stream: 'baseline', key });
  }
  for (const needed of ['energy', 'sample_x', 'sample_y', info.x, info.y]) {
    if (!positioners[needed])
      throw requestError(
        run,
        `stxm.positioners.${needed} is required for a ${scanType} scan (NXstxm needs ${needed === 'energy' ? 'the photon energy' : `the ${needed} position`})`,
      );
  }
  return { run, scanType, info, md, primary, baseline, detector, positioners };
}

/** Values of a positioner at a few primary points (an axis, a first value): read at each point, else its baseline start value at each. */
export function positionerAt(ctx: RunContext, logical: string, points: readonly number[], shape?: readonly number[]): NdArray | undefined {
  const key = ctx.positioners[logical];
  if (!key) return undefined;
  const inPrimary = findColumn(ctx.primary, key);
  if (inPrimary) return asFloat(pointsArray(inPrimary.array, points, shape));
  const inBaseline = findColumn(ctx.baseline, key);
  return inBaseline
    ? asFloat(
        pointsArray(
          inBaseline.array,
          points.map(() => 0),
          shape,
        ),
      )
    : undefined;
}

/** Values of a positioner at every point of an entry, read slice by slice while they are written. */
export function positionerSeries(ctx: RunContext, logical: string, entry: PlannedEntry): NdArray | ColumnSource | undefined {
  const key = ctx.positioners[logical];
  if (!key) return undefined;
  const inPrimary = findColumn(ctx.primary, key);
  if (inPrimary) return asFloatData(gatherPoints(inPrimary.array, entry.ranges));
  const inBaseline = findColumn(ctx.baseline, key);
  return inBaseline ? asFloatData(repeatFirst(inBaseline.array, [elementCount(entry.shape)])) : undefined;
}

/** The primary point at a position of an entry's points. */
export function pointAt(entry: PlannedEntry, position: number): number {
  const [range] = subRanges(entry.ranges, position, position + 1);
  if (!range) throw new ExportError(`position ${position} is outside the entry's ${elementCount(entry.shape)} points`, { index: position });
  return range[0];
}

export function unitsOf(ctx: RunContext, logical: string, fallback?: string): Record<string, Hdf5AttrValue> {
  const key = ctx.positioners[logical];
  const units = (key ? (findColumn(ctx.primary, key) ?? findColumn(ctx.baseline, key)) : undefined)?.units ?? fallback;
  return units ? { units } : {};
}

export function stringMd(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The positioners that tell the entries (or the energy axis) apart — energy across energies,
 * polarization across polarizations, goniometer angle across angles — must be read at every point:
 * a baseline reading is one value for the whole run, and repeating it would label every energy,
 * polarization or angle with the first one.
 */
export function checkVaryingPositioners(ctx: RunContext, geometry: { energies: number; polarizations: number; angles: number }): void {
  const varying = [
    ['energy', geometry.energies, 'energies'],
    ['polarization', geometry.polarizations, 'polarizations'],
    ['goniometer_theta', geometry.angles, 'angles'],
  ] as const;
  for (const [logical, n, what] of varying) {
    if (n <= 1) continue;
    const key = ctx.positioners[logical];
    if (key === undefined) {
      if (logical === 'goniometer_theta') {
        throw requestError(
          ctx.run,
          `stxm.angles is ${n} but stxm.positioners.goniometer_theta is not set: each angle's entry needs its rotation_angle, read at every point`,
        );
      }
      continue;
    }
    if (!findColumn(ctx.primary, key)) {
      throw requestError(
        ctx.run,
        `stxm.${what} is ${n} but positioner ${logical} (${key}) is read only in the baseline, once for the whole run: the ${what} cannot be told apart; read ${key} at every point (primary stream), or record one run per image tied by stxm.stack`,
        { stream: 'primary', key },
      );
    }
  }
}

/** Points lost before archiving read as 0: an NXstxm grid of the detector or a positioner with such points would show readings never made. */
export function refuseLostPoints(run: ExportRun<ColumnData>): void {
  const md = startKey(run, 'stxm') as { detector?: unknown; positioners?: unknown } | undefined;
  const mapped = new Set([md?.detector, ...(md?.positioners && typeof md.positioners === 'object' ? Object.values(md.positioners) : [])]);
  for (const stream of run.streams) {
    for (const column of stream.columns) {
      // The detector and positioners fill the grid; every baseline key goes into the collection.
      if (column.missing?.length && (mapped.has(column.dataKey) || stream.name === 'baseline')) {
        throw requestError(
          run,
          `${stream.name} key ${column.dataKey} lost points ${missingPointsText(column.missing)} before archiving: an NXstxm grid cannot be filled without inventing them; export it as nexus or csv (they mark lost points)`,
          { stream: stream.name, key: column.dataKey },
        );
      }
    }
  }
}
