/**
 * Saving and reading derived data. A save turns per-point dicts `data[n][stream][key]`, start
 * metadata and an optional per-key writer map into the run's documents (RunStart, one
 * EventDescriptor per stream, a StreamResource per key and a StreamDatum per stored object,
 * RunStop), stores the data through the writers, the documents in the catalogue, the provenance
 * record, and last the run record (which makes the run visible as a parent).
 *
 * The provenance is checked before anything is written: a save without complete provenance, or
 * naming parents the catalogue does not have, stores nothing.
 */
import { DetailType } from '../contract/detail-types.js';
import type { StoredDocument } from '../archive/ports.js';
import type { ObjectStore } from '../ports.js';
import { checkProvenance } from '../provenance/record-provenance.js';
import { runRef, type InputFile, type ProvenanceRecord } from '../provenance/model.js';
import type { ProvenanceStore } from '../provenance/ports.js';
import { validateAnalysisDocument } from './document-validators.js';
import { AnalysisInputError, AnalysisNotFoundError } from './errors.js';
import { concatRows, parseDtype, sliceRows, stackPoints, toNested, type Dtype, type NdArray, type PointValue } from './ndarray.js';
import type { AnalysisCatalogue } from './ports.js';
import { checkName, isSpec, Spec, type DatumHandler, type DatumKwargs, type DatumWriter, type ResourceKwargs } from './writer-handler.js';
import { isRecord } from '../guards.js';

export interface SaveDerivedRunRequest {
  /** Start document metadata (plan_name, sample, anything event-model allows: no `.` or `/` in keys). */
  metadata?: Record<string, unknown>;
  /** `data[n][stream][key]`: the value of `key` in `stream` at point n (a stream may skip points). */
  data: Record<string, Record<string, PointValue>>[];
  /** Spec per data key (`key` or `stream/key`); default BA_NPY. */
  writers?: Record<string, string>;
  /** numpy dtype per data key (`key` or `stream/key`); default inferred (bool → |b1, integers → <i8, else <f8). */
  dtypes?: Record<string, string>;
  units?: Record<string, string>;
  /** Points per stored object (default 100000). */
  chunk_points?: number;
  /** Required: see src/core/provenance/model.ts ProvenanceInput. */
  provenance: unknown;
}

export interface AnalysisDeps {
  store: ObjectStore;
  catalogue: AnalysisCatalogue;
  provenance: ProvenanceStore;
  writerFor(spec: string, kwargs: ResourceKwargs): DatumWriter;
  handlerFor(spec: string, kwargs: ResourceKwargs): DatumHandler;
  newUid: () => string;
  now: () => Date;
}

export interface SavedRun {
  uid: string;
  entity: string;
  documents: { descriptor: number; stream_resource: number; stream_datum: number };
  points: Record<string, number>;
  files: InputFile[];
  provenance: ProvenanceRecord;
}

const RESERVED = new Set(['uid', 'time', 'analysis']);
const DEFAULT_CHUNK = 100_000;

interface Column {
  stream: string;
  key: string;
  values: PointValue[];
}

/** Checks the request's shape and gathers each stream's columns; every problem at once. */
function columnsOf(request: SaveDerivedRunRequest): { columns: Column[]; streams: Map<string, number> } {
  const problems: string[] = [];
  if (!isRecord(request)) throw new AnalysisInputError('the request must be an object {metadata, data, writers, provenance}');
  if (!Array.isArray(request.data) || request.data.length === 0)
    throw new AnalysisInputError('data must be a non-empty list of points {stream: {key: value}}');
  for (const key of Object.keys(request.metadata ?? {})) {
    if (RESERVED.has(key)) problems.push(`metadata.${key} is set by the analysis store`);
    else if (/[./]/.test(key)) problems.push(`metadata key ${JSON.stringify(key)} may not contain . or /`);
  }
  const columns = new Map<string, Column>();
  const keysOfStream = new Map<string, string[]>();
  const streams = new Map<string, number>();
  request.data.forEach((point, n) => {
    if (!isRecord(point)) {
      problems.push(`data[${n}] is not an object {stream: {key: value}}`);
      return;
    }
    for (const [stream, values] of Object.entries(point)) {
      try {
        checkName(stream, 'stream');
      } catch (e) {
        problems.push(`data[${n}]: ${(e as Error).message}`);
        continue;
      }
      if (!isRecord(values)) {
        problems.push(`data[${n}].${stream} is not an object {key: value}`);
        continue;
      }
      const keys = Object.keys(values).sort();
      const known = keysOfStream.get(stream);
      if (!known) keysOfStream.set(stream, keys);
      else if (JSON.stringify(known) !== JSON.stringify(keys)) {
        problems.push(`data[${n}].${stream} has keys ${keys.join(',')}, earlier points ${known.join(',')}`);
        continue;
      }
      streams.set(stream, (streams.get(stream) ?? 0) + 1);
      for (const key of keys) {
        try {
          checkName(key, 'data key');
        } catch (e) {
          problems.push(`data[${n}].${stream}: ${(e as Error).message}`);
          continue;
        }
        const id = `${stream}/${key}`;
        let column = columns.get(id);
        if (!column) {
          column = { stream, key, values: [] };
          columns.set(id, column);
        }
        column.values.push(values[key] as PointValue);
      }
    }
  });
  for (const [name, spec] of Object.entries(request.writers ?? {})) {
    if (!isSpec(spec)) problems.push(`writers.${name}: unknown spec ${JSON.stringify(spec)} (known: ${Object.values(Spec).join(', ')})`);
  }
  if (request.chunk_points !== undefined && !(Number.isSafeInteger(request.chunk_points) && request.chunk_points > 0))
    problems.push('chunk_points must be a positive integer');
  if (problems.length > 0)
    throw new AnalysisInputError(
      `the derived data cannot be saved: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`,
      problems,
    );
  return { columns: [...columns.values()], streams };
}

