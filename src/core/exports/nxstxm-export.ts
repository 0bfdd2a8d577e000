/**
 * NXstxm export: one HDF5 file, the NXentry groups of every requested run in request order
 * (`entry1`, `entry2` …). Each run is classified (stxm-scan-types.ts), planned into entries
 * (stxm-plan.ts) and each entry carries what the NXstxm definition requires: title, start/end
 * time, definition; instrument with source, monochromator/energy (per point), the detector's
 * readings (per point, dtype unchanged) and the scanned positioners as NXdetector groups;
 * sample/rotation_angle; NXdata with stxm_scan_type, data reshaped onto the scan grid, energy,
 * sample_y, sample_x (+ the scan's own axes); control (NXmonitor) when the ring current was read at
 * every point; the baseline readings (start and stop values) in an NXcollection. docs/exports.md
 * gives the metadata convention.
 */
import { itemSize, elementCount, type NdArray } from '../analysis/ndarray.js';
import { missingPointsText } from '../nexus/layout.js';
import { safeSegment } from '../object-keys.js';
import { ExportError, ExportRequestError } from './errors.js';
import { float64Array, TreeBuilder } from './hdf5-tree.js';
import type {
  BuildExportOptions,
  ColumnData,
  ColumnSource,
  ExportColumn,
  ExportProduct,
  ExportRun,
  ExportStream,
  Hdf5AttrValue,
} from './model.js';
import { dimensionsOf } from './nexus-export.js';
import { beamlineOf, checkColumn, findColumn, findStream, isoTime, nexusName, runTitle, startKey } from './run-data.js';
import { planEntries, stxmGeometry, type PlannedEntry } from './stxm-plan.js';
import { mergeStackRuns } from './stxm-stack-runs.js';
import { asFloat, asFloatData, gatherPoints, pointsArray, repeatFirst, subRanges, sumPoints, takeRanges } from './stxm-columns.js';
import { classifyRun, stxmMetadata, type ScanTypeInfo, type StxmScanType } from './stxm-scan-types.js';

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

interface RunContext {
  run: ExportRun<ColumnData>;
  scanType: StxmScanType;
  info: ScanTypeInfo;
  md: Record<string, unknown>;
  primary: ExportStream<ColumnData>;
  baseline: ExportStream<ColumnData> | undefined;
  detector: ExportColumn<ColumnData>;
  positioners: Record<string, string>;
}

function requestError(run: ExportRun<ColumnData>, message: string, extra: Record<string, unknown> = {}): ExportRequestError {
  return new ExportRequestError(`run ${run.uid}: ${message}`, { runUid: run.uid, format: 'nxstxm', ...extra });
}

