// STYLE.md 5, "fence off the wasm": one module of the product imports h5wasm; every other HDF5
// adapter goes through it (the clock pinning and the HDF5 diagnostics live there once).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../../local/services.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

describe('the h5wasm fence', () => {
  it('only src/adapters/h5wasm-runtime.ts imports h5wasm in the product code', () => {
    const product = ['src', 'functions', 'bridge', 'cli', 'infra', 'local'].flatMap((d) => sources(join(projectRoot, d)));
    assert.ok(product.length > 50, `scanned ${product.length} files`);
    const importers = product
      .filter((path) => /from\s+['"]h5wasm(\/[^'"]*)?['"]|import\(\s*['"]h5wasm/.test(readFileSync(path, 'utf8')))
      .map((path) => relative(projectRoot, path));
    assert.deepEqual(importers, ['src/adapters/h5wasm-runtime.ts']);
  });
});
