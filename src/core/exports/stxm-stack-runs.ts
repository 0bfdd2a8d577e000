/**
 * Image stacks recorded as one run per image (CLS pyStxm / suitcase-nxstxm style: each run one
 * energy and polarization of the stack, tied together by `img_idx_map`). Runs whose `stxm.stack`
 * names the same stack are merged into one run before planning: primary points concatenated in
 * (angle, energy, polarization) order, the baseline's start from the first run and its stop from
 * the last, times from the first start to the last stop. `stxm.stack` =
 * `{ id, energy, polarization?, angle? }` (0-based indices of this run's image in the stack).
 */
import type { NdArray } from '../analysis/ndarray.js';
import { readRows } from './column-source.js';
import { ExportRequestError } from './errors.js';
import type { ColumnData, ExportColumn, ExportRun, ExportStream } from './model.js';
import { findColumn, findStream, startKey } from './run-data.js';
import { concatColumns as concatData, repeatFirst } from './stxm-columns.js';

type Run = ExportRun<ColumnData>;
type Column = ExportColumn<ColumnData>;
type Stream = ExportStream<ColumnData>;

interface StackPart {
  run: Run;
  id: string;
  angle: number;
  energy: number;
  polarization: number;
}

function stackOf(run: Run): StackPart | undefined {
  const stxm = startKey(run, 'stxm') as Record<string, unknown> | undefined;
  const stack = stxm?.stack as Record<string, unknown> | undefined;
  if (!stack || typeof stack !== 'object') return undefined;
  const index = (name: string, required: boolean): number => {
    const value = stack[name] ?? (required ? undefined : 0);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ExportRequestError(
        `run ${run.uid}: stxm.stack.${name} must be a whole number ≥ 0 (this run's image index in the stack), not ${JSON.stringify(value)}`,
        { runUid: run.uid, format: 'nxstxm' },
      );
    }
    return value;
  };
  if (typeof stack.id !== 'string' || stack.id === '') {
    throw new ExportRequestError(`run ${run.uid}: stxm.stack.id (the stack this run's image belongs to) must be a non-empty string`, {
      runUid: run.uid,
      format: 'nxstxm',
    });
  }
  return { run, id: stack.id, angle: index('angle', false), energy: index('energy', true), polarization: index('polarization', false) };
}

/** A stream's columns of every part, one after the other: sources that read each part's rows in turn, a slice at a time. */
function concatColumns(parts: readonly StackPart[], stream: string, pick: (array: ColumnData, part: number) => ColumnData): Column[] {
  const streams = parts.map((p) => findStream(p.run, stream));
  const first = streams[0];
  if (!first) return [];
  return first.columns.map((column) => {
    const arrays = parts.map((p, i) => {
      const found = findColumn(streams[i], column.dataKey);
      if (!found) {
        throw new ExportRequestError(
          `run ${p.run.uid} of stack ${p.id} has no ${stream} key ${column.dataKey}, which run ${parts[0]!.run.uid} has: the runs of one stack must record the same keys`,
          { runUid: p.run.uid, stream, key: column.dataKey, format: 'nxstxm' },
        );
      }
      return pick(found.array, i);
    });
    try {
      return { ...column, array: concatData(arrays) };
    } catch (error) {
      throw new ExportRequestError(
        `stack ${parts[0]!.id}: ${stream} key ${column.dataKey} differs in dtype or point shape between its runs`,
        { runUid: parts[0]!.run.uid, stream, key: column.dataKey, format: 'nxstxm' },
        { cause: error },
      );
    }
  });
}

/** Row `index` of a column (negative: from the end) as a one-row array; no row of an empty column. */
function row(array: ColumnData, index: number): NdArray {
  const rows = array.shape[0] ?? 0;
  if (rows === 0) return { dtype: array.dtype, shape: [0, ...array.shape.slice(1)], bytes: new Uint8Array(0) };
  const at = index < 0 ? rows + index : index;
  const one = readRows(array, at, at + 1);
  return { ...one, bytes: one.bytes.slice() };
}

/** The logical positioners whose value tells the images of a stack apart. */
const IMAGE_POSITIONERS = ['energy', 'polarization', 'goniometer_theta'] as const;

/**
 * The energy, polarization or goniometer angle when the runs read it only in their baseline (set
 * once before each image) and their readings differ, as per-point primary columns: every point of
 * a run gets that run's start reading. Without this the merged run would carry the first run's
 * reading only, and every image of the stack would be labelled with the first energy, polarization
 * or angle. Readings equal in every run stay in the baseline (the start reading is right for all).
 */
function baselineOnlyPositioners(ordered: readonly StackPart[], baseStxm: Record<string, unknown>): Column[] {
  const base = ordered[0]!.run;
  const positioners = (baseStxm.positioners && typeof baseStxm.positioners === 'object' ? baseStxm.positioners : {}) as Record<
    string,
    unknown
  >;
  const primary = findStream(base, 'primary');
  const startBytes = (part: StackPart, key: string) => {
    const reading = findColumn(findStream(part.run, 'baseline'), key);
    return reading ? Buffer.from(row(reading.array, 0).bytes).toString('hex') : '';
  };
  const keys = [...new Set(IMAGE_POSITIONERS.map((logical) => positioners[logical]).filter((k): k is string => typeof k === 'string'))]
    .filter((key) => !findColumn(primary, key) && findColumn(findStream(base, 'baseline'), key))
    .filter((key) => new Set(ordered.map((part) => startBytes(part, key))).size > 1);
  const detector = typeof baseStxm.detector === 'string' ? baseStxm.detector : undefined;
  return keys.map((key) => {
    const arrays = ordered.map((part) => {
      const reading = findColumn(findStream(part.run, 'baseline'), key);
      if (!reading || (reading.array.shape[0] ?? 0) === 0) {
        throw new ExportRequestError(
          `run ${part.run.uid} of stack ${part.id} has no baseline reading of positioner ${key}, which run ${base.uid} reads in its baseline: the runs of one stack must record the same keys`,
          { runUid: part.run.uid, stream: 'baseline', key, format: 'nxstxm' },
        );
      }
      const runPrimary = findStream(part.run, 'primary');
      const points = (findColumn(runPrimary, detector ?? '') ?? runPrimary?.columns[0])?.array.shape[0] ?? 0;
      return repeatFirst(reading.array, [points]);
    });
    const first = findColumn(findStream(base, 'baseline'), key)!;
    try {
      return { ...first, array: concatData(arrays) };
    } catch (error) {
      throw new ExportRequestError(
        `stack ${ordered[0]!.id}: baseline key ${key} differs in dtype or point shape between its runs`,
        { runUid: base.uid, stream: 'baseline', key, format: 'nxstxm' },
        { cause: error },
      );
    }
  });
}

