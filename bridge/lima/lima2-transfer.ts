/**
 * Lima2 streams (blissdata-lima2, src/core/bliss/lima2-files.ts): every receiver file is uploaded once
 * complete (under its own name; checkpoint `receivers`), and at the end the conductor's master file,
 * announced for every frame with the receiver files it reads recorded in its StreamDatum(s).
 */
import { readdir } from 'node:fs/promises';
import {
  completeLima2Files,
  lima2DatumParts,
  lima2FileHoles,
  type Lima2ReceiverFile,
  type Lima2Saving,
} from '../../src/core/bliss/lima2-files.js';
import type { LimaFileRange } from '../../src/core/bliss/lima-files.js';
import type { LimaFileReader } from './file-reader.js';
import type { LimaDatumPiece, LimaHooks, LimaStream } from './stream.js';

/** What the Lima2 transfer does through the Lima follower (its checkpoint steps). */
export interface LimaSteps {
  hooks: LimaHooks;
  files: LimaFileReader;
  ended(): boolean;
  /** The scan's detector folder key (`<dataset folder>/scan<NNNN>/`). */
  folderKey(): string;
  deliver(s: LimaStream, file: LimaFileRange, path: string, key: string, pieces: LimaDatumPiece[]): Promise<void>;
  recordMissing(s: LimaStream, file: LimaFileRange, path: string, problem: string, gap?: boolean): void;
  recordGap(s: LimaStream, start: number, stop: number): void;
}

export class Lima2Transfer {
  constructor(private readonly steps: LimaSteps) {}

  /**
   * Lima2: uploads every complete receiver file once (a receiver's file is complete once it started
   * the next one); at the end, once the conductor has written the master file, the remaining receiver
   * files and then the master file, announced by one StreamDatum for every frame: the master's virtual
   * dataset is what maps frames to receiver files (src/core/bliss/lima2-files.ts).
   */
  async transfer(s: LimaStream, saving: Lima2Saving, ending: boolean): Promise<void> {
    const frames = { fileNumber: 0, start: 0, stop: Math.max(1, s.saved) };
    if (ending && s.cp.committed >= s.saved) return;
    // At the end the conductor writes the master file once every frame is indexed: its presence says the receiver files are closed.
    const masterProblem = ending && s.saved > 0 ? await this.steps.files.waitForFile(s, saving.masterPath, frames) : undefined;
    if (ending && s.saved === 0) return; // nothing acquired: no file to expect
    let names: string[];
    try {
      names = await readdir(saving.folder);
    } catch (error) {
      if (!ending) return; // the folder may not exist before the first file
      this.steps.recordMissing(s, frames, saving.folder, `cannot be listed (${(error as Error).message})`);
      return;
    }
    // Once the stream ended every receiver file is uploaded, even without a master file: nothing else is lost.
    const files = completeLima2Files(saving.prefix, names, ending);
    const folderKey = this.steps.folderKey();
    // A receiver file that cannot be read is recorded; the others are uploaded all the same (nothing else is lost).
    let unreadable = 0;
    for (const file of files) {
      if (this.steps.ended()) return;
      if (!(await this.uploadReceiver(s, saving, file, folderKey))) unreadable++;
    }
    if (!ending) return;
    if (masterProblem) {
      this.steps.recordMissing(
        s,
        frames,
        saving.masterPath,
        `${masterProblem}: the Lima2 master file (written by the conductor at the end) maps the frames to the receiver files`,
      );
      return;
    }
    const holes = lima2FileHoles(saving.prefix, files);
    if (files.length === 0 || holes.length > 0) {
      this.steps.recordMissing(
        s,
        frames,
        saving.folder,
        holes.length > 0
          ? `lacks Lima2 receiver files: ${holes.join('; ')}`
          : `holds no Lima2 receiver file ${saving.prefix}_<receiver>_NNNNN.h5`,
      );
      return;
    }
    if (unreadable > 0) {
      // The master reads every receiver file: without one its frames cannot be announced. It is uploaded (not announced) beside
      // the receiver files for whoever repairs the run; the frames are a gap, the run fails listing the unreadable files.
      const kept = await this.steps.files.uploadWithRetry(
        s,
        `${folderKey}${saving.masterPath.slice(saving.folder.length)}`,
        saving.masterPath,
        frames,
      );
      if (typeof kept === 'string') this.steps.recordMissing(s, frames, saving.masterPath, kept);
      else this.steps.recordGap(s, s.cp.committed, s.saved);
      return;
    }
    const receiverFiles = files.map((f) => {
      const stored = s.cp.receivers![f.name]!;
      return {
        receiver: f.receiver,
        file_index: f.fileIndex,
        key: stored.key,
        bytes: stored.bytes,
        sha256: stored.sha256,
        source_path: `${saving.folder}${f.name}`,
      };
    });
    const master = saving.masterPath.slice(saving.folder.length);
    // One datum for every frame, or a few over contiguous frame ranges when the receiver records would not fit in one event.
    const pieces = lima2DatumParts(s.saved, receiverFiles).map((p) => ({
      range: { fileNumber: 0, start: p.start, stop: p.stop },
      frameOffset: p.start,
      lima2: { receiver_files: p.records },
    }));
    await this.steps.deliver(s, { fileNumber: 0, start: 0, stop: s.saved }, saving.masterPath, `${folderKey}${master}`, pieces);
  }

  /** One Lima2 receiver file, uploaded once under its own name (the master's virtual sources name it); false when it cannot be read. */
  private async uploadReceiver(s: LimaStream, saving: Lima2Saving, file: Lima2ReceiverFile, folderKey: string): Promise<boolean> {
    const receivers = (s.cp.receivers ??= {});
    if (receivers[file.name]) return true;
    const path = `${saving.folder}${file.name}`;
    if ((s.cp.missing ?? []).some((m) => m.path === path)) return false; // recorded once
    const frames = { fileNumber: file.fileIndex, start: 0, stop: Math.max(1, s.saved) };
    const upload = await this.steps.files.uploadWithRetry(s, `${folderKey}${file.name}`, path, frames);
    if (typeof upload === 'string') {
      // Which frames it holds only the master knows: the error is recorded now, the frames become a gap at the end.
      this.steps.recordMissing(s, frames, path, upload, false);
      return false;
    }
    receivers[file.name] = upload;
    this.steps.hooks.stats.bytesStaged += upload.bytes;
    this.steps.hooks.saveCheckpoint();
    this.steps.hooks.logger.info('Lima2 receiver file uploaded', {
      runUid: this.steps.hooks.runUid,
      stream: s.model.name,
      path,
      key: upload.key,
      receiver: file.receiver,
      file: file.fileIndex,
      bytes: upload.bytes,
      sha256: upload.sha256,
    });
    return true;
  }
}
