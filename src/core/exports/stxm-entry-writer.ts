/**
 * The tree of one NXstxm entry (nxstxm-export.ts): title, times and definition; the instrument
 * (source, monochromator, detector, positioners); the sample; NXdata on the scan grid with its axes;
 * control and the baseline collection.
 */
import { elementCount, type NdArray } from '../analysis/ndarray.js';
import { float64Array, TreeBuilder } from './hdf5-tree.js';
import type { ColumnSource, Hdf5AttrValue } from './model.js';
import { dimensionsOf } from './nexus-export.js';
import { beamlineOf, findColumn, isoTime, nexusName, runTitle, startKey } from './run-data.js';
import type { PlannedEntry } from './stxm-plan.js';
import { asFloat, asFloatData, gatherPoints, pointsArray, sumPoints, takeRanges } from './stxm-columns.js';
import {
  POSITIONER_NAMES,
  positionerAt,
  positionerSeries,
  pointAt,
  requestError,
  stringMd,
  unitsOf,
  type RunContext,
} from './stxm-run-context.js';

export function writeEntry(t: TreeBuilder, path: string, ctx: RunContext, entry: PlannedEntry, multi: boolean, notes: string[]): void {
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
