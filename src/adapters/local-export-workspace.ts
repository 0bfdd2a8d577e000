/**
 * The local scratch space of one export build (src/core/exports/ports.ts `ExportWorkspace`): a
 * private temporary folder, HDF5 trees written by the h5wasm tree writer, text streamed as UTF-8,
 * the runs' scan files under `inputs/`, removed as a whole by `dispose`.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hdf5Tree } from '../core/exports/model.js';
import type { ExportLocalFile, ExportWorkspace } from '../core/exports/ports.js';
import { InvalidInputError } from '../core/errors.js';
import { writeHdf5Tree } from './h5wasm-tree-writer.js';

/** A workspace file name is one path segment (the service passes sanitised key segments). */
function checkName(name: string): string {
  if (!/^[A-Za-z0-9._~-]+$/.test(name) || /^\.+$/.test(name))
    throw new InvalidInputError(`${JSON.stringify(name)} is not a safe local file name`, { name });
  return name;
}

export async function createLocalExportWorkspace(options: { fileTimeMs: number; root?: string }): Promise<ExportWorkspace> {
  const dir = await mkdtemp(join(options.root ?? tmpdir(), 'export-'));
  // Inputs (the runs' scan files) beside, not among, the export's files.
  const inputs = join(dir, 'inputs');
  await mkdir(inputs);
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
    async writeText(name: string, chunks: Iterable<string>): Promise<ExportLocalFile> {
      const path = join(dir, checkName(name));
      // Each piece is made when the file can take it (backpressure): one piece in memory at a time.
      await pipeline(Readable.from(chunks, { highWaterMark: 1 }), createWriteStream(path));
      return { path, bytes: (await stat(path)).size };
    },
    inputPath: (name: string) => join(inputs, checkName(name)),
    partial: async (name: string) => sizeOf(join(dir, checkName(name))),
    async dispose(): Promise<void> {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
