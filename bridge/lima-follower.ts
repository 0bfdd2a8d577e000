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
 * file below the scan's save folder and the operator's `--lima-root` folders), then uploaded from that same handle.
 *
 * Lima2 streams (blissdata-lima2, src/core/bliss/lima2-files.ts) take the same paths with other
 * files: each receiver file is uploaded once complete (under its own name; checkpoint `receivers`),
 * and at the end the conductor's master file, announced for every frame with the receiver files it
 * reads recorded in its StreamDatum(s).
 */
import { readdir } from 'node:fs/promises';
import { DetailType, EventSource } from '../src/core/contract/detail-types.js';
import type { RunError } from '../src/core/contract/generated-types.js';
import { dataPolicyOf, limaFileKey, scanDetectorFolder } from '../src/core/object-keys.js';
import type { ObjectStore, StoredObject } from '../src/core/ports.js';
import type { ChannelSpec } from '../src/core/event-model/channels.js';
import { lima2ResourceOf, limaDatumOf, limaResourceOf } from '../src/core/bliss/lima-documents.js';
import {
  completeLima2Files, lima2DatumParts, lima2FileHoles, parseLima2Saving, parseLima2Status, type Lima2DatumFiles, type Lima2ReceiverFile, type Lima2Saving,
} from '../src/core/bliss/lima2-files.js';
import {
  completeFrames, filesOf, formatFileNumber, frameLocation, isLima2Stream, isLimaStream, parseLimaSaving, parseLimaStatus, pathOutsideDataPolicyFolder, pathOutsideFolder, scanSaveFolder,
  type LimaFileRange, type LimaSaving,
} from '../src/core/bliss/lima-files.js';
import type { BlissScan, StreamModel } from '../src/core/bliss/scan-model.js';
import type { ScanSource } from '../src/core/bliss/scan-source.js';
import { SEAL_ENTRY_ID } from '../src/core/bliss/stream-decoding.js';
import type { Logger } from '../src/adapters/logger.js';
import { damagedLimaCheckpoint, type LimaStreamCheckpoint, type ScanCheckpoint } from './checkpoint/index.js';
import type { BridgeStats } from './bridge-stats.js';
import { RunFailure } from './errors.js';
import { hdf5SignatureProblem, openConfinedFile, type ConfinedFile } from './lima/confined-file.js';
import type { StagingSink } from './staging/sink.js';
import type { Stopper } from './staging/stopper.js';

/** Why a Lima stream could not be archived completely; the follower turns it into Run Failed. */
export class LimaRunError extends RunFailure {
  override name = 'LimaRunError';
}

export interface LimaOptions {
  flushIntervalMs: number;
  readCount: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long a missing or unreadable Lima file is waited for before it is reported (ms); default 60 s. */
  limaFileWaitMs?: number;
  /**
   * Operator-set folders (`--lima-root`): when given, a Lima file is read only if its real path is below one of them as
   * well as below the scan's save folder (which comes from Redis). Reaches here through the bridge's options object,
   * which the scan follower passes on as it is.
   */
  limaRoots?: readonly string[];
}

/** How long a missing Lima file is waited for by default (ms): files on NFS can appear late. */
export const DEFAULT_LIMA_FILE_WAIT_MS = 60_000;

export interface LimaHooks {
  runUid: string;
  scanKey: string;
  beamline: string;
  source: ScanSource;
  store: ObjectStore;
  logger: Logger;
  stats: BridgeStats;
  checkpoint: ScanCheckpoint;
  saveCheckpoint: () => void;
  /** The scan follower's staging sink (its ordered, retried publish and its retry backoff). */
  sink: StagingSink;
  /** The scan follower's stop: sleeps throw Interrupted once the bridge stops. */
  stopper: Stopper;
  /** A failure that ends the run now (malformed statuses, refused documents). */
  fail: (error: unknown) => void;
}

/** What RunStop says about the Lima streams. */
export interface LimaSummary {
  points: Record<string, number>;
  resources: number;
  datums: number;
  gaps: { stream: string; start: number; stop: number }[];
}

interface LimaStream {
  model: StreamModel;
  /** Lima (v1): a file pattern and frames per file. */
  saving?: LimaSaving;
  /** Lima2: a master file and its receivers' files (src/core/bliss/lima2-files.ts). */
  saving2?: Lima2Saving;
  detector: string;
  /** The scan's save folder (its scan file's folder): the only place its Lima files are read from. */
  saveFolder: string;
  cp: LimaStreamCheckpoint;
  /** Frames acquired (last_index + 1) and saved (last_index_saved + 1) as the latest status says. */
  acquired: number;
  saved: number;
  sealed: boolean;
  done?: Promise<void>;
  total?: number;
}

