/**
 * The scan writer's side of Lima streams: the uploaded Lima files a run's StreamDatums name (for
 * Lima2, the master file and the receiver files its datum records) must be in the run's detector
 * folder next to its scan file and exist with the recorded size. The files
 * are checked with HEAD requests only: the scan writer links them, it never downloads them.
 */
import type { RunError, StreamDatum, StreamResource } from '../contract/generated-types.js';
import { ChunkCoverageError } from '../archive/errors.js';
import type { DataPolicy } from '../contract/generated-types.js';
import { scanDetectorFolder, scanFileKey } from '../object-keys.js';
import type { ObjectStore } from '../ports.js';
import type { LimaLinkedFile, LimaReceiverLink } from '../nexus/writers/lima-image-writer.js';
import { parseLima2DatumFiles } from './lima2-files.js';
import { isLimaResource } from '../event-model/resources.js';

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
      errors.push({
        stream: channel,
        message: `Lima resource ${resource.uid} points at ${resource.uri}, not s3://${store.bucket}/${folder}`,
      });
    }
    for (const d of datumsByChannel.get(channel) ?? []) {
      const { start, stop } = d.indices;
      const where = `Lima file s3://${d.chunk.bucket}/${d.chunk.key} (frames [${start}, ${stop}) of ${channel}${d.lima ? `, from ${d.lima.source_path}` : ''})`;
      /** Undefined once the object is in the detector folder with the recorded size; else what is wrong. */
      const check = async (bucket: string, key: string, bytes: number): Promise<string | undefined> => {
        if (bucket !== store.bucket || !key.startsWith(folder) || key.slice(folder.length).includes('/'))
          return `is outside the scan's detector folder ${folder}`;
        const head = await store.head(key);
        if (!head) return 'does not exist';
        return head.bytes !== bytes ? `has ${head.bytes} bytes, its StreamDatum says ${bytes}` : undefined;
      };
      const problem = await check(d.chunk.bucket, d.chunk.key, d.chunk.bytes);
      if (problem) {
        errors.push({ stream: channel, index: start, message: `${where} ${problem}` });
        if (problem.startsWith('is outside')) continue;
      }
      // Lima2: the master file's datum records the receiver files its virtual dataset reads; each must be beside it.
      const lima2 = parseLima2DatumFiles(d.lima2);
      if (typeof lima2 === 'string') errors.push({ stream: channel, index: start, message: `${where}: ${lima2}` });
      const receivers: LimaReceiverLink[] = [];
      for (const r of typeof lima2 === 'object' ? lima2.receiver_files : []) {
        const wrong = await check(store.bucket, r.key, r.bytes);
        if (wrong)
          errors.push({
            stream: channel,
            index: start,
            message: `Lima2 receiver file s3://${store.bucket}/${r.key} (receiver ${r.receiver}, file ${r.file_index}, from ${r.source_path}; read through ${where}) ${wrong}`,
          });
        else receivers.push({ file: r.key.slice(scanFolder.length), receiver: r.receiver, fileIndex: r.file_index });
      }
      files.push({
        file: d.chunk.key.slice(scanFolder.length),
        start,
        stop,
        frameOffset: d.lima?.frame_offset ?? 0,
        ...(receivers.length > 0 ? { receivers } : {}),
      });
    }
  }
  if (errors.length > 0) {
    throw new ChunkCoverageError(
      `run ${run.runUid}: uploaded Lima files are not usable (${errors.length} problem${errors.length > 1 ? 's' : ''}): ${errors[0]!.message}`,
      errors,
      { runUid: run.runUid },
    );
  }
  return out;
}
