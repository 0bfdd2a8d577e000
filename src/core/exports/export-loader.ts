/**
 * Loads archived runs as the export builders see them (`ExportRun`): RunStart, descriptors and
 * RunStop from the run catalogue's documents, every channel's points read from the archived scan
 * file by the dataset path the scan writer recorded (`channel_paths` of the run record).
 *
 * One stream per EventDescriptor; its columns are the descriptor's data keys. A data key is the
 * archive's channel name (BLISS: `axis:sy`; Bluesky: `<stream>:<key>` with the original key in
 * `bluesky_key`), and the column carries the original key.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { DetailType } from '../contract/detail-types.js';
import type { ArchivedFile, DataKey, EventDescriptor, StreamDatum, StreamResource } from '../contract/generated-types.js';
import { isLimaResource } from '../event-model/resources.js';
import { RunState, type RunCatalogue } from '../archive/ports.js';
import { varyingPointShapes } from '../archive/point-shapes.js';
import { datumsByChannelOf } from '../archive/run-documents.js';
import { POINT_SHAPE_DATASET } from '../nexus/writers/variable-shape.js';
import type { ObjectStore } from '../ports.js';
import {
  isColumnSource,
  type ArchivedExportRun,
  type ColumnData,
  type ColumnSource,
  type ExportColumn,
  type ExportStream,
} from './model.js';
import type { ArchivedChannelReader } from './ports.js';
import { DTYPES, isDtype, type Dtype, type NdArray } from '../analysis/ndarray.js';
import type { ExportInputSize } from './export-capacity.js';
import { fillBytes, pointBytes, type ElementType } from '../nexus/dtypes.js';
import { ArchivedFileMismatchError, ExportRunNotFoundError, RunNeedsReArchiveError, RunNotArchivedError } from './service-errors.js';

export interface ExportLoaderDeps {
  runs: Pick<RunCatalogue, 'getRun' | 'listDocuments'>;
  store: ObjectStore;
  reader: ArchivedChannelReader;
}

/**
 * A run ready to export and the scan file it was read from (an input of the export's provenance).
 * Its columns are read from that file (on local disk) on demand: `close` it when the export is written.
 */
export interface LoadedRun {
  run: ArchivedExportRun;
  file: ArchivedFile;
  /** Data keys left out, with the reason (JSON channels have no numeric array; keys the bridge did not archive). */
  skipped: string[];
  close(): Promise<void>;
}

/** numpy dtype of JSON channels: their points are JSON texts, not numbers. */
const JSON_DTYPE = '|O8';

/**
 * Checks that a run can be exported (known, ARCHIVED, archived with channel paths) without reading
 * its file: what the API answers at once.
 */
export async function checkExportable(
  runUid: string,
  runs: ExportLoaderDeps['runs'],
): Promise<{
  file: ArchivedFile;
  channelPaths: Record<string, string>;
  gaps: Record<string, [number, number][]>;
  points: Record<string, number>;
}> {
  const record = await runs.getRun(runUid);
  if (!record) throw new ExportRunNotFoundError(`run ${runUid} is not in the catalogue`, { runUid });
  if (record.state !== RunState.Archived || !record.file) {
    const why =
      record.state === RunState.Failed ? `FAILED (${record.failure?.reason ?? 'no reason recorded'})` : (record.state ?? 'without a state');
    throw new RunNotArchivedError(`run ${runUid} is not archived yet: it is ${why}; only ARCHIVED runs can be exported`, {
      runUid,
      state: record.state,
    });
  }
  if (!record.channelPaths) {
    throw new RunNeedsReArchiveError(
      `run ${runUid} was archived before the archive recorded where each channel lives in the scan file; re-archive it (replay its RunStop) to export it`,
      { runUid, key: record.file.key },
    );
  }
  return { file: record.file, channelPaths: record.channelPaths, gaps: record.gaps ?? {}, points: record.points ?? {} };
}

/**
 * What a run brings to an export, without reading its file: the scan file's size, and the bytes of
 * its channels (points recorded × the descriptor's point shape × item size). A channel whose point
 * shape is not fixed (free dimensions) counts the whole file instead: never less than it may hold.
 */
