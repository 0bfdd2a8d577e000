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
import { atFixedTime, loadH5wasm, openHdf5File, type Group } from './h5wasm-runtime.js';
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

function pinned<T>(timeMs: number, what: string, fn: () => T): T {
  return atFixedTime(timeMs, fn, (diagnostic, cause) => new MasterFileWriteError(`HDF5 could not ${what}: ${diagnostic}`, {}, { cause }));
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
      pinned(time, `write the master file ${path}`, () => {
        const file = openHdf5File(path, 'w');
        try {
          for (const [name, value] of Object.entries(plan.rootAttrs)) file.create_attribute(name, value);
          for (const link of plan.links) file.create_external_link(link.file, link.path, link.name);
          const entry = file.create_group(plan.metadataEntry);
          entry.create_attribute('NX_class', 'NXentry');
          for (const group of plan.groups) {
            const created = entry.create_group(group.path);
            created.create_attribute('NX_class', group.nxClass);
          }
          for (const field of plan.fields) {
            const slash = field.path.lastIndexOf('/');
            const parent = slash < 0 ? entry : (entry.get(field.path.slice(0, slash)) as Group);
            const name = field.path.slice(slash + 1);
            const value = field.value;
            const dataset = typeof value === 'string'
              ? parent.create_dataset({ name, data: value })
              : parent.create_dataset({ name, data: new Float64Array(Array.isArray(value) ? value : [value]), shape: Array.isArray(value) ? [value.length] : [], dtype: '<d' });
            if (field.units) dataset.create_attribute('units', field.units);
            dataset.create_attribute('icat_name', field.icatName);
          }
        } finally {
          file.close();
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
