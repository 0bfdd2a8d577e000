/**
 * NeXus export: one HDF5 file, one NXentry per run (`entry1`, `entry2` … in request order). Each
 * stream is an NXcollection holding every data key exactly as archived (dtype and shape
 * unchanged; the original key in the `data_key` attribute, units and source when known),
 * `seq_num` and `time`. The default plot `data` (NXdata) follows the run's hints: the signal is
 * the first hinted field of the primary stream that is not a dimension, the axis the start
 * document's single dimension field (`hints.dimensions`); a BLISS run (no hints) plots its first
 * counter against its first positioner (`bliss_role`). NXdata links to the collection's datasets.
 * Columns read from the archived file stay `ColumnSource`s in the tree: the HDF5 writer copies them
 * a slice at a time, so the file can be of any size.
 */
import { safeSegment } from '../object-keys.js';
import { ExportRequestError } from './errors.js';
import { sequenceSource } from './column-source.js';
import { float64Array, int64Array, TreeBuilder } from './hdf5-tree.js';
import type { BuildExportOptions, ColumnData, ExportProduct, ExportRun, ExportStream, Hdf5AttrValue } from './model.js';
import { checkColumn, isoTime, nexusName, runTitle } from './run-data.js';
import { missingPointsText } from '../nexus/layout.js';
import { fillValueOf } from '../nexus/dtypes.js';
import { DTYPES, type NdArray } from '../analysis/ndarray.js';

/** Fields the descriptor hints name, in order (`hints: {det: {fields: ['det']}}`). */
export function hintedFields(descriptor: Record<string, unknown>): string[] {
  const hints = descriptor.hints;
  if (!hints || typeof hints !== 'object') return [];
  return Object.values(hints as Record<string, unknown>).flatMap((h) => {
    const fields = (h as { fields?: unknown } | null)?.fields;
    return Array.isArray(fields) ? fields.filter((f): f is string => typeof f === 'string') : [];
  });
}

/** The start document's `hints.dimensions` as [fields, stream] pairs. */
export function dimensionsOf(start: Record<string, unknown>): { fields: string[]; stream: string }[] {
  // Archived Bluesky runs keep the start document's hints under `bluesky.hints`.
  const hints = start.hints ?? (start.bluesky as { hints?: unknown } | undefined)?.hints;
  const dims = (hints as { dimensions?: unknown } | undefined)?.dimensions;
  if (!Array.isArray(dims)) return [];
  return dims.flatMap((d) => {
    if (!Array.isArray(d) || !Array.isArray(d[0]) || typeof d[1] !== 'string') return [];
    return [{ fields: (d[0] as unknown[]).filter((f): f is string => typeof f === 'string'), stream: d[1] }];
  });
}

/** The `bliss_role` a BLISS descriptor gives a data key (positioner, counter, timer, spectrum, image), if any. */
function blissRole(stream: ExportStream<ColumnData>, key: string): unknown {
  const keys = stream.descriptor.data_keys as Record<string, { bliss_role?: unknown } | undefined> | undefined;
  return keys?.[key]?.bliss_role;
}

/**
 * The plot of a run: signal and (at most one) axis key of its primary stream. From the hints
 * when the run has them (Bluesky); else, for a BLISS run, the first counter (else spectrum, image)
 * against the first positioner; else the first key that is not a dimension.
 */
export function plotOf<A extends ColumnData>(
  run: ExportRun<A>,
): { stream: ExportStream<A>; signal: string; axis?: string | undefined } | undefined {
  const stream = run.streams.find((s) => s.name === 'primary') ?? run.streams[0];
  if (!stream) return undefined;
  const keys = new Set(stream.columns.map((c) => c.dataKey));
  const dims = dimensionsOf(run.start).filter((d) => d.stream === stream.name);
  const dimFields = new Set(dims.flatMap((d) => d.fields));
  const byRole = (role: string) => stream.columns.find((c) => blissRole(stream, c.dataKey) === role)?.dataKey;
  const signal =
    hintedFields(stream.descriptor).find((f) => keys.has(f) && !dimFields.has(f)) ??
    byRole('counter') ??
    byRole('spectrum') ??
    byRole('image') ??
    stream.columns.find((c) => !dimFields.has(c.dataKey) && blissRole(stream, c.dataKey) !== 'positioner')?.dataKey ??
    stream.columns.find((c) => !dimFields.has(c.dataKey))?.dataKey;
  if (!signal) return undefined;
  const axis =
    dims.length === 1 && dims[0]!.fields.length === 1 && keys.has(dims[0]!.fields[0]!)
      ? dims[0]!.fields[0]
      : dims.length === 0
        ? byRole('positioner')
        : undefined;
  return { stream, signal, axis };
}

