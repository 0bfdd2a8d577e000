/**
 * Lima detector streams of one scan (blissdata `LimaStream`, see src/core/bliss/lima-files.ts):
 * the images are in HDF5 files Lima writes on the beamline disk; Redis only carries statuses
 * `{last_index, last_index_saved}`. For each Lima stream this follower reads the statuses, works out
 * which files are complete, uploads each complete file once, as it is, to
 * `<dataset folder>/scan<NNNN>/<detector>_<NNNN>.h5` (next to where the scan file will be
 * published, so the scan file's relative external links resolve in S3 and in a downloaded dataset
 * folder), and announces it with a StreamDatum (frame range, file, bytes, sha256).
 *
 * Durability (the scan's checkpoint, per stream): `committed` is the first frame not yet uploaded
 * and announced, `datums` the files announced, `uploaded` the files uploaded but not yet announced
 * (a restart announces them without uploading again), `missing` the files that could not be read.
 * A restart therefore never uploads a committed file again and never skips one.
 *
 * A file that is missing or unreadable is waited for (`limaFileWaitMs`: files on NFS can appear
 * late), then recorded as an error naming the file and the frames; the other files and the other
 * channels keep flowing, and the run ends with Run Failed listing every such file.
 *
 * Paths come from Redis, so every file is opened first and checked through its handle (openConfinedFile: a regular
 * file below the scan's save folder and the operator's `--lima-root` folders), then uploaded from that same handle
 * (bridge/lima/file-reader.ts).
 *
 * Lima2 streams (blissdata-lima2, src/core/bliss/lima2-files.ts) take the same paths with other
 * files (bridge/lima/lima2-transfer.ts): each receiver file is uploaded once complete (under its own
 * name; checkpoint `receivers`), and at the end the conductor's master file, announced for every
 * frame with the receiver files it reads recorded in its StreamDatum(s).
 *
 * This file is the Lima streams' state machine: statuses read, files due, their checkpoint steps
 * (uploaded, announced, missing, gaps).
 */
import { DetailType, EventSource } from '../src/core/contract/detail-types.js';
import type { RunError } from '../src/core/contract/generated-types.js';
import { dataPolicyOf, limaFileKey, scanDetectorFolder } from '../src/core/object-keys.js';
import type { ChannelSpec } from '../src/core/event-model/channels.js';
import { lima2ResourceOf, limaDatumOf, limaResourceOf } from '../src/core/bliss/lima-documents.js';
import { parseLima2Saving, parseLima2Status, type Lima2Saving } from '../src/core/bliss/lima2-files.js';
import {
  completeFrames,
  filesOf,
  formatFileNumber,
  frameLocation,
  isLima2Stream,
  isLimaStream,
  parseLimaSaving,
  parseLimaStatus,
  pathOutsideDataPolicyFolder,
  pathOutsideFolder,
  scanSaveFolder,
  type LimaFileRange,
  type LimaSaving,
} from '../src/core/bliss/lima-files.js';
import type { BlissScan, StreamModel } from '../src/core/bliss/scan-model.js';
import { SEAL_ENTRY_ID } from '../src/core/bliss/stream-decoding.js';
import { damagedLimaCheckpoint, type LimaStreamCheckpoint } from './checkpoint/index.js';
import { LimaFileReader } from './lima/file-reader.js';
import { Lima2Transfer } from './lima/lima2-transfer.js';
import { LimaRunError, type LimaDatumPiece, type LimaHooks, type LimaOptions, type LimaStream } from './lima/stream.js';

export { DEFAULT_LIMA_FILE_WAIT_MS, LimaRunError, type LimaHooks, type LimaOptions } from './lima/stream.js';

/** What RunStop says about the Lima streams. */
export interface LimaSummary {
  points: Record<string, number>;
  resources: number;
  datums: number;
  gaps: { stream: string; start: number; stop: number }[];
}

/** Every Lima stream of one scan. */
export class LimaStreams {
  private readonly streams = new Map<string, LimaStream>();
  private closed = false;
  private aborted = false;
  private scan?: BlissScan;
  /** Files opened confined to the allowed folders and uploaded (bridge/lima/file-reader.ts). */
  private readonly files: LimaFileReader;
  /** Lima2 receiver and master files (bridge/lima/lima2-transfer.ts). */
  private readonly lima2: Lima2Transfer;

