/**
 * Reads the NDJSON chunks of a run's JSON channels (StreamResource mimetype
 * application/x-beamline-archive-ndjson) into one JSON text per point, for writers/json-writer.ts.
 * Every chunk is checked like a numeric one (own run's staging folder, bucket, size, sha256) and
 * must hold exactly one valid JSON line per point of its index range; points in declared gaps
 * stay '' (the HDF5 fill of a variable-length string).
 *
 * The texts are held in memory until the file is written (h5wasm writes a string list in one call):
 * above `maxBytes` (all JSON channels of the run together, default 128 MiB) the run is refused with
 * an InvalidInputError naming the channel, recorded as FAILED rather than running the function out
 * of memory.
 */
import { createHash } from 'node:crypto';
import type { StreamDatum, StreamResource } from '../contract/generated-types.js';
import { isJsonResource } from '../event-model/resources.js';
import { stagingChannelPrefix } from '../object-keys.js';
import type { ObjectStore } from '../ports.js';
import { ChunkCoverageError } from './errors.js';
import { getStagedObject } from './staged-objects.js';
import { InvalidInputError } from '../errors.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export const MAX_JSON_CHANNEL_BYTES = 128 * 1024 * 1024;

export async function readJsonChannels(
  resources: readonly StreamResource[],
  datumsByChannel: ReadonlyMap<string, readonly StreamDatum[]>,
  points: Readonly<Record<string, number>>,
  store: ObjectStore,
  beamline: string,
  runUid: string,
  maxBytes = MAX_JSON_CHANNEL_BYTES,
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  let held = 0;
  for (const resource of resources) {
    if (!isJsonResource(resource)) continue;
    const channel = resource.data_key;
    const values = new Array<string>(points[channel] ?? 0).fill('');
    for (const d of datumsByChannel.get(channel) ?? []) {
      const { start, stop } = d.indices;
      const context = { runUid, stream: channel, indexRange: [start, stop] as [number, number], key: d.chunk.key };
      held += d.chunk.bytes;
      if (held > maxBytes) {
        throw new InvalidInputError(
          `run ${runUid}: JSON channels hold more than ${maxBytes} bytes (at ${channel} points [${start}, ${stop})); the scan writer keeps JSON texts in memory and refuses larger ones`,
          { runUid, stream: channel, index: start },
        );
      }
      const fail = (problem: string): never => {
        const message = `staged JSON chunk s3://${d.chunk.bucket}/${d.chunk.key} (points [${start}, ${stop}) of ${channel}) ${problem}`;
        throw new ChunkCoverageError(message, [{ stream: channel, index: start, message }], context);
      };
      if (d.chunk.bucket !== store.bucket) fail(`is in bucket ${d.chunk.bucket}, not the archive bucket ${store.bucket}`);
      const folder = stagingChannelPrefix(beamline, runUid, channel);
      if (!d.chunk.key.startsWith(folder) || d.chunk.key.slice(folder.length).includes('/')) fail(`is outside ${folder}`);
      const bytes = await getStagedObject(store, d.chunk.key, `points [${start}, ${stop}) of ${channel}`, context);
      if (bytes.byteLength !== d.chunk.bytes) fail(`has ${bytes.byteLength} bytes, its StreamDatum says ${d.chunk.bytes}`);
      if (createHash('sha256').update(bytes).digest('hex') !== d.chunk.sha256)
        fail(`does not match the sha256 of its StreamDatum (${d.chunk.sha256})`);
      let text = '';
      try {
        text = UTF8.decode(bytes);
      } catch {
        fail('is not UTF-8');
      }
      if (!text.endsWith('\n')) fail('does not end with a newline');
      const lines = text.slice(0, -1).split('\n');
      if (lines.length !== stop - start) fail(`holds ${lines.length} lines for ${stop - start} points`);
      lines.forEach((line, i) => {
        try {
          JSON.parse(line);
        } catch {
          fail(`line ${i + 1} (point ${start + i}) is not JSON`);
        }
        values[start + i] = line;
      });
    }
    out[channel] = values;
  }
  return out;
}
