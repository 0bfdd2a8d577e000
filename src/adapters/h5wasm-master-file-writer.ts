/**
 * Writes a dataset's master NeXus file (src/core/datasets/model.ts `masterFilePlan`) with h5wasm:
 * one entry per scan as an external link to the scan file (a path relative to the master file, so
 * the links resolve wherever the dataset folder is downloaded as a whole) and an NXentry holding
 * every ICAT field at the path hdf5_cfg.xml gives, with its units.
 *
 * h5wasm comes through src/adapters/h5wasm-runtime.ts. As for scan files, every h5wasm call runs
 * with `Date.now()` pinned to the plan's time, so object times are the dataset's close time and two
 * writes of the same plan give the same bytes.
 */
import {
  checkedHdf5,
  closeFile,
  createDatasetAt,
  createGroupAt,
  externalLink,
  loadH5wasm,
  openHdf5File,
  type Dataset,
  type Group,
  type H5File,
} from './h5wasm-runtime.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalFile } from '../core/archive/ports.js';
import { ArchiveError } from '../core/errors.js';
import type { MasterFilePlan } from '../core/datasets/model.js';
import type { MasterFileWriter } from '../core/datasets/ports.js';

/** HDF5 trouble while writing a master file, with the HDF5 diagnostic as `cause`. */
export class MasterFileWriteError extends ArchiveError {
  override name = 'MasterFileWriteError';
}

/** One h5wasm call, its HDF5 errors and statuses checked (h5wasm-runtime.ts); the error names the file and the object. */
function checked<T>(file: string, timeMs: number, what: string, object: string | undefined, fn: () => T): T {
  return checkedHdf5(
    { file, timeMs, what, ...(object ? { object } : {}) },
    fn,
    (message, cause) => new MasterFileWriteError(message, { key: file, ...(object ? { dataset: object } : {}) }, { cause }),
    (error) => error instanceof ArchiveError,
  );
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class H5wasmMasterFileWriter implements MasterFileWriter {
  private constructor(private readonly workDir: string) {}

  static async create(options: { workDir?: string } = {}): Promise<H5wasmMasterFileWriter> {
    await loadH5wasm();
    return new H5wasmMasterFileWriter(options.workDir ?? tmpdir());
  }

  async write(plan: MasterFilePlan): Promise<LocalFile> {
    const dir = await mkdtemp(join(this.workDir, 'master-'));
    const path = join(dir, plan.rootAttrs.file_name ?? 'master.h5');
    const dispose = () => rm(dir, { recursive: true, force: true });
    const time = Math.round(plan.fileTime * 1000);
    try {
      const at = <T>(what: string, object: string | undefined, fn: () => T): T => checked(path, time, what, object, fn);
      const file = at('create the file', undefined, () => openHdf5File(path, 'w'));
      let open: H5File | undefined = file;
      try {
        at('set the root attributes', '/', () => {
          for (const [name, value] of Object.entries(plan.rootAttrs)) file.create_attribute(name, value);
        });
        for (const link of plan.links)
          at(`link to ${link.file}:${link.path}`, `/${link.name}`, () => externalLink(file, link.file, link.path, link.name));
        const entry = at('create the group', `/${plan.metadataEntry}`, () => {
          const group = createGroupAt(file, plan.metadataEntry);
          group.create_attribute('NX_class', 'NXentry');
          return group;
        });
        for (const group of plan.groups) {
          at('create the group', `${entry.path}/${group.path}`, () =>
            createGroupAt(entry, group.path).create_attribute('NX_class', group.nxClass),
          );
        }
        for (const field of plan.fields) {
          at('write the dataset', `${entry.path}/${field.path}`, () => {
            const slash = field.path.lastIndexOf('/');
            const parent = slash < 0 ? entry : (entry.get(field.path.slice(0, slash)) as Group);
            const name = field.path.slice(slash + 1);
            const value = field.value;
            const dataset: Dataset =
              typeof value === 'string'
                ? createDatasetAt(parent, { name, data: value })
                : createDatasetAt(parent, {
                    name,
                    data: new Float64Array(Array.isArray(value) ? value : [value]),
                    shape: Array.isArray(value) ? [value.length] : [],
                    dtype: '<d',
                  });
            if (field.units) dataset.create_attribute('units', field.units);
            dataset.create_attribute('icat_name', field.icatName);
          });
        }
        open = undefined;
        at('close the file', undefined, () => closeFile(file));
      } finally {
        if (open) {
          try {
            open.close();
          } catch {
            /* the first error is the one to report */
          }
        }
      }
      // Read back: every external link and ICAT field is where the plan puts it.
      at('read the file back', undefined, () => {
        const reread = openHdf5File(path, 'r');
        try {
          const missing = [
            ...plan.links.filter((l) => reread.get_external_link(l.name)?.obj_path !== l.path).map((l) => `/${l.name}`),
            ...plan.fields
              .map((f) => `/${plan.metadataEntry}/${f.path}`)
              .filter((p) => (reread.get(p) as Dataset | null)?.type !== 'Dataset'),
          ];
          if (missing.length > 0)
            throw new MasterFileWriteError(
              `master file ${path} read back lacks ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`,
              { key: path },
            );
        } finally {
          reread.close();
        }
      });
      const { size } = await stat(path);
      return { path, bytes: size, sha256: await sha256File(path), dispose };
    } catch (error) {
      await dispose();
      throw error;
    }
  }
}
