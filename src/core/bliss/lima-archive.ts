/**
 * The scan writer's side of Lima streams: the uploaded Lima files a run's StreamDatums name must be
 * in the run's detector folder next to its scan file and exist with the recorded size. The files
 * are checked with HEAD requests only: the scan writer links them, it never downloads them.
 */
import type { RunError, StreamDatum, StreamResource } from '../contract/generated-types.js';
import { ChunkCoverageError } from '../archive/errors.js';
import type { DataPolicy } from '../contract/generated-types.js';
import { scanDetectorFolder, scanFileKey } from '../object-keys.js';
import type { ObjectStore } from '../ports.js';
import type { LimaLinkedFile } from '../nexus/writers/lima-image-writer.js';
import { isLimaResource } from './lima-documents.js';

/**
 * For every Lima channel, its files as the scan file links them (paths relative to the scan file's
 * folder). Throws ChunkCoverageError naming every file that is outside the folder, missing, or of
 * another size than its StreamDatum says.
 */
export async function checkLimaFiles(
  run: { runUid: string; policy: DataPolicy; scanNumber: number },
  resources: readonly StreamResource[],
  datumsByChannel: ReadonlyMap<string, readonly StreamDatum[]>,
  store: ObjectStore,
): Promise<Record<string, LimaLinkedFile[]>> {
  const fileKey = scanFileKey(run.policy, run.scanNumber);
  const scanFolder = fileKey.slice(0, fileKey.lastIndexOf('/') + 1);
  const folder = scanDetectorFolder(run.policy, run.scanNumber);
  const errors: RunError[] = [];
  const out: Record<string, LimaLinkedFile[]> = {};
  for (const resource of resources) {
    if (!isLimaResource(resource)) continue;
    const channel = resource.data_key;
    const files: LimaLinkedFile[] = (out[channel] = []);
    if (resource.uri !== `s3://${store.bucket}/${folder}`) {
      errors.push({ stream: channel, message: `Lima resource ${resource.uid} points at ${resource.uri}, not s3://${store.bucket}/${folder}` });
    }
    for (const d of datumsByChannel.get(channel) ?? []) {
      const { start, stop } = d.indices;
      const where = `Lima file s3://${d.chunk.bucket}/${d.chunk.key} (frames [${start}, ${stop}) of ${channel}${d.lima ? `, from ${d.lima.source_path}` : ''})`;
      if (d.chunk.bucket !== store.bucket || !d.chunk.key.startsWith(folder) || d.chunk.key.slice(folder.length).includes('/')) {
        errors.push({ stream: channel, index: start, message: `${where} is outside the scan's detector folder ${folder}` });
        continue;
      }
      const head = await store.head(d.chunk.key);
      if (!head) errors.push({ stream: channel, index: start, message: `${where} does not exist` });
      else if (head.bytes !== d.chunk.bytes) errors.push({ stream: channel, index: start, message: `${where} has ${head.bytes} bytes, its StreamDatum says ${d.chunk.bytes}` });
      files.push({ file: d.chunk.key.slice(scanFolder.length), start, stop, frameOffset: d.lima?.frame_offset ?? 0 });
    }
  }
  if (errors.length > 0) {
    throw new ChunkCoverageError(`run ${run.runUid}: uploaded Lima files are not usable (${errors.length} problem${errors.length > 1 ? 's' : ''}): ${errors[0]!.message}`, errors, { runUid: run.runUid });
  }
  return out;
}
