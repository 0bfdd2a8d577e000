/**
 * The local scratch space of one export build (src/core/exports/ports.ts `ExportWorkspace`): a
 * private temporary folder, HDF5 trees written by the h5wasm tree writer, text as UTF-8, removed
 * as a whole by `dispose`.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hdf5Tree } from '../core/exports/model.js';
import type { ExportLocalFile, ExportWorkspace } from '../core/exports/ports.js';
import { InvalidInputError } from '../core/errors.js';
import { writeHdf5Tree } from './h5wasm-tree-writer.js';

/** A workspace file name is one path segment (the service passes sanitised key segments). */
function checkName(name: string): string {
  if (!/^[A-Za-z0-9._~-]+$/.test(name) || /^\.+$/.test(name)) throw new InvalidInputError(`${JSON.stringify(name)} is not a safe local file name`, { name });
  return name;
}

export async function createLocalExportWorkspace(options: { fileTimeMs: number; root?: string }): Promise<ExportWorkspace> {
  const dir = await mkdtemp(join(options.root ?? tmpdir(), 'export-'));
  const sizeOf = async (path: string): Promise<ExportLocalFile | undefined> => {
    try {
      return { path, bytes: (await stat(path)).size };
    } catch {
      return undefined;
    }
  };
  return {
    async writeTree(name: string, tree: Hdf5Tree): Promise<ExportLocalFile> {
      return writeHdf5Tree(tree, join(dir, checkName(name)), { fileTimeMs: options.fileTimeMs });
    },
    async writeText(name: string, text: string): Promise<ExportLocalFile> {
      const path = join(dir, checkName(name));
      await writeFile(path, text, 'utf8');
      return { path, bytes: (await stat(path)).size };
    },
    partial: async (name: string) => sizeOf(join(dir, checkName(name))),
    async dispose(): Promise<void> {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