  constructor(
    private readonly hooks: LimaHooks,
    private readonly options: LimaOptions,
  ) {
    const ended = () => this.ended();
    this.files = new LimaFileReader(hooks, options, ended);
    this.lima2 = new Lima2Transfer({
      hooks,
      files: this.files,
      ended,
      folderKey: () => scanDetectorFolder(this.policy(), this.scan!.identity.number),
      deliver: (...a) => this.deliver(...a),
      recordMissing: (...a) => this.recordMissing(...a),
      recordGap: (...a) => this.recordGap(...a),
    });
  }

  get size(): number {
    return this.streams.size;
  }

  /**
   * Takes a data stream if it is a Lima or Lima2 one and returns its descriptor entry; undefined for
   * any other stream. (The `'skipped'` answer is kept for the scan follower's dispatch; no kind of
   * image stream is skipped any more.)
   */
  claim(model: StreamModel, scan: BlissScan): ChannelSpec | 'skipped' | undefined {
    const lima2 = isLima2Stream(model);
    if (!lima2 && !isLimaStream(model)) return undefined;
    this.scan = scan;
    let saving: LimaSaving | undefined;
    let saving2: Lima2Saving | undefined;
    try {
      if (lima2) saving2 = parseLima2Saving(model.name, model.info, model.encoding);
      else saving = parseLimaSaving(model.name, model.info);
    } catch (error) {
      throw new LimaRunError('Lima stream cannot be archived', [{ stream: model.name, message: (error as Error).message }], {
        cause: error,
      });
    }
    // Paths come from Redis: the bridge reads nothing outside the scan's save folder (no /etc/passwd uploaded as a Lima file).
    const saveFolder = scanSaveFolder(scan.info);
    const outside = pathOutsideFolder(saving ? saving.filePath : saving2!.masterPath, saveFolder);
    if (outside || saveFolder === undefined) {
      throw new LimaRunError('Lima stream cannot be archived', [
        {
          stream: model.name,
          message: `Lima stream ${model.name}: ${saving ? 'file_path' : 'master_file'} ${outside ?? ''}; the bridge reads Lima files only below the scan file's folder`,
        },
      ]);
    }
    // … and nothing outside the folder of the dataset the scan is archived in (its data policy): no other dataset's or proposal's files.
    const outsidePolicy = pathOutsideDataPolicyFolder(
      saving ? saving.filePath : saving2!.masterPath,
      dataPolicyOf(scan.identity, this.hooks.beamline),
    );
    if (outsidePolicy) {
      throw new LimaRunError('Lima stream cannot be archived', [
        {
          stream: model.name,
          message: `Lima stream ${model.name}: ${saving ? 'file_path' : 'master_file'} ${outsidePolicy}; the bridge reads Lima files only below the scan's own data-policy folder`,
        },
      ]);
    }
    const detector = model.name.split(':')[0] || model.name;
    for (const other of this.streams.values()) {
      // Files keep their names in the scan's detector folder: two streams must not write the same ones.
      const clash =
        saving && other.saving && other.detector === detector
          ? `${detector}_NNNN.h5`
          : saving2 && other.saving2 && other.saving2.prefix === saving2.prefix
            ? `${saving2.prefix}_master.h5 and ${saving2.prefix}_<receiver>_NNNNN.h5`
            : undefined;
      if (clash) {
        throw new LimaRunError('Lima stream cannot be archived', [
          { stream: model.name, message: `Lima streams ${other.model.name} and ${model.name} would share the file names ${clash}` },
        ]);
      }
    }
    const cp = (this.hooks.checkpoint.streams[model.name] ??= { committed: 0, datums: 0, gaps: [] }) as LimaStreamCheckpoint;
    const damaged = damagedLimaCheckpoint(cp);
    if (damaged) {
      throw new LimaRunError('the bridge checkpoint of this scan is damaged', [
        { stream: model.name, message: `Lima stream ${model.name}: ${damaged}; fix or remove this scan's entry in the checkpoint file` },
      ]);
    }
    this.streams.set(model.name, { model, saving, saving2, detector, saveFolder, cp, acquired: 0, saved: 0, sealed: false });
    const frames = (saving ?? saving2)!;
    return { name: model.name, streamPk: model.pk, dtype: frames.dtype, shape: [...frames.frameShape] };
  }

  /** The run ended (failed, interrupted): every Lima loop stops at its next step, nothing more is announced. */
  abort(): void {
    this.aborted = true;
  }

