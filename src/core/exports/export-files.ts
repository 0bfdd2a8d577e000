/**
 * An export's files, from the builder's product to their final keys: written to the local
 * workspace, each uploaded to `<final>.tmp` and checked, then published to the final keys only once
 * every one of them is (all or none).
 */
import type { StoredObject } from '../ports.js';
import { publishLocalFile } from '../archive/publish-file.js';
import type { ExportFile } from './model.js';
import type { ExportFileRecord, ExportLocalFile, ExportWorkspace } from './ports.js';
import type { ExportServiceDeps } from './service-deps.js';
import { ExportWriteError } from './service-errors.js';

/** A file of the product and the key it is published at. */
export interface PlannedFile {
  file: ExportFile;
  key: string;
}

/** Records a build's progress (`step`, done of total) on its export record. */
export type Progress = (exportId: string, step: string, done: number, total: number, detail?: string) => Promise<void>;

const DEFAULT_VERIFY_MAX = 64 * 1024 * 1024;

export const contentTypeOf = (file: ExportFile): string => (file.kind === 'hdf5' ? 'application/x-hdf5' : file.contentType);

/**
 * Waits until `n` parties arrived, then runs `onAll` once; every party proceeds only if it
 * succeeded. One party failing before that fails every waiter.
 */
class Barrier {
  private arrived = 0;
  private readonly done: Promise<void>;
  private open!: () => void;
  private fail!: (error: unknown) => void;
  constructor(
    private readonly n: number,
    onAll: () => Promise<void>,
  ) {
    const all = new Promise<void>((resolve, reject) => {
      this.open = resolve;
      this.fail = reject;
    });
    this.done = all.then(onAll);
    this.done.catch(() => undefined);
  }
  arrive(): Promise<void> {
    if (++this.arrived === this.n) this.open();
    return this.done;
  }
  abort(error: unknown): void {
    this.fail(error);
  }
}

/** Writes every file of the product in the workspace; a failure is an ExportWriteError naming the file. */
export async function writeExportFiles(
  exportId: string,
  planned: readonly PlannedFile[],
  workspace: ExportWorkspace,
  progress: Progress,
): Promise<ExportLocalFile[]> {
  const locals: ExportLocalFile[] = [];
  for (const [i, { file, key }] of planned.entries()) {
    await progress(exportId, 'writing', i, planned.length, file.name);
    const name = key.slice(key.lastIndexOf('/') + 1);
    try {
      locals.push(file.kind === 'hdf5' ? await workspace.writeTree(name, file.tree) : await workspace.writeText(name, file.chunks()));
    } catch (error) {
      if (error instanceof ExportWriteError) throw error;
      throw new ExportWriteError(
        `writing ${file.name} of export ${exportId} failed: ${(error as Error).message}`,
        { exportId, key },
        { cause: error },
      );
    }
  }
  return locals;
}

/**
 * Every file to `<final>.tmp`, checked; then, only once all of them are, each to its final key.
 * A failure before that point leaves no final object (the barrier stops every copy).
 */
export async function publishExportFiles(
  deps: Pick<ExportServiceDeps, 'store' | 'verifyDownloadMaxBytes'>,
  exportId: string,
  planned: readonly PlannedFile[],
  locals: readonly ExportLocalFile[],
  progress: Progress,
  beforeFinal: (files: ExportFileRecord[]) => Promise<void>,
): Promise<ExportFileRecord[]> {
  await progress(exportId, 'publishing', 0, planned.length);
  const stored: ExportFileRecord[] = [];
  const describe = (object: StoredObject, i: number): ExportFileRecord => ({
    bucket: deps.store.bucket,
    key: object.key,
    bytes: object.bytes,
    sha256: object.sha256,
    name: planned[i]!.file.name,
    contentType: contentTypeOf(planned[i]!.file),
  });
  const barrier = new Barrier(planned.length, () => beforeFinal(planned.map((_, i) => stored[i]!)));
  const results = await Promise.allSettled(
    planned.map(async ({ key }, i) => {
      const local = locals[i]!;
      try {
        return await publishLocalFile(deps.store, local.path, local.bytes, key, {
          contentType: contentTypeOf(planned[i]!.file),
          verifyDownloadMaxBytes: deps.verifyDownloadMaxBytes ?? DEFAULT_VERIFY_MAX,
          context: { exportId },
          beforePublish: (object) => {
            stored[i] = describe(object, i);
            return barrier.arrive();
          },
        });
      } catch (error) {
        barrier.abort(error);
        throw error;
      }
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return (results as PromiseFulfilledResult<StoredObject>[]).map(({ value }, i) => describe(value, i));
}
