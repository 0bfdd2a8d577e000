#!/usr/bin/env node
/**
 * Runs the test suites with node's built-in test runner (TypeScript through tsx).
 *
 *   node scripts/test.mjs                 every suite: unit, infra, integration, compat, e2e
 *   node scripts/test.mjs unit infra      only those suites
 *   node scripts/test.mjs test/unit/x.test.ts   only those files
 *
 * Integration, compat and e2e suites start their own Redis and AWS emulator on free loopback
 * ports (or use AWS_ENDPOINT_URL, e.g. LocalStack); `scripts/setup.sh` must have run once.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// The project's Node is >= 24: started by an older one (`node scripts/test.mjs` on a machine whose
// Node is 20), hand over to scripts/node, which runs .local/node (installed by scripts/setup.sh).
if (Number(process.versions.node.split('.')[0]) < 24) {
  const handedOver = spawnSync(join(root, 'scripts', 'node'), [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(handedOver.status ?? 1);
}
const suites = ['unit', 'infra', 'integration', 'compat', 'e2e', 'faults'];
const args = process.argv.slice(2);

if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`usage: npm test [-- <suite|file> ...]\n  suites: ${suites.join(', ')} (default: all)\n`);
  process.exit(0);
}

function findTests(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const chosen = args.length ? args : suites;
const files = chosen.flatMap((arg) => (suites.includes(arg) ? findTests(join(root, 'test', arg)) : [join(root, arg)]));
if (files.length === 0) {
  process.stderr.write(`no test files found for: ${chosen.join(' ')}\n`);
  process.exit(1);
}
process.stdout.write(`running ${files.length} test files: ${files.map((f) => relative(root, f)).join(' ')}\n`);
const result = spawnSync(process.execPath, [
  '--import', 'tsx',
  '--test',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`,
  '--test-timeout=600000',
  ...files,
], { stdio: 'inherit', cwd: root, env: { ...process.env, AWS_REGION: process.env.AWS_REGION ?? 'eu-west-1' } });
process.exit(result.status ?? 1);
