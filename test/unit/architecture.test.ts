/**
 * The architecture, checked on the sources (docs/architecture.md):
 *
 * - I/O libraries (the AWS SDK, ioredis, h5wasm) are imported only by the adapters (src/adapters/)
 *   and by the code around the product that drives real services: local/ (the embedded
 *   environment), test/ (tests drive the real services), infra/ (CDK), bench/ (benchmarks),
 *   scripts/ and tools/. Never by src/core/, bridge/, functions/ or cli/: those take clients and
 *   adapters from src/adapters/.
 * - src/core/ never reads `process.env` (configuration is read at the edges and passed in).
 * - the floor of the core (contract/, object-keys.ts, ports.ts, errors.ts, guards.ts) imports nothing
 *   else of src/core/.
 * - src/adapters/memory/ (the in-memory adapters) serves tests and benchmarks only: nothing outside test/ and bench/ imports it.
 * - src/core/event-model/ (the source-neutral documents) imports nothing from bliss/, bluesky/,
 *   nexus/ or archive/: they stand on it, not the other way round.
 * - No import cycle anywhere (type-only imports count: a cycle of types is still two modules that
 *   cannot be understood one without the other).
 *
 * The import graph comes from TypeScript's own pre-processor (static imports, `export … from`,
 * dynamic `import()`), resolved the way NodeNext does for relative specifiers (`./x.js` → `./x.ts`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_DIRS = ['src', 'bridge', 'functions', 'local', 'cli', 'infra', 'bench', 'scripts', 'test', 'tools', 'bin', 'web'];
const SKIP = new Set(['node_modules', 'cdk.out', '.venv', '.local', 'dist', 'build']);
const SOURCE = /\.(ts|tsx|mts|mjs)$/;

/** Packages that do I/O, and the folders allowed to import them. */
const IO_PACKAGES = /^(@aws-sdk\/|@smithy\/|ioredis$|h5wasm($|\/))/;
const IO_ALLOWED = ['src/adapters/', 'local/', 'test/', 'infra/', 'bench/', 'scripts/', 'tools/', 'layers/'];

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (SKIP.has(name) || name.startsWith('.')) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(relative(ROOT, path));
    }
  };
  for (const dir of SOURCE_DIRS) if (existsSync(join(ROOT, dir))) walk(join(ROOT, dir));
  return out.sort();
}

/** Every module specifier a file imports (static, re-exports, dynamic). */
function specifiersOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** A relative specifier resolved to a source file of the repository, as NodeNext does (`.js` written for `.ts`). */
function resolveRelative(from: string, specifier: string): string | undefined {
  const base = resolve(ROOT, dirname(from), specifier);
  const stem = base.replace(/\.(js|mjs|jsx)$/, '');
  const candidates = [base, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, `${stem}.mjs`, join(base, 'index.ts')];
  for (const candidate of candidates) {
    if (existsSync(candidate) && statSync(candidate).isFile() && SOURCE.test(candidate)) return relative(ROOT, candidate);
  }
  return undefined;
}

const files = sourceFiles();
const imports = new Map(files.map((f) => [f, specifiersOf(f)]));