const pick = <T>(map: Record<string, T> | undefined, stream: string, key: string): T | undefined => map?.[`${stream}/${key}`] ?? map?.[key];

function dtypeKind(dtype: Dtype, pointShape: readonly number[]): 'array' | 'boolean' | 'integer' | 'number' {
  if (pointShape.length > 0) return 'array';
  return dtype === '|b1' ? 'boolean' : dtype.includes('f') ? 'number' : 'integer';
}

export async function saveDerivedRun(
  request: SaveDerivedRunRequest,
  deps: AnalysisDeps,
  options: { caller?: string } = {},
): Promise<SavedRun> {
  const { columns, streams } = columnsOf(request);
  const uid = deps.newUid();
  const entity = runRef(uid);
  // Provenance first: nothing is stored for a run whose provenance is incomplete.
  const record = await checkProvenance(
    entity,
    request.provenance,
    { store: deps.provenance, now: deps.now, newUid: deps.newUid },
    options.caller ? { caller: options.caller } : {},
  );

  const problems: string[] = [];
  const arrays = new Map<Column, NdArray>();
  for (const column of columns) {
    try {
      const dtypeText = pick(request.dtypes, column.stream, column.key);
      const dtype = dtypeText === undefined ? undefined : parseDtype(dtypeText, `dtypes.${column.stream}/${column.key}`);
      arrays.set(column, stackPoints(column.values, { what: `${column.stream}/${column.key}`, ...(dtype ? { dtype } : {}) }));
    } catch (error) {
      problems.push(...(error instanceof AnalysisInputError ? error.problems : [(error as Error).message]));
    }
  }
  if (problems.length > 0)
    throw new AnalysisInputError(
      `the derived data cannot be saved: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
      problems,
      { runUid: uid },
    );

  const time = deps.now().getTime() / 1000;
  const chunk = request.chunk_points ?? DEFAULT_CHUNK;
  const documents: StoredDocument[] = [];
  const files: InputFile[] = [];
  const start = {
    plan_name: 'analysis',
    ...request.metadata,
    uid,
    time,
    analysis: { kind: 'derived', parents: record.parents, software: record.software, activity: record.activity ?? 'analysis' },
  };
  documents.push({ detailType: DetailType.RunStart, uid, body: start });
  const counts = { descriptor: 0, stream_resource: 0, stream_datum: 0 };
  for (const [stream, points] of streams) {
    const descriptorUid = `${uid}/descriptor/${stream}`;
    const streamColumns = columns.filter((c) => c.stream === stream);
    const dataKeys: Record<string, unknown> = {};
    for (const column of streamColumns) {
      const array = arrays.get(column)!;
      const pointShape = array.shape.slice(1);
      const spec = pick(request.writers, stream, column.key) ?? Spec.Npy;
      const units = pick(request.units, stream, column.key);
      dataKeys[column.key] = {
        dtype: dtypeKind(array.dtype, pointShape),
        dtype_numpy: array.dtype,
        shape: pointShape,
        source: `analysis:${spec}`,
        external: 'STREAM:',
        ...(units !== undefined ? { units } : {}),
      };
      const writer = deps.writerFor(spec, {
        run_uid: uid,
        stream,
        data_key: column.key,
        dtype_numpy: array.dtype,
        point_shape: pointShape,
      });
      const resourceUid = `${uid}/resource/${stream}/${column.key}`;
      documents.push({
        detailType: DetailType.StreamResource,
        uid: resourceUid,
        body: {
          uid: resourceUid,
          run_start: uid,
          data_key: column.key,
          mimetype: writer.mimetype,
          uri: writer.uri,
          spec: writer.spec,
          parameters: writer.resourceKwargs,
        },
      });
      counts.stream_resource += 1;
      for (let first = 0; first < points; first += chunk) {
        const datum = await writer.write(sliceRows(array, first, Math.min(first + chunk, points)));
        const datumUid = `${resourceUid}/${datum.indices.start}-${datum.indices.stop}`;
        documents.push({
          detailType: DetailType.StreamDatum,
          uid: datumUid,
          body: {
            uid: datumUid,
            stream_resource: resourceUid,
            descriptor: descriptorUid,
            indices: datum.indices,
            seq_nums: { start: datum.indices.start + 1, stop: datum.indices.stop + 1 },
            chunk: datum.chunk,
          },
        });
        files.push({ uri: `s3://${datum.chunk.bucket}/${datum.chunk.key}`, sha256: datum.chunk.sha256, bytes: datum.chunk.bytes });
        counts.stream_datum += 1;
      }
    }
    documents.push({
      detailType: DetailType.EventDescriptor,
      uid: descriptorUid,
      body: {
        uid: descriptorUid,
        run_start: uid,
        time,
        name: stream,
        data_keys: dataKeys,
        object_keys: { analysis: streamColumns.map((c) => c.key) },
      },
    });
    counts.descriptor += 1;
  }
  const points = Object.fromEntries(streams);
  documents.push({
    detailType: DetailType.RunStop,
    uid: `${uid}/stop`,
    body: {
      uid: `${uid}/stop`,
      run_start: uid,
      time: deps.now().getTime() / 1000,
      exit_status: 'success',
      reason: '',
      num_events: points,
      analysis: { documents: counts },
    },
  });
  for (const doc of documents) validateAnalysisDocument(doc.detailType, doc.body);
  for (const doc of documents) await deps.catalogue.putDocument(uid, doc.detailType, doc.uid, doc.body);
  const provenance: ProvenanceRecord = { ...record, outputs: files };
  await deps.provenance.put(provenance);
  await deps.catalogue.putDerivedRun({
    runUid: uid,
    planName: String(start.plan_name),
    startTime: new Date(time * 1000).toISOString(),
    savedAt: deps.now().toISOString(),
    points,
    parents: record.parents,
  });
  return { uid, entity, documents: counts, points, files, provenance };
}

