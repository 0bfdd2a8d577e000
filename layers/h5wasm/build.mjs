// Stages the h5wasm Lambda layer: copies the installed h5wasm package (the version pinned by the
// root package-lock.json) into layers/h5wasm/build/nodejs/node_modules/h5wasm, the path Lambda
// puts on the module search path (/opt/nodejs/node_modules). The CDK app calls this before it
// synthesizes; `node layers/h5wasm/build.mjs` does it by hand.
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const layerDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(layerDir, '..', '..');

/** What the layer needs at run time: the Node and ESM builds (the iife build is for browsers). */
const INCLUDED = ['package.json', 'LICENSE.txt', 'dist/node', 'dist/esm'];

/**
 * Copies h5wasm into the layer's build directory and returns that directory (the asset root).
 * Idempotent: an up-to-date copy of the same version is left as it is.
 */
export function buildH5wasmLayer() {
  const source = join(repoRoot, 'node_modules', 'h5wasm');
  if (!existsSync(join(source, 'package.json'))) {
    throw new Error(`h5wasm is not installed at ${source}; run npm ci at the repository root first`);
  }
  const buildDir = join(layerDir, 'build');
  const target = join(buildDir, 'nodejs', 'node_modules', 'h5wasm');
  const version = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  const upToDate =
    existsSync(join(target, 'package.json')) &&
    version(target) === version(source) &&
    INCLUDED.every((entry) => existsSync(join(target, entry)));
  if (!upToDate) {
    // Several synthesizing processes (parallel test files) may get here at once: each copies into
    // its own folder and renames it into place, so no process ever sees a half-copied layer.
    const staging = `${buildDir}.tmp-${process.pid}`;
    const stagedTarget = join(staging, 'nodejs', 'node_modules', 'h5wasm');
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(stagedTarget, { recursive: true });
    for (const entry of INCLUDED) {
      cpSync(join(source, entry), join(stagedTarget, entry), { recursive: true });
    }
    rmSync(buildDir, { recursive: true, force: true });
    try {
      renameSync(staging, buildDir);
    } catch (error) {
      // Another process renamed its copy into place first: use that one.
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(join(target, 'package.json'))) throw error;
    }
  }
  return buildDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${buildH5wasmLayer()}\n`);
}