/** Strongly connected components of the import graph with more than one file (or a file importing itself). */
function importCycles(): string[][] {
  const graph = new Map<string, string[]>();
  for (const [file, specs] of imports) {
    graph.set(file, specs.filter((s) => s.startsWith('.')).map((s) => resolveRelative(file, s)).filter((f): f is string => f !== undefined && imports.has(f)));
  }
  // Tarjan, iterative (the graph has a few hundred files; recursion would do, a loop is safer).
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  for (const root of graph.keys()) {
    if (indexOf.has(root)) continue;
    const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
    indexOf.set(root, index);
    low.set(root, index++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work.at(-1)!;
      const edges = graph.get(frame.node)!;
      if (frame.next < edges.length) {
        const to = edges[frame.next++]!;
        if (!indexOf.has(to)) {
          indexOf.set(to, index);
          low.set(to, index++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, indexOf.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === indexOf.get(frame.node)) {
        const component: string[] = [];
        for (let member = stack.pop()!; ; member = stack.pop()!) {
          onStack.delete(member);
          component.push(member);
          if (member === frame.node) break;
        }
        if (component.length > 1 || edges.includes(frame.node)) cycles.push(component.sort());
      }
    }
  }
  return cycles;
}

describe('architecture', () => {
  it('reads the sources it judges (the walker finds the tree and resolves its imports)', () => {
    assert.ok(files.includes('src/core/guards.ts') && files.includes('bridge/staging/sink.ts'), `${files.length} files`);
    assert.equal(resolveRelative('bridge/scan-follower.ts', './staging/sink.js'), 'bridge/staging/sink.ts');
    assert.equal(resolveRelative('bridge/scan-follower.ts', './checkpoint/index.js'), 'bridge/checkpoint/index.ts');
    assert.ok(imports.get('src/adapters/s3-object-store.ts')!.some((s) => s.startsWith('@aws-sdk/')), 'an adapter importing the SDK is seen');
  });

  it('imports the AWS SDK, ioredis and h5wasm only in src/adapters/ (and local/, test/, infra/, bench/, scripts/, tools/)', () => {
    const offenders = [...imports].flatMap(([file, specs]) => (IO_ALLOWED.some((dir) => file.startsWith(dir)) ? [] : specs.filter((s) => IO_PACKAGES.test(s)).map((s) => `${file} imports ${s}`)));
    assert.deepEqual(offenders, []);
  });

  it('never reads process.env in src/core/', () => {
    const offenders = files.filter((f) => f.startsWith('src/core/') && /\bprocess\s*\.\s*env\b|\bprocess\s*\[\s*['"]env['"]\s*\]/.test(readFileSync(join(ROOT, f), 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('keeps src/core/event-model/ one floor below bliss/, bluesky/, nexus/ and archive/ (it imports none of them)', () => {
    const above = /^src\/core\/(bliss|bluesky|nexus|archive)\//;
    const modules = files.filter((f) => f.startsWith('src/core/event-model/'));
    assert.ok(modules.includes('src/core/event-model/documents.ts'), modules.join(', '));
    const offenders = modules.flatMap((file) => imports.get(file)!.filter((s) => s.startsWith('.'))
      .map((s) => resolveRelative(file, s)).filter((to): to is string => to !== undefined && above.test(to)).map((to) => `${file} imports ${to}`));
    assert.deepEqual(offenders, []);
  });

  it('keeps the floor of the core (contract/, object-keys, ports, errors, guards) free of the rest of the core', () => {
    const floor = (f: string) => /^src\/core\/(contract\/|(object-keys|ports|errors|guards)\.ts$)/.test(f);
    assert.ok(files.filter(floor).length >= 7 && floor('src/core/ports.ts') && floor('src/core/contract/validators.ts') && !floor('src/core/archive/ports.ts'));
    const offenders = files.filter(floor).flatMap((file) => imports.get(file)!.filter((s) => s.startsWith('.'))
      .map((s) => resolveRelative(file, s)).filter((to): to is string => to !== undefined && to.startsWith('src/core/') && !floor(to)).map((to) => `${file} imports ${to}`));
    assert.deepEqual(offenders, []);
  });

  it('keeps the in-memory adapters (src/adapters/memory/) for tests and benchmarks: nothing outside test/ and bench/ imports them', () => {
    const memory = files.filter((f) => f.startsWith('src/adapters/memory/'));
    assert.ok(memory.includes('src/adapters/memory/object-store.ts'), memory.join(', '));
    const offenders = files.filter((f) => !f.startsWith('test/') && !f.startsWith('bench/') && !f.startsWith('src/adapters/memory/')).flatMap((file) => imports.get(file)!
      .filter((s) => s.startsWith('.')).map((s) => resolveRelative(file, s))
      .filter((to): to is string => to !== undefined && to.startsWith('src/adapters/memory/')).map((to) => `${file} imports ${to}`));
    assert.deepEqual(offenders, []);
  });

  it('has no import cycle anywhere (type-only imports count)', () => {
    assert.deepEqual(importCycles(), []);
  });

  it('finds a cycle when there is one (the walker is not blind)', () => {
    const saved = new Map(imports);
    try {
      imports.set('src/core/guards.ts', ['./ports.js']);
      imports.set('src/core/ports.ts', [...(saved.get('src/core/ports.ts') ?? []), './guards.js']);
      assert.ok(importCycles().some((c) => c.includes('src/core/guards.ts') && c.includes('src/core/ports.ts')));
    } finally {
      imports.clear();
      for (const [k, v] of saved) imports.set(k, v);
    }
  });
});