  private ended(): boolean {
    return this.aborted || this.hooks.stopper.stopping;
  }

  /** Starts following every claimed stream (after RunStart and the descriptor were accepted). */
  start(): void {
    for (const stream of this.streams.values()) {
      if (this.aborted) return;
      stream.done ??= this.follow(stream).catch((error: unknown) => {
        if (this.ended()) return;
        this.hooks.fail(error);
      });
    }
  }

  /** Frames read and committed, for the follower's status. */
  progress(): { read: number; committed: number } {
    let read = 0;
    let committed = 0;
    for (const s of this.streams.values()) {
      read += Math.max(s.saved, s.cp.committed);
      committed += s.cp.committed;
    }
    return { read, committed };
  }

  /**
   * The scan is CLOSED: streams not sealed yet are ended with the last status after two quiet
   * reads. Resolves once every file is uploaded and announced; throws LimaRunError when files
   * were missing or unreadable.
   */
  async finish(): Promise<LimaSummary> {
    this.closed = true;
    this.start();
    await Promise.all([...this.streams.values()].map((s) => s.done));
    const errors: RunError[] = [];
    const summary: LimaSummary = { points: {}, resources: 0, datums: 0, gaps: [] };
    for (const [name, s] of this.streams) {
      for (const m of s.cp.missing ?? []) errors.push({ stream: name, index: m.start, message: m.message });
      summary.points[name] = s.total ?? s.cp.committed;
      summary.resources += s.cp.resource ? 1 : 0;
      summary.datums += s.cp.datums;
      summary.gaps.push(...s.cp.gaps.map((g) => ({ stream: name, ...g })));
    }
    if (errors.length > 0) throw new LimaRunError('Lima image files are missing or unreadable', errors);
    return summary;
  }

  private async follow(s: LimaStream): Promise<void> {
    const { runUid } = this.hooks;
    const name = s.model.name;
    if (!s.cp.resource) {
      const folder = scanDetectorFolder(this.policy(), this.scan!.identity.number);
      const bucket = this.hooks.store.bucket;
      const detail = s.saving2 ? lima2ResourceOf(runUid, bucket, folder, s.saving2) : limaResourceOf(runUid, bucket, folder, s.saving!);
      await this.hooks.sink.emit([{ detailType: DetailType.StreamResource, source: EventSource.Bridge, detail }]);
      s.cp.resource = true;
      this.hooks.saveCheckpoint();
    }
    const reader = this.hooks.source.openReader();
    try {
      let cursor = '0-0';
      let quiet = 0;
      while (!this.ended()) {
        const read = await reader.read(new Map([[s.model.key, cursor]]), this.options.readCount, this.options.flushIntervalMs);
        const entries = read.get(s.model.key) ?? [];
        for (const entry of entries) {
          cursor = entry.id;
          if (entry.id === SEAL_ENTRY_ID) {
            s.sealed = true;
            continue;
          }
          const index = Number(entry.id.split('-')[0]);
          if (s.saving2) {
            // Lima2: frames available in the backend (saved by its receivers when saving is on).
            const frames = parseLima2Status(name, index, entry.fields.get('payload'));
            s.acquired = Math.max(s.acquired, frames);
            s.saved = Math.max(s.saved, frames);
            continue;
          }
          const status = parseLimaStatus(name, index, entry.fields.get('payload'));
          s.acquired = Math.max(s.acquired, status.lastIndex + 1);
          s.saved = Math.max(s.saved, status.lastIndexSaved + 1);
        }
        quiet = entries.length > 0 ? 0 : quiet + 1;
        const ending = s.sealed || (this.closed && quiet >= 2);
        if (this.closed && !s.sealed && ending) {
          this.hooks.logger.warn('Lima stream not sealed at CLOSED; taking the frames saved', { runUid, stream: name, saved: s.saved });
        }
        if (s.saving2) {
          await this.lima2.transfer(s, s.saving2, ending);
        } else {
          const ready = completeFrames(s.saving!, s.saved - 1, ending);
          for (const file of filesOf(s.saving!, s.cp.committed, ready, name)) {
            if (this.ended()) return;
            await this.transfer(s, file);
          }
        }
        if (ending) {
          if (s.acquired > s.saved && s.cp.committed === s.saved && !s.cp.gaps.some((g) => g.stop === s.acquired)) {
            // Frames the detector acquired but never saved: recorded as missing, never invented.
            this.hooks.logger.warn('Lima frames acquired but not saved; recorded as missing', {
              runUid,
              stream: name,
              start: s.saved,
              stop: s.acquired,
            });
            this.hooks.stats.gaps++;
            s.cp.gaps.push({ start: s.saved, stop: s.acquired });
            s.cp.committed = s.acquired;
            this.hooks.saveCheckpoint();
          }
          s.total = Math.max(s.cp.committed, s.acquired);
          return;
        }
      }
    } finally {
      await reader.close().catch(() => undefined);
    }
  }