export interface DerivedRunContent {
  uid: string;
  documents: StoredDocument[];
  /** Per stream, per key: the values of every point (when asked for). */
  streams?: Record<string, Record<string, { dtype: string; shape: number[]; values: unknown }>>;
}

/** Reads a derived run's documents back and, with `data`, every key's values through its handler. */
export async function readDerivedRun(
  uid: string,
  deps: Pick<AnalysisDeps, 'catalogue' | 'handlerFor'>,
  options: { data?: boolean } = {},
): Promise<DerivedRunContent> {
  const kind = await deps.catalogue.runKind(uid);
  if (kind !== 'derived')
    throw new AnalysisNotFoundError(kind === 'raw' ? `run ${uid} is a raw scan, not a derived run` : `no derived run ${uid}`, {
      runUid: uid,
    });
  const documents = await deps.catalogue.listDocuments(uid);
  if (!options.data) return { uid, documents };
  const arrays = await readArrays(documents, deps);
  const streams: NonNullable<DerivedRunContent['streams']> = {};
  for (const [stream, keys] of arrays) {
    streams[stream] = Object.fromEntries(
      [...keys].map(([key, array]) => [key, { dtype: array.dtype, shape: array.shape, values: toNested(array) }]),
    );
  }
  return { uid, documents, streams };
}

/** Every key of every stream as one array, read through the handlers from the documents. */
export async function readArrays(
  documents: readonly StoredDocument[],
  deps: Pick<AnalysisDeps, 'handlerFor'>,
): Promise<Map<string, Map<string, NdArray>>> {
  const resources = documents
    .filter((d) => d.detailType === DetailType.StreamResource)
    .map((d) => d.body as { uid: string; spec: string; parameters: ResourceKwargs });
  const datums = documents
    .filter((d) => d.detailType === DetailType.StreamDatum)
    .map((d) => d.body as DatumKwargs & { stream_resource: string });
  const out = new Map<string, Map<string, NdArray>>();
  for (const resource of resources.sort((a, b) => a.uid.localeCompare(b.uid))) {
    const handler = deps.handlerFor(resource.spec, resource.parameters);
    const mine = datums.filter((d) => d.stream_resource === resource.uid).sort((a, b) => a.indices.start - b.indices.start);
    const parts: NdArray[] = [];
    for (const datum of mine) parts.push(await handler.read(datum));
    const { stream, data_key: key } = resource.parameters;
    if (!out.has(stream)) out.set(stream, new Map());
    out.get(stream)!.set(key, concatRows(parts));
  }
  return out;
}