export async function exportInputSize(runUid: string, runs: ExportLoaderDeps['runs']): Promise<ExportInputSize> {
  const { file, channelPaths, points } = await checkExportable(runUid, runs);
  const docs = await runs.listDocuments(runUid);
  let dataBytes = 0;
  let unknown = false;
  for (const doc of docs) {
    if (doc.detailType !== DetailType.EventDescriptor) continue;
    for (const [channel, key] of Object.entries((doc.body as EventDescriptor).data_keys) as [string, DataKey | undefined][]) {
      if (!key || channelPaths[channel] === undefined || key.dtype_numpy === JSON_DTYPE) continue;
      const shape = Array.isArray(key.shape) ? key.shape : [];
      const dtype =
        typeof key.dtype_numpy === 'string' && isDtype(key.dtype_numpy.replace('=', '<'))
          ? (key.dtype_numpy.replace('=', '<') as Dtype)
          : undefined;
      if (!dtype || !shape.every((d): d is number => typeof d === 'number' && d >= 0)) {
        unknown = true;
        continue;
      }
      dataBytes += (points[channel] ?? 0) * shape.reduce((n, d) => n * d, 1) * DTYPES[dtype].size;
    }
  }
  return { fileBytes: file.bytes, dataBytes: unknown ? Math.max(dataBytes, file.bytes) : dataBytes };
}

/**
 * Loads a run: its documents from the catalogue, its scan file streamed from the bucket to
 * `localPath` (checked against the run record's size and sha256 as it streams), opened there; the
 * columns are read from it slice by slice by whoever writes the export.
 */
