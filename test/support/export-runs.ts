/**
 * Bluesky documents (as a RunEngine emitted them, JSON lines of {name, doc}) → the export model's
 * ExportRun: one ExportStream per descriptor, a column per data key from the events or event
 * pages in seq_num order, dtype from the key's `dtype_numpy` when given, else from the event-model
 * `dtype` (number → <f8, integer → <i8, boolean → |b1, array → inferred from the values).
 */
import { readFileSync } from 'node:fs';
import { parseDtype, stackPoints, type Dtype, type PointValue } from '../../src/core/analysis/ndarray.js';
import type { ExportRun, ExportStream } from '../../src/core/exports/model.js';

export interface RunDocument {
  name: string;
  doc: Record<string, unknown>;
}

export function readDocuments(path: string): RunDocument[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RunDocument);
}

interface DataKey {
  dtype?: string;
  dtype_numpy?: string;
  shape?: number[];
  units?: string;
  source?: string;
}

function dtypeOf(key: DataKey): Dtype | undefined {
  if (key.dtype_numpy) return parseDtype(key.dtype_numpy);
  switch (key.dtype) {
    case 'number':
      return '<f8';
    case 'integer':
      return '<i8';
    case 'boolean':
      return '|b1';
    default:
      return undefined;
  }
}

export function exportRunOf(documents: readonly RunDocument[]): ExportRun {
  const start = documents.find((d) => d.name === 'start')?.doc;
  if (!start) throw new Error('no start document');
  const stop = documents.find((d) => d.name === 'stop')?.doc;
  const descriptors = documents.filter((d) => d.name === 'descriptor').map((d) => d.doc);
  const rows = new Map<string, { seq: number; time: number; data: Record<string, unknown> }[]>(
    descriptors.map((d) => [d.uid as string, []]),
  );
  for (const { name, doc } of documents) {
    if (name === 'event') {
      rows
        .get(doc.descriptor as string)!
        .push({ seq: doc.seq_num as number, time: doc.time as number, data: doc.data as Record<string, unknown> });
    } else if (name === 'event_page') {
      const seq = doc.seq_num as number[];
      const data = doc.data as Record<string, unknown[]>;
      seq.forEach((s, i) =>
        rows.get(doc.descriptor as string)!.push({
          seq: s,
          time: (doc.time as number[])[i]!,
          data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v[i]])),
        }),
      );
    }
  }
  const streams: ExportStream[] = descriptors.map((descriptor) => {
    const events = rows.get(descriptor.uid as string)!.sort((a, b) => a.seq - b.seq);
    const keys = descriptor.data_keys as Record<string, DataKey>;
    return {
      name: descriptor.name as string,
      descriptor,
      times: new Float64Array(events.map((e) => e.time)),
      columns: Object.entries(keys).map(([dataKey, key]) => {
        const dtype = dtypeOf(key);
        return {
          dataKey,
          array: stackPoints(
            events.map((e) => e.data[dataKey] as PointValue),
            { ...(dtype ? { dtype } : {}), what: dataKey },
          ),
          units: key.units,
          source: key.source,
        };
      }),
    };
  });
  return { uid: start.uid as string, start, stop, streams };
}