  /** Uploads one complete Lima file (unless the checkpoint says it already was) and announces it. */
  private async transfer(s: LimaStream, file: LimaFileRange): Promise<void> {
    const saving = s.saving!;
    const path = formatFileNumber(saving.filePath, file.fileNumber, s.model.name);
    const key = limaFileKey(this.policy(), this.scan!.identity.number, s.detector, file.fileNumber);
    await this.deliver(s, file, path, key, [{ range: file, frameOffset: frameLocation(saving, file.start).indexInFile }]);
  }

  /**
   * Uploads one file holding frames [file.start, file.stop) (unless the checkpoint says it already
   * was) and announces it with the StreamDatums `pieces` (one, except for a Lima2 master file with
   * many receiver files), all emitted before the frames are committed.
   */
  private async deliver(s: LimaStream, file: LimaFileRange, path: string, key: string, pieces: LimaDatumPiece[]): Promise<void> {
    const { runUid, store } = this.hooks;
    const name = s.model.name;
    const uploaded = (s.cp.uploaded ??= {});
    let stored = uploaded[file.fileNumber];
    if (!stored) {
      const upload = await this.files.uploadWithRetry(s, key, path, file, true);
      if (typeof upload === 'string') {
        this.recordMissing(s, file, path, upload);
        return;
      }
      stored = upload;
      uploaded[file.fileNumber] = stored;
      if (this.ended()) {
        this.hooks.saveCheckpoint();
        return;
      }
      this.hooks.saveCheckpoint();
      this.hooks.logger.info('Lima file uploaded', {
        runUid,
        stream: name,
        path,
        key,
        start: file.start,
        stop: file.stop,
        bytes: stored.bytes,
        sha256: stored.sha256,
      });
    }
    await this.hooks.sink.emit(
      pieces.map((p) => ({
        detailType: DetailType.StreamDatum,
        source: EventSource.Bridge,
        detail: limaDatumOf(runUid, store.bucket, name, p.range, p.frameOffset, path, stored!, p.lima2),
      })),
    );
    delete uploaded[file.fileNumber];
    s.cp.committed = file.stop;
    s.cp.datums += pieces.length;
    this.hooks.stats.chunksStaged++;
    this.hooks.stats.pointsStaged += file.stop - file.start;
    this.hooks.stats.bytesStaged += stored.bytes;
    this.hooks.saveCheckpoint();
  }

  /**
   * The frames of a file that cannot be read: recorded (error, gap), the stream moves on to the next file. Without `gap` (a
   * Lima2 receiver file, whose frames only the master knows) only the error is recorded; the gap comes at the end (recordGap).
   */
  private recordMissing(s: LimaStream, file: LimaFileRange, path: string, problem: string, gap = true): void {
    const name = s.model.name;
    const message = `Lima file ${path} (frames [${file.start}, ${file.stop}) of ${name}) ${problem}`;
    this.hooks.stats.errors++;
    this.hooks.stats.lastError = message;
    this.hooks.logger.error('Lima file missing or unreadable; its frames are not archived', {
      runUid: this.hooks.runUid,
      stream: name,
      path,
      start: file.start,
      stop: file.stop,
      problem,
    });
    (s.cp.missing ??= []).push({ start: file.start, stop: file.stop, path, message });
    if (gap) {
      s.cp.gaps.push({ start: file.start, stop: file.stop });
      s.cp.committed = file.stop;
    }
    this.hooks.saveCheckpoint();
  }

  /** Frames [start, stop) are not archived (their files were recorded missing): a gap, and the stream's committed index moves past them. */
  private recordGap(s: LimaStream, start: number, stop: number): void {
    if (stop > start) s.cp.gaps.push({ start, stop });
    s.cp.committed = Math.max(s.cp.committed, stop);
    this.hooks.saveCheckpoint();
  }

  private policy() {
    return dataPolicyOf(this.scan!.identity, this.hooks.beamline);
  }
}