function mergeStack(parts: StackPart[]): Run {
  const id = parts[0]!.id;
  const axes = (pick: (p: StackPart) => number) => Math.max(...parts.map(pick)) + 1;
  const [angles, energies, polarizations] = [axes((p) => p.angle), axes((p) => p.energy), axes((p) => p.polarization)];
  const byIndex = new Map<string, StackPart>();
  for (const part of parts) {
    const key = `${part.angle}/${part.energy}/${part.polarization}`;
    const other = byIndex.get(key);
    if (other) {
      throw new ExportRequestError(
        `runs ${other.run.uid} and ${part.run.uid} both claim image (angle ${part.angle}, energy ${part.energy}, polarization ${part.polarization}) of stack ${id}`,
        { runUid: part.run.uid, format: 'nxstxm' },
      );
    }
    byIndex.set(key, part);
  }
  const ordered: StackPart[] = [];
  const missing: string[] = [];
  for (let a = 0; a < angles; a += 1) {
    for (let e = 0; e < energies; e += 1) {
      for (let p = 0; p < polarizations; p += 1) {
        const part = byIndex.get(`${a}/${e}/${p}`);
        if (part) ordered.push(part);
        else missing.push(`(angle ${a}, energy ${e}, polarization ${p})`);
      }
    }
  }
  if (missing.length > 0) {
    throw new ExportRequestError(
      `stack ${id} is incomplete: no run for image ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}; request every run of the stack`,
      { runUid: parts[0]!.run.uid, format: 'nxstxm' },
    );
  }
  const base = ordered[0]!.run;
  const baseStxm = startKey(base, 'stxm') as Record<string, unknown>;
  for (const part of ordered) {
    const stxm = startKey(part.run, 'stxm') as Record<string, unknown>;
    for (const key of ['scan_type', 'detector', 'regions', 'positioners'] as const) {
      if (JSON.stringify(stxm[key]) !== JSON.stringify(baseStxm[key])) {
        throw new ExportRequestError(
          `run ${part.run.uid} of stack ${id} has a different stxm.${key} than run ${base.uid}: the runs of one stack must share it`,
          { runUid: part.run.uid, format: 'nxstxm' },
        );
      }
    }
  }
  const primaryTimes = ordered.map((p) => findStream(p.run, 'primary')?.times);
  const primary: Stream = {
    name: 'primary',
    descriptor: findStream(base, 'primary')?.descriptor ?? {},
    columns: [...concatColumns(ordered, 'primary', (array) => array), ...baselineOnlyPositioners(ordered, baseStxm)],
    ...(primaryTimes.every((t) => t !== undefined) ? { times: Float64Array.from(primaryTimes.flatMap((t) => [...t!])) } : {}),
  };
  const streams: Stream[] = [primary];
  // Chronologically first and last runs: the stack's start and stop (baseline readings, times).
  const byTime = [...ordered].sort((x, y) => Number(x.run.start.time) - Number(y.run.start.time));
  const earliest = byTime[0]!.run;
  const latest = byTime[byTime.length - 1]!.run;
  if (findStream(base, 'baseline')) {
    const ends = [byTime[0]!, byTime[byTime.length - 1]!];
    const columns = concatColumns(ends, 'baseline', (array, i) => row(array, i === 0 ? 0 : -1));
    streams.push({ name: 'baseline', descriptor: findStream(base, 'baseline')!.descriptor, columns });
  }
  const { stack: _stack, ...stxm } = baseStxm;
  return {
    uid: base.uid,
    start: {
      ...base.start,
      time: earliest.start.time,
      stxm: { ...stxm, energies, polarizations, angles },
      stack_runs: ordered.map((p) => p.run.uid),
    },
    stop: latest.stop,
    streams,
  };
}

/** The runs with every stack's runs merged into one (at the place of its first run); other runs unchanged. */
export function mergeStackRuns(runs: readonly Run[]): { runs: Run[]; notes: string[] } {
  const parts = runs.map(stackOf);
  const groups = new Map<string, StackPart[]>();
  parts.forEach((p) => {
    if (p) groups.set(p.id, [...(groups.get(p.id) ?? []), p]);
  });
  const out: Run[] = [];
  const notes: string[] = [];
  const done = new Set<string>();
  runs.forEach((run, i) => {
    const part = parts[i];
    if (!part) {
      out.push(run);
      return;
    }
    if (done.has(part.id)) return;
    done.add(part.id);
    const merged = mergeStack(groups.get(part.id)!);
    notes.push(`stack ${part.id}: runs ${(merged.start.stack_runs as string[]).join(', ')} merged into one stack`);
    out.push(merged);
  });
  return { runs: out, notes };
}