function contextOf(run: ExportRun<ColumnData>): RunContext {
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
function positionerAt(ctx: RunContext, logical: string, points: readonly number[], shape?: readonly number[]): NdArray | undefined {
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
function positionerSeries(ctx: RunContext, logical: string, entry: PlannedEntry): NdArray | ColumnSource | undefined {
  const key = ctx.positioners[logical];
  if (!key) return undefined;
  const inPrimary = findColumn(ctx.primary, key);
  if (inPrimary) return asFloatData(gatherPoints(inPrimary.array, entry.ranges));
  const inBaseline = findColumn(ctx.baseline, key);
  return inBaseline ? asFloatData(repeatFirst(inBaseline.array, [elementCount(entry.shape)])) : undefined;
}

/** The primary point at a position of an entry's points. */
function pointAt(entry: PlannedEntry, position: number): number {
  const [range] = subRanges(entry.ranges, position, position + 1);
  if (!range) throw new ExportError(`position ${position} is outside the entry's ${elementCount(entry.shape)} points`, { index: position });
  return range[0];
}

function unitsOf(ctx: RunContext, logical: string, fallback?: string): Record<string, Hdf5AttrValue> {
  const key = ctx.positioners[logical];
  const units = (key ? (findColumn(ctx.primary, key) ?? findColumn(ctx.baseline, key)) : undefined)?.units ?? fallback;
  return units ? { units } : {};
}

function stringMd(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function writeEntry(t: TreeBuilder, path: string, ctx: RunContext, entry: PlannedEntry, multi: boolean, notes: string[]): void {
  const { run, info, md, detector } = ctx;
  const regionShape = entry.shape.slice(info.energyAxis ? 1 : 0);
  const regionSize = elementCount(regionShape);
  const first = pointAt(entry, 0);
  t.group(path, 'NXentry', { default: 'data' });
  const where = [
    multi ? `region ${entry.region + 1}` : '',
    ctx.md.polarizations !== undefined && Number(ctx.md.polarizations) > 1 ? `polarization ${entry.polarization + 1}` : '',
    info.perAngle ? `angle ${entry.angle + 1}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  t.dataset(`${path}/title`, where ? `${runTitle(run)} (${where})` : runTitle(run));
  t.dataset(`${path}/entry_identifier`, run.uid);
  const stackRuns = run.start.stack_runs;
  if (Array.isArray(stackRuns)) {
    const note = t.group(`${path}/notes`, 'NXnote');
    t.dataset(
      `${note}/description`,
      `image stack recorded as ${stackRuns.length} runs (angle, energy, polarization order): ${stackRuns.join(', ')}`,
    );
  }
  const start = isoTime(run.start.time);
  const times = ctx.primary.times;
  const end = isoTime(run.stop?.time) ?? (times && times.length > 0 ? isoTime(times[times.length - 1]) : undefined);
  if (!start || !end)
    throw requestError(run, 'has no start time (RunStart time) or no end time (RunStop time, or event times): NXstxm requires both');
  t.dataset(`${path}/start_time`, start);
  t.dataset(`${path}/end_time`, end);
  t.dataset(`${path}/definition`, 'NXstxm');

  // Instrument: source, monochromator, detector and positioner readings at each point of the entry.
  const instrument = t.group(`${path}/instrument`, 'NXinstrument');
  const sourceMd = (md.source && typeof md.source === 'object' ? md.source : {}) as Record<string, unknown>;
  const sourceName = stringMd(sourceMd.name) ?? stringMd(startKey(run, 'facility')) ?? beamlineOf(run);
  if (!sourceName)
    throw requestError(run, 'the source has no name: set stxm.source.name (or facility / beamline_id in the start document)');
  const source = t.group(`${instrument}/source`, 'NXsource');
  t.dataset(`${source}/type`, stringMd(sourceMd.type) ?? 'Synchrotron X-ray Source');
  t.dataset(`${source}/name`, sourceName);
  t.dataset(`${source}/probe`, stringMd(sourceMd.probe) ?? 'x-ray');
  const ringKey = ctx.positioners.ring_current;
  const ringStart = ringKey ? (findColumn(ctx.baseline, ringKey) ?? findColumn(ctx.primary, ringKey)) : undefined;
  if (ringStart && (ringStart.array.shape[0] ?? 0) > 0)
    t.dataset(`${source}/current`, asFloat(pointsArray(ringStart.array, [0], [])), unitsOf(ctx, 'ring_current', 'mA'));

  const mono = t.group(`${instrument}/monochromator`, 'NXmonochromator');
  t.dataset(`${mono}/energy`, positionerSeries(ctx, 'energy', entry)!, unitsOf(ctx, 'energy', 'eV'));
  const detectorName = ['source', 'monochromator', 'epu_polarization', ...POSITIONER_NAMES].includes(nexusName(detector.dataKey))
    ? 'detector'
    : nexusName(detector.dataKey);
  const det = t.group(`${instrument}/${detectorName}`, 'NXdetector');
  const padding: Record<string, Hdf5AttrValue> = detector.pointShapes
    ? {
        fill_value: detector.fillValue ?? 0,
        padding: `points of ${detector.dataKey} changed shape: each is padded with ${String(detector.fillValue ?? 0)} to the largest; point_shape holds each point's own shape`,
      }
    : {};
  t.dataset(`${det}/data`, gatherPoints(detector.array, entry.ranges), {
    data_key: detector.dataKey,
    ...(detector.units ? { units: detector.units } : { units: 'counts' }),
    ...padding,
  });
  if (detector.pointShapes) {
    t.dataset(`${det}/point_shape`, gatherPoints(detector.pointShapes, entry.ranges), {
      long_name: `shape of each point of ${detector.dataKey} (without padding)`,
    });
    notes.push(
      `${path} (run ${run.uid}): ${detector.dataKey} is padded to its largest point shape (${String(detector.fillValue ?? 0)}); ${detectorName}/point_shape gives each point's own shape and data/data sums only the values inside it`,
    );
  }
  for (const [logical, key] of Object.entries(ctx.positioners)) {
    if (logical === 'energy' || logical === 'ring_current' || logical === 'polarization' || !findColumn(ctx.primary, key)) continue;
    const g = t.group(`${instrument}/${nexusName(logical)}`, 'NXdetector');
    t.dataset(`${g}/data`, positionerSeries(ctx, logical, entry)!, { data_key: key, ...unitsOf(ctx, logical) });
  }
  if (ctx.positioners.polarization) {
    const pol = t.group(`${instrument}/epu_polarization`, 'NXpositioner');
    t.dataset(`${pol}/value`, positionerAt(ctx, 'polarization', [first], [])!, {
      data_key: ctx.positioners.polarization,
      ...unitsOf(ctx, 'polarization'),
    });
  }

  // Sample: the goniometer angle of this entry (tomography), else the recorded angle, else 0.
  const sample = t.group(`${path}/sample`, 'NXsample');
  const theta = positionerAt(ctx, 'goniometer_theta', [first], []);
  const rotation = theta ?? (typeof md.rotation_angle === 'number' ? float64Array([md.rotation_angle], []) : undefined);
  if (!rotation)
    notes.push(`${path} (run ${run.uid}): no goniometer_theta positioner and no stxm.rotation_angle: sample/rotation_angle is 0`);
  t.dataset(
    `${sample}/rotation_angle`,
    rotation ?? float64Array([0], []),
    theta ? unitsOf(ctx, 'goniometer_theta', 'degrees') : { units: 'degrees' },
  );

  // NXdata: the detector on the scan grid with its axes.
  const data = t.group(`${path}/data`, 'NXdata');
  t.dataset(`${data}/stxm_scan_type`, info.nxstxm);
  // Read a slice at a time while it is written: the readings on the grid, or each point's sum.
  const signal =
    detector.array.shape.length === 1
      ? gatherPoints(detector.array, entry.ranges, entry.shape)
      : sumPoints(detector.array, entry.ranges, entry.shape, detector.pointShapes);
  t.dataset(
    `${data}/data`,
    signal,
    detector.array.shape.length === 1
      ? { data_key: detector.dataKey }
      : {
          data_key: detector.dataKey,
          long_name: `sum of the ${elementCount(detector.array.shape.slice(1))} values of ${detector.dataKey} per point`,
        },
  );
  const axes: string[] = [];
  const indices: Record<string, Hdf5AttrValue> = {};
  const axis = (name: string, values: NdArray | ColumnSource, dim: number, attrs: Record<string, Hdf5AttrValue>) => {
    if (!t.has(`${data}/${name}`)) t.dataset(`${data}/${name}`, values, attrs);
    indices[`${name}_indices`] = dim;
  };
  // The first region block of an entry is one range of points: its k-th point is first + k.
  const regionPoint = (k: number) => first + k;
  const energyFirsts = Array.from({ length: entry.energyCount }, (_, e) => pointAt(entry, e * regionSize));
  let dim = 0;
  if (info.energyAxis) {
    axis('energy', positionerAt(ctx, 'energy', energyFirsts)!, dim, unitsOf(ctx, 'energy', 'eV'));
    axes.push('energy');
    dim += 1;
  }
  switch (info.region) {
    case 'image': {
      const [ny, nx] = regionShape as [number, number];
      const yName = info.y;
      const xName = info.x;
      axis(
        yName,
        positionerAt(
          ctx,
          info.y,
          Array.from({ length: ny }, (_, i) => regionPoint(i * nx)),
        )!,
        dim,
        unitsOf(ctx, info.y),
      );
      axis(
        xName,
        positionerAt(
          ctx,
          info.x,
          Array.from({ length: nx }, (_, i) => regionPoint(i)),
        )!,
        dim + 1,
        unitsOf(ctx, info.x),
      );
      axes.push(yName, xName);
      break;
    }
    case 'line':
    case 'focus': {
      const [nz, n] = info.region === 'focus' ? (regionShape as [number, number]) : [1, regionShape[0]!];
      if (info.region === 'focus') {
        const zKey = ctx.positioners.zoneplate_z;
        if (!zKey) throw requestError(run, 'stxm.positioners.zoneplate_z is required for a focus scan');
        axis(
          'zoneplate_z',
          positionerAt(
            ctx,
            'zoneplate_z',
            Array.from({ length: nz }, (_, k) => regionPoint(k * n)),
          )!,
          dim,
          unitsOf(ctx, 'zoneplate_z'),
        );
        axes.push('zoneplate_z');
        dim += 1;
      }
      axis('line_position', float64Array(Array.from({ length: n }, (_, i) => i)), dim, {});
      axes.push('line_position');
      const line = Array.from({ length: n }, (_, i) => regionPoint(i));
      axis(info.y, positionerAt(ctx, info.y, line)!, dim, unitsOf(ctx, info.y));
      axis(info.x, positionerAt(ctx, info.x, line)!, dim, unitsOf(ctx, info.x));
      break;
    }
    case 'point':
      break;
    case 'generic': {
      const key = stringMd(md.scanned) ?? dimensionsOf(run.start).flatMap((d) => d.fields)[0];
      const column = key ? findColumn(ctx.primary, key) : undefined;
      if (!key || !column)
        throw requestError(run, 'a generic scan needs its scanned positioner: stxm.scanned (a primary data key) or hints.dimensions');
      const logical = Object.entries(ctx.positioners).find(([, k]) => k === key)?.[0];
      const name = logical === 'energy' || logical === 'sample_x' || logical === 'sample_y' ? logical : nexusName(key);
      axis(
        name,
        asFloatData(gatherPoints(column.array, takeRanges(entry.ranges, regionSize))),
        dim,
        column.units ? { units: column.units } : {},
      );
      axes.push(name);
      break;
    }
  }
  // The required fields not scanned in this entry: their value at the entry's first point (or the baseline's).
  for (const name of ['energy', 'sample_y', 'sample_x']) {
    if (!t.has(`${data}/${name}`))
      t.dataset(`${data}/${name}`, positionerAt(ctx, name, [first])!, unitsOf(ctx, name, name === 'energy' ? 'eV' : undefined));
  }
  t.setGroupAttrs(data, { signal: 'data', axes: axes.length > 0 ? axes : ['.'], ...indices });

  const ring = ringKey ? findColumn(ctx.primary, ringKey) : undefined;
  if (ring) {
    const control = t.group(`${path}/control`, 'NXmonitor');
    t.dataset(`${control}/data`, asFloatData(gatherPoints(ring.array, entry.ranges, entry.shape)), {
      data_key: ring.dataKey,
      ...unitsOf(ctx, 'ring_current', 'mA'),
    });
  }

  if (ctx.baseline && ctx.baseline.columns.length > 0) {
    const collection = t.group(`${path}/collection`, 'NXcollection', {
      stream: 'baseline',
      description: 'baseline readings: first at the start of the run, last at its end',
    });
    const used = new Set<string>();
    for (const column of ctx.baseline.columns) {
      let name = nexusName(column.dataKey);
      for (let n = 2; used.has(name); n += 1) name = `${nexusName(column.dataKey)}_${n}`;
      used.add(name);
      t.dataset(`${collection}/${name}`, column.array, { data_key: column.dataKey, ...(column.units ? { units: column.units } : {}) });
    }
  }
}

/**
 * The positioners that tell the entries (or the energy axis) apart — energy across energies,
 * polarization across polarizations, goniometer angle across angles — must be read at every point:
 * a baseline reading is one value for the whole run, and repeating it would label every energy,
 * polarization or angle with the first one.
 */
function checkVaryingPositioners(ctx: RunContext, geometry: { energies: number; polarizations: number; angles: number }): void {
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
function refuseLostPoints(run: ExportRun<ColumnData>): void {
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