/** Every Lima stream of one scan. */
export class LimaStreams {
  private readonly streams = new Map<string, LimaStream>();
  private closed = false;
  private aborted = false;
  private scan?: BlissScan;

  constructor(private readonly hooks: LimaHooks, private readonly options: LimaOptions) {}

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
      throw new LimaRunError('Lima stream cannot be archived', [{ stream: model.name, message: (error as Error).message }], { cause: error });
    }
    // Paths come from Redis: the bridge reads nothing outside the scan's save folder (no /etc/passwd uploaded as a Lima file).
    const saveFolder = scanSaveFolder(scan.info);
    const outside = pathOutsideFolder(saving ? saving.filePath : saving2!.masterPath, saveFolder);
    if (outside || saveFolder === undefined) {
      throw new LimaRunError('Lima stream cannot be archived', [{
        stream: model.name,
        message: `Lima stream ${model.name}: ${saving ? 'file_path' : 'master_file'} ${outside ?? ''}; the bridge reads Lima files only below the scan file's folder`,
      }]);
    }
    // … and nothing outside the folder of the dataset the scan is archived in (its data policy): no other dataset's or proposal's files.
    const outsidePolicy = pathOutsideDataPolicyFolder(saving ? saving.filePath : saving2!.masterPath, dataPolicyOf(scan.identity, this.hooks.beamline));
    if (outsidePolicy) {
      throw new LimaRunError('Lima stream cannot be archived', [{
        stream: model.name,
        message: `Lima stream ${model.name}: ${saving ? 'file_path' : 'master_file'} ${outsidePolicy}; the bridge reads Lima files only below the scan's own data-policy folder`,
      }]);
    }
    const detector = model.name.split(':')[0] || model.name;
    for (const other of this.streams.values()) {
      // Files keep their names in the scan's detector folder: two streams must not write the same ones.
      const clash = saving && other.saving && other.detector === detector
        ? `${detector}_NNNN.h5`
        : saving2 && other.saving2 && other.saving2.prefix === saving2.prefix ? `${saving2.prefix}_master.h5 and ${saving2.prefix}_<receiver>_NNNNN.h5` : undefined;
      if (clash) {
        throw new LimaRunError('Lima stream cannot be archived', [{ stream: model.name, message: `Lima streams ${other.model.name} and ${model.name} would share the file names ${clash}` }]);
      }
    }
    const cp = (this.hooks.checkpoint.streams[model.name] ??= { committed: 0, datums: 0, gaps: [] }) as LimaStreamCheckpoint;
    const damaged = damagedLimaCheckpoint(cp);
    if (damaged) {
      throw new LimaRunError('the bridge checkpoint of this scan is damaged', [{ stream: model.name, message: `Lima stream ${model.name}: ${damaged}; fix or remove this scan's entry in the checkpoint file` }]);
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
          await this.transferLima2(s, s.saving2, ending);
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
            this.hooks.logger.warn('Lima frames acquired but not saved; recorded as missing', { runUid, stream: name, start: s.saved, stop: s.acquired });
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
   * Lima2: uploads every complete receiver file once (a receiver's file is complete once it started
   * the next one); at the end, once the conductor has written the master file, the remaining receiver
   * files and then the master file, announced by one StreamDatum for every frame: the master's virtual
   * dataset is what maps frames to receiver files (src/core/bliss/lima2-files.ts).
   */
  private async transferLima2(s: LimaStream, saving: Lima2Saving, ending: boolean): Promise<void> {
    const frames = { fileNumber: 0, start: 0, stop: Math.max(1, s.saved) };
    if (ending && s.cp.committed >= s.saved) return;
    // At the end the conductor writes the master file once every frame is indexed: its presence says the receiver files are closed.
    const masterProblem = ending && s.saved > 0 ? await this.waitForFile(s, saving.masterPath, frames) : undefined;
    if (ending && s.saved === 0) return; // nothing acquired: no file to expect
    let names: string[];
    try {
      names = await readdir(saving.folder);
    } catch (error) {
      if (!ending) return; // the folder may not exist before the first file
      this.recordMissing(s, frames, saving.folder, `cannot be listed (${(error as Error).message})`);
      return;
    }
    // Once the stream ended every receiver file is uploaded, even without a master file: nothing else is lost.
    const files = completeLima2Files(saving.prefix, names, ending);
    const folderKey = scanDetectorFolder(this.policy(), this.scan!.identity.number);
    // A receiver file that cannot be read is recorded; the others are uploaded all the same (nothing else is lost).
    let unreadable = 0;
    for (const file of files) {
      if (this.ended()) return;
      if (!await this.uploadReceiver(s, saving, file, folderKey)) unreadable++;
    }
    if (!ending) return;
    if (masterProblem) {
      this.recordMissing(s, frames, saving.masterPath, `${masterProblem}: the Lima2 master file (written by the conductor at the end) maps the frames to the receiver files`);
      return;
    }
    const holes = lima2FileHoles(saving.prefix, files);
    if (files.length === 0 || holes.length > 0) {
      this.recordMissing(s, frames, saving.folder, holes.length > 0 ? `lacks Lima2 receiver files: ${holes.join('; ')}` : `holds no Lima2 receiver file ${saving.prefix}_<receiver>_NNNNN.h5`);
      return;
    }
    if (unreadable > 0) {
      // The master reads every receiver file: without one its frames cannot be announced. It is uploaded (not announced) beside
      // the receiver files for whoever repairs the run; the frames are a gap, the run fails listing the unreadable files.
      const kept = await this.uploadWithRetry(s, `${folderKey}${saving.masterPath.slice(saving.folder.length)}`, saving.masterPath, frames);
      if (typeof kept === 'string') this.recordMissing(s, frames, saving.masterPath, kept);
      else this.recordGap(s, s.cp.committed, s.saved);
      return;
    }
    const receiverFiles = files.map((f) => {
      const stored = s.cp.receivers![f.name]!;
      return { receiver: f.receiver, file_index: f.fileIndex, key: stored.key, bytes: stored.bytes, sha256: stored.sha256, source_path: `${saving.folder}${f.name}` };
    });
    const master = saving.masterPath.slice(saving.folder.length);
    // One datum for every frame, or a few over contiguous frame ranges when the receiver records would not fit in one event.
    const pieces = lima2DatumParts(s.saved, receiverFiles).map((p) => ({
      range: { fileNumber: 0, start: p.start, stop: p.stop }, frameOffset: p.start, lima2: { receiver_files: p.records },
    }));
    await this.deliver(s, { fileNumber: 0, start: 0, stop: s.saved }, saving.masterPath, `${folderKey}${master}`, pieces);
  }

  /** One Lima2 receiver file, uploaded once under its own name (the master's virtual sources name it); false when it cannot be read. */
  private async uploadReceiver(s: LimaStream, saving: Lima2Saving, file: Lima2ReceiverFile, folderKey: string): Promise<boolean> {
    const receivers = (s.cp.receivers ??= {});
    if (receivers[file.name]) return true;
    const path = `${saving.folder}${file.name}`;
    if ((s.cp.missing ?? []).some((m) => m.path === path)) return false; // recorded once
    const frames = { fileNumber: file.fileIndex, start: 0, stop: Math.max(1, s.saved) };
    const upload = await this.uploadWithRetry(s, `${folderKey}${file.name}`, path, frames);
    if (typeof upload === 'string') {
      // Which frames it holds only the master knows: the error is recorded now, the frames become a gap at the end.
      this.recordMissing(s, frames, path, upload, false);
      return false;
    }
    receivers[file.name] = upload;
    this.hooks.stats.bytesStaged += upload.bytes;
    this.hooks.saveCheckpoint();
    this.hooks.logger.info('Lima2 receiver file uploaded', { runUid: this.hooks.runUid, stream: s.model.name, path, key: upload.key, receiver: file.receiver, file: file.fileIndex, bytes: upload.bytes, sha256: upload.sha256 });
    return true;
  }

  /**
   * Uploads one file holding frames [file.start, file.stop) (unless the checkpoint says it already
   * was) and announces it with the StreamDatums `pieces` (one, except for a Lima2 master file with
   * many receiver files), all emitted before the frames are committed.
   */
  private async deliver(
    s: LimaStream, file: LimaFileRange, path: string, key: string, pieces: { range: LimaFileRange; frameOffset: number; lima2?: Lima2DatumFiles }[],
  ): Promise<void> {
    const { runUid, store } = this.hooks;
    const name = s.model.name;
    const uploaded = (s.cp.uploaded ??= {});
    let stored = uploaded[file.fileNumber];
    if (!stored) {
      const upload = await this.uploadWithRetry(s, key, path, file, true);
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
      this.hooks.logger.info('Lima file uploaded', { runUid, stream: name, path, key, start: file.start, stop: file.stop, bytes: stored.bytes, sha256: stored.sha256 });
    }
    await this.hooks.sink.emit(pieces.map((p) => ({
      detailType: DetailType.StreamDatum, source: EventSource.Bridge,
      detail: limaDatumOf(runUid, store.bucket, name, p.range, p.frameOffset, path, stored!, p.lima2),
    })));
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
    this.hooks.logger.error('Lima file missing or unreadable; its frames are not archived', { runUid: this.hooks.runUid, stream: name, path, start: file.start, stop: file.stop, problem });
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

  /**
   * Opens the file confined to the scan's save folder and the Lima roots (openConfinedFile); while it does not exist or
   * cannot be read, tries again until limaFileWaitMs has passed when `wait`. Gives the open handle or what is wrong.
   */
  private async openWhenThere(s: LimaStream, path: string, file: LimaFileRange, wait: boolean): Promise<ConfinedFile> {
    const deadline = Date.now() + (wait ? this.options.limaFileWaitMs ?? DEFAULT_LIMA_FILE_WAIT_MS : 0);
    for (let attempt = 1; ; attempt++) {
      const opened = await openConfinedFile(path, s.saveFolder, this.options.limaRoots);
      if ('handle' in opened || !opened.wait || Date.now() >= deadline || this.ended()) return opened;
      if (attempt === 1) this.hooks.logger.warn('Lima file not there yet; waiting', { runUid: this.hooks.runUid, stream: s.model.name, path, start: file.start, stop: file.stop, problem: opened.problem });
      await this.hooks.stopper.sleep(Math.min(1_000, Math.max(50, deadline - Date.now())));
    }
  }

  /** Undefined once the file can be opened (a regular file below the allowed folders), then closed again; else what is wrong after waiting limaFileWaitMs. */
  private async waitForFile(s: LimaStream, path: string, file: LimaFileRange): Promise<string | undefined> {
    const opened = await this.openWhenThere(s, path, file, true);
    if ('problem' in opened) return opened.problem;
    await opened.handle.close().catch(() => undefined);
    return undefined;
  }

  /**
   * Opens the file (openWhenThere: nothing outside the scan's save folder and the Lima roots, no symbolic link, no FIFO)
   * and streams that open file to S3 (multipart above the part size), retried with backoff until stored or the bridge
   * stops. What is wrong instead when it cannot be opened, or becomes unreadable while it is read.
   */
  private async uploadWithRetry(s: LimaStream, key: string, path: string, file: LimaFileRange, wait = false): Promise<StoredObject | string> {
    const stream = s.model.name;
    const store = this.hooks.store;
    if (!store.uploadFileHandle) {
      throw new LimaRunError('Lima files cannot be uploaded', [{ stream, index: file.start, message: `the object store cannot upload an open file (uploadFileHandle): ${path} not read` }]);
    }
    const opened = await this.openWhenThere(s, path, file, wait);
    if ('problem' in opened) return opened.problem;
    try {
      // Checked on the handle that is uploaded: what goes to S3 as a Lima file is an HDF5 file.
      const notHdf5 = await hdf5SignatureProblem(opened.handle);
      if (notHdf5) return notHdf5;
      for (let attempt = 1; ; attempt++) {
        try {
          return await store.uploadFileHandle(key, opened.handle, 'application/x-hdf5');
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'EIO') return `could not be read while uploading (${code}: ${(error as Error).message})`;
          this.hooks.stats.s3Retries++;
          this.hooks.stats.lastError = `S3 upload ${key} from ${path}: ${String(error)}`;
          if (attempt === 1 || attempt % 10 === 0) {
            this.hooks.logger.warn('Lima file upload failed; retrying', { runUid: this.hooks.runUid, stream, path, key, start: file.start, stop: file.stop, attempt, error: String(error) });
          }
          if (this.ended()) throw new LimaRunError('Lima file upload abandoned: the run ended', [{ stream, index: file.start, message: `upload of ${path} abandoned` }]);
          await this.hooks.sink.backoff(attempt);
        }
      }
    } finally {
      await opened.handle.close().catch(() => undefined);
    }
  }

  private policy() {
    return dataPolicyOf(this.scan!.identity, this.hooks.beamline);
  }
}
