/**
 * Lima files read from the beamline disk: opened confined (openConfinedFile: a regular file below the
 * scan's save folder and the operator's `--lima-root` folders, no symbolic link, no FIFO), waited for
 * while they are not there yet (files on NFS can appear late, `limaFileWaitMs`), checked to be HDF5
 * on the handle that is uploaded, and streamed from that handle to S3 with retry.
 */
import type { StoredObject } from '../../src/core/ports.js';
import type { LimaFileRange } from '../../src/core/bliss/lima-files.js';
import { hdf5SignatureProblem, openConfinedFile, type ConfinedFile } from './confined-file.js';
import { DEFAULT_LIMA_FILE_WAIT_MS, LimaRunError, type LimaHooks, type LimaOptions, type LimaStream } from './stream.js';

export class LimaFileReader {
  /** `ended`: the run ended or the bridge stops (waits end, uploads are abandoned). */
  constructor(
    private readonly hooks: LimaHooks,
    private readonly options: LimaOptions,
    private readonly ended: () => boolean,
  ) {}

  /**
   * Opens the file confined to the scan's save folder and the Lima roots (openConfinedFile); while it does not exist or
   * cannot be read, tries again until limaFileWaitMs has passed when `wait`. Gives the open handle or what is wrong.
   */
  private async openWhenThere(s: LimaStream, path: string, file: LimaFileRange, wait: boolean): Promise<ConfinedFile> {
    const deadline = Date.now() + (wait ? (this.options.limaFileWaitMs ?? DEFAULT_LIMA_FILE_WAIT_MS) : 0);
    for (let attempt = 1; ; attempt++) {
      const opened = await openConfinedFile(path, s.saveFolder, this.options.limaRoots);
      if ('handle' in opened || !opened.wait || Date.now() >= deadline || this.ended()) return opened;
      if (attempt === 1)
        this.hooks.logger.warn('Lima file not there yet; waiting', {
          runUid: this.hooks.runUid,
          stream: s.model.name,
          path,
          start: file.start,
          stop: file.stop,
          problem: opened.problem,
        });
      await this.hooks.stopper.sleep(Math.min(1_000, Math.max(50, deadline - Date.now())));
    }
  }

  /** Undefined once the file can be opened (a regular file below the allowed folders), then closed again; else what is wrong after waiting limaFileWaitMs. */
  async waitForFile(s: LimaStream, path: string, file: LimaFileRange): Promise<string | undefined> {
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
  async uploadWithRetry(s: LimaStream, key: string, path: string, file: LimaFileRange, wait = false): Promise<StoredObject | string> {
    const stream = s.model.name;
    const store = this.hooks.store;
    if (!store.uploadFileHandle) {
      throw new LimaRunError('Lima files cannot be uploaded', [
        { stream, index: file.start, message: `the object store cannot upload an open file (uploadFileHandle): ${path} not read` },
      ]);
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
          if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'EIO')
            return `could not be read while uploading (${code}: ${(error as Error).message})`;
          this.hooks.stats.s3Retries++;
          this.hooks.stats.lastError = `S3 upload ${key} from ${path}: ${String(error)}`;
          if (attempt === 1 || attempt % 10 === 0) {
            this.hooks.logger.warn('Lima file upload failed; retrying', {
              runUid: this.hooks.runUid,
              stream,
              path,
              key,
              start: file.start,
              stop: file.stop,
              attempt,
              error: String(error),
            });
          }
          if (this.ended())
            throw new LimaRunError('Lima file upload abandoned: the run ended', [
              { stream, index: file.start, message: `upload of ${path} abandoned` },
            ]);
          await this.hooks.sink.backoff(attempt);
        }
      }
    } finally {
      await opened.handle.close().catch(() => undefined);
    }
  }
}