export async function loadExportRun(runUid: string, deps: ExportLoaderDeps, localPath: string): Promise<LoadedRun> {
  const { file, channelPaths, gaps } = await checkExportable(runUid, deps.runs);
  const docs = await deps.runs.listDocuments(runUid);
  const start = docs.find((d) => d.detailType === DetailType.RunStart)?.body as Record<string, unknown> | undefined;
  const stop = docs.find((d) => d.detailType === DetailType.RunStop)?.body as Record<string, unknown> | undefined;
  const descriptors = docs
    .filter((d) => d.detailType === DetailType.EventDescriptor)
    .map((d) => d.body as EventDescriptor)
    .sort((a, b) => a.time - b.time || a.name.localeCompare(b.name));
  if (!start) throw new RunNeedsReArchiveError(`run ${runUid} is ARCHIVED but its RunStart document is not in the catalogue`, { runUid });
  if (descriptors.length === 0)
    throw new RunNeedsReArchiveError(`run ${runUid} is ARCHIVED but has no EventDescriptor in the catalogue`, { runUid });

  if (file.bucket !== deps.store.bucket) {
    throw new ArchivedFileMismatchError(
      `the scan file of run ${runUid} is in bucket ${file.bucket}, not the archive bucket ${deps.store.bucket}`,
      { runUid, key: file.key },
    );
  }
  // An ARCHIVED run's file is published before its record: a missing object was deleted, and no
  // retry brings it back (the export must fail with the reason, not wait in the queue until the DLQ).
  const head = await deps.store.head(file.key);
  if (!head) {
    throw new ArchivedFileMismatchError(
      `the scan file s3://${file.bucket}/${file.key} of run ${runUid} is missing from the archive bucket; re-archive the run to export it`,
      { runUid, key: file.key },
    );
  }
  if (head.bytes !== file.bytes) {
    throw new ArchivedFileMismatchError(
      `s3://${file.bucket}/${file.key} (${head.bytes} bytes) is not the scan file run ${runUid} recorded (${file.bytes} bytes)`,
      { runUid, key: file.key },
    );
  }
  const downloaded = deps.store.downloadFile
    ? await deps.store.downloadFile(file.key, localPath)
    : await (async () => {
        // A store that cannot stream (an in-memory one): the object passes through memory once.
        const bytes = await deps.store.get(file.key);
        await writeFile(localPath, bytes);
        return { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
      })();
  if (downloaded.bytes !== file.bytes || downloaded.sha256 !== file.sha256) {
    throw new ArchivedFileMismatchError(
      `s3://${file.bucket}/${file.key} (${downloaded.bytes} bytes, sha256 ${downloaded.sha256}) is not the scan file run ${runUid} recorded (${file.bytes} bytes, sha256 ${file.sha256})`,
      { runUid, key: file.key },
    );
  }

  // Lima detector channels: the scan file only links their frames in the Lima files beside it,
  // which are not downloaded here (a dangling external link would fail the whole export).
  const resources = docs.filter((d) => d.detailType === DetailType.StreamResource).map((d) => d.body as StreamResource);
  const limaChannels = new Set(resources.filter((r) => isLimaResource(r)).map((r) => r.data_key));
  // Keys whose point shape changed (free dimensions): the scan file pads them to the largest shape
  // and keeps each point's shape in `point_shape` beside `data` (src/core/archive/point-shapes.ts).
  const numeric = resources.filter((r) => !isLimaResource(r));
  const datums = docs.filter((d) => d.detailType === DetailType.StreamDatum).map((d) => d.body as StreamDatum);
  const varying = new Set(varyingPointShapes(numeric, datumsByChannelOf(numeric, datums)).keys());
  const skipped: string[] = [];
  const scanFile = await deps.reader.open(localPath, { runUid, key: file.key });
  try {
    const streams: ExportStream<ColumnData>[] = descriptors.map((descriptor) => {
      const columns: ExportColumn<ColumnData>[] = [];
      for (const [channel, dataKey] of Object.entries(descriptor.data_keys) as [string, DataKey | undefined][]) {
        if (!dataKey) continue;
        const key = typeof dataKey.bluesky_key === 'string' ? dataKey.bluesky_key : channel;
        if (dataKey.dtype_numpy === JSON_DTYPE) {
          skipped.push(`run ${runUid}, stream ${descriptor.name}: ${key} is a JSON channel (no numeric array), left out`);
          continue;
        }
        if (limaChannels.has(channel)) {
          skipped.push(
            `run ${runUid}, stream ${descriptor.name}: ${key} is a Lima detector (frames in its own files, linked from the scan file), left out`,
          );
          continue;
        }
        const path = channelPaths[channel];
        if (path === undefined) {
          throw new RunNeedsReArchiveError(
            `run ${runUid}, stream ${descriptor.name}: channel ${channel} has no dataset path in the run record; re-archive the run`,
            { runUid, stream: descriptor.name, key: channel },
          );
        }
        const array = withFillAt(scanFile.column(path), gaps[channel] ?? []);
        const padded = varying.has(channel)
          ? {
              pointShapes: scanFile.column(`${path.slice(0, path.lastIndexOf('/'))}/${POINT_SHAPE_DATASET}`),
              fillValue: DTYPES[array.dtype].kind === 'f' ? Number.NaN : 0,
            }
          : {};
        columns.push({
          dataKey: key,
          array,
          ...padded,
          ...(typeof dataKey.units === 'string' && dataKey.units ? { units: dataKey.units } : {}),
          ...(dataKey.source ? { source: dataKey.source } : {}),
          ...(gaps[channel]?.length ? { missing: gaps[channel] } : {}),
        });
      }
      // Keys the bridge could not carry (Bluesky: external data, strings …) are named, not silently missing.
      const notArchived = Array.isArray(descriptor.not_archived)
        ? (descriptor.not_archived as { channel?: unknown; reason?: unknown }[])
        : [];
      for (const n of notArchived)
        skipped.push(`run ${runUid}, stream ${descriptor.name}: ${String(n.channel)} was not archived (${String(n.reason)}), left out`);
      return { name: descriptor.name, descriptor: descriptor as Record<string, unknown>, columns };
    });
    return { run: { uid: runUid, start, ...(stop ? { stop } : {}), streams }, file, skipped, close: () => scanFile.close() };
  } catch (error) {
    await scanFile.close();
    throw error;
  }
}

/**
 * Points lost before archiving hold the fill value in the export whatever the scan file holds
 * (files archived before fill values were written have 0 there): NaN for floats, the type's
 * minimum (signed) or maximum (unsigned) for integers, as the scan writer writes them (fillValueOf).
 * A column read on demand gets the fill in each slice of rows it gives.
 */
export function withFillAt(array: NdArray, missing: readonly (readonly [number, number])[]): NdArray;
export function withFillAt(array: ColumnSource, missing: readonly (readonly [number, number])[]): ColumnSource;
export function withFillAt(array: NdArray | ColumnSource, missing: readonly (readonly [number, number])[]): NdArray | ColumnSource {
  const kind = DTYPES[array.dtype].kind;
  if (missing.length === 0 || kind === 'b') return array;
  if (isColumnSource(array)) {
    const source = array;
    return { dtype: source.dtype, shape: source.shape, rows: (start, stop) => fillRows(source.rows(start, stop), start, missing) };
  }
  return fillRows(array, 0, missing);
}

/** `rows` (points [offset, offset + rows)) with the fill value at the missing points among them. */
function fillRows(rows: NdArray, offset: number, missing: readonly (readonly [number, number])[]): NdArray {
  const kind = DTYPES[rows.dtype].kind;
  const type: ElementType = {
    numpy: rows.dtype,
    kind: kind === 'f' ? 'float' : kind === 'i' ? 'int' : 'uint',
    size: DTYPES[rows.dtype].size,
  };
  const pointShape = rows.shape.slice(1);
  const rowBytes = pointBytes(type, pointShape);
  const count = rows.shape[0] ?? 0;
  let bytes: Uint8Array | undefined;
  for (const [start, stop] of missing) {
    const from = Math.max(0, start - offset);
    const to = Math.min(stop - offset, count);
    if (to <= from) continue;
    bytes ??= new Uint8Array(rows.bytes);
    bytes.set(fillBytes(type, pointShape, to - from), from * rowBytes);
  }
  return bytes ? { ...rows, bytes } : rows;
}