function uniqueNames(keys: readonly string[], reserved: readonly string[]): Map<string, string> {
  const used = new Set(reserved);
  const names = new Map<string, string>();
  for (const key of keys) {
    const base = nexusName(key);
    let name = base;
    for (let n = 2; used.has(name); n += 1) name = `${base}_${n}`;
    used.add(name);
    names.set(key, name);
  }
  return names;
}

export function buildNexusExport(runs: readonly ExportRun<ColumnData>[], options: BuildExportOptions): ExportProduct {
  const fileName = `${safeSegment(options.exportId, 'export id')}.nxs`;
  const t = new TreeBuilder({
    NX_class: 'NXroot',
    file_name: fileName,
    file_time: options.now.toISOString(),
    creator: options.creator,
    default: 'entry1',
  });
  const notes: string[] = [];
  const seen = new Set<string>();
  runs.forEach((run, i) => {
    if (seen.has(run.uid))
      throw new ExportRequestError(`run ${run.uid} is requested twice: one entry per run`, { runUid: run.uid, format: 'nexus' });
    seen.add(run.uid);
    const entry = t.group(`/entry${i + 1}`, 'NXentry');
    t.dataset(`${entry}/title`, runTitle(run));
    t.dataset(`${entry}/entry_identifier`, run.uid);
    const start = isoTime(run.start.time);
    if (start) t.dataset(`${entry}/start_time`, start);
    const end = isoTime(run.stop?.time);
    if (end) t.dataset(`${entry}/end_time`, end);
    if (typeof run.stop?.exit_status === 'string') {
      const note = t.group(`${entry}/notes`, 'NXnote');
      t.dataset(
        `${note}/description`,
        `exit_status: ${run.stop.exit_status}${typeof run.stop.reason === 'string' && run.stop.reason ? ` (${run.stop.reason})` : ''}`,
      );
    }
    t.dataset(`${entry}/program_name`, options.creator);

    const streamNames = uniqueNames(
      run.streams.map((s) => s.name),
      ['title', 'entry_identifier', 'start_time', 'end_time', 'notes', 'program_name', 'data'],
    );
    const paths = new Map<string, Map<string, string>>();
    for (const stream of run.streams) {
      const group = t.group(`${entry}/${streamNames.get(stream.name)!}`, 'NXcollection', { stream: stream.name });
      const names = uniqueNames(
        stream.columns.map((c) => c.dataKey),
        ['seq_num', 'time'],
      );
      // Keys padded to their largest point shape (free dimensions): each point's real shape beside them.
      const shapeNames = uniqueNames(
        stream.columns.filter((c) => c.pointShapes).map((c) => `${c.dataKey}_point_shape`),
        ['seq_num', 'time', ...names.values()],
      );
      const byKey = new Map<string, string>();
      for (const column of stream.columns) {
        checkColumn(run, stream, column, 'nexus');
        const attrs: Record<string, Hdf5AttrValue> = { data_key: column.dataKey };
        if (column.units) attrs.units = column.units;
        if (column.source) attrs.source = column.source;
        // Like the scan file: lost points hold the fill value (export-loader withFillAt) and are listed, so a reader never takes them for readings.
        if (column.missing?.length) {
          attrs.missing_points = missingPointsText(column.missing);
          const fill = missingFillAttr(column.array.dtype);
          if (fill !== undefined) attrs._FillValue = fill;
          notes.push(
            `entry${i + 1} (run ${run.uid}), ${stream.name}/${column.dataKey}: points ${attrs.missing_points} were lost before archiving ` +
              `(${fill === undefined || Number.isNaN(fill) ? 'NaN' : String(fill)} in the file, listed in its missing_points attribute and in ${names.get(column.dataKey)!}_missing_points)`,
          );
        }
        if (column.pointShapes) {
          const shapesName = shapeNames.get(`${column.dataKey}_point_shape`)!;
          const largest = column.array.shape.slice(1);
          attrs.fill_value = column.fillValue ?? 0;
          attrs.point_shape = shapesName;
          attrs.padding = `points smaller than [${largest.join(', ')}] are padded at the end of each dimension with fill_value; ${shapesName} holds the shape of each point`;
          notes.push(
            `entry${i + 1} (run ${run.uid}), ${stream.name}/${column.dataKey}: its points changed shape; they are padded to [${largest.join(', ')}] with ${String(attrs.fill_value)}, each point's shape in ${shapesName}`,
          );
        }
        byKey.set(column.dataKey, t.dataset(`${group}/${names.get(column.dataKey)!}`, column.array, attrs));
        if (column.missing?.length) {
          const ranges = [...column.missing].sort((a, b) => a[0] - b[0]);
          t.dataset(
            `${group}/${names.get(column.dataKey)!}_missing_points`,
            int64Array(
              ranges.flatMap(([a, b]) => [a, b]),
              [ranges.length, 2],
            ),
            { long_name: `point ranges [start, stop) of ${names.get(column.dataKey)!} lost before archiving` },
          );
        }
        if (column.pointShapes) {
          t.dataset(`${group}/${shapeNames.get(`${column.dataKey}_point_shape`)!}`, column.pointShapes, {
            long_name: `shape of each point of ${names.get(column.dataKey)!} (without padding)`,
          });
        }
      }
      const points =
        stream.columns.length > 0 ? Math.max(...stream.columns.map((c) => c.array.shape[0] ?? 0)) : (stream.times?.length ?? 0);
      // Computed a slice at a time while it is written: a stream of any length costs no memory here.
      t.dataset(`${group}/seq_num`, sequenceSource(points));
      if (stream.times)
        t.dataset(`${group}/time`, float64Array([...stream.times]), {
          units: 's',
          long_name: 'event time (seconds since 1970-01-01T00:00:00Z)',
        });
      paths.set(stream.name, byKey);
    }

    const plot = plotOf(run);
    if (!plot) {
      notes.push(`entry${i + 1} (run ${run.uid}): no data to plot, no default NXdata`);
      return;
    }
    const byKey = paths.get(plot.stream.name)!;
    const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
    const signalName = baseName(byKey.get(plot.signal)!);
    const signalColumn = plot.stream.columns.find((c) => c.dataKey === plot.signal)!;
    const attrs: Record<string, Hdf5AttrValue> = { signal: signalName };
    const axisName = plot.axis ? baseName(byKey.get(plot.axis)!) : undefined;
    const rank = signalColumn.array.shape.length;
    if (plot.axis && axisName !== signalName) attrs.axes = [axisName!, ...Array<string>(rank - 1).fill('.')];
    else attrs.axes = Array<string>(rank).fill('.');
    if (!plot.axis && dimensionsOf(run.start).length > 1)
      notes.push(
        `entry${i + 1} (run ${run.uid}): a scan over ${dimensionsOf(run.start).length} dimensions is plotted against the point number`,
      );
    const data = t.group(`${entry}/data`, 'NXdata', attrs);
    t.link(`${data}/${signalName}`, byKey.get(plot.signal)!);
    if (plot.axis && axisName !== signalName) t.link(`${data}/${axisName!}`, byKey.get(plot.axis)!);
    t.setGroupAttrs(entry, { default: 'data' });
  });
  if (runs.length === 0) throw new ExportRequestError('a NeXus export needs at least one run', { format: 'nexus' });
  return { format: 'nexus', files: [{ name: fileName, kind: 'hdf5', tree: t.tree }], notes };
}

/** `_FillValue` of a column with lost points, when a number holds it exactly (not for uint64, whose fill is 2^64 − 1). */
function missingFillAttr(dtype: NdArray['dtype']): number | undefined {
  const { kind, size } = DTYPES[dtype];
  if (kind === 'f') return Number.NaN;
  if (kind === 'b' || (kind === 'u' && size === 8)) return undefined;
  const value = fillValueOf({ numpy: dtype, kind: kind === 'i' ? 'int' : 'uint', size });
  return Number(value);
}
