#!/usr/bin/env node
/**
 * Runs the test suites with node's built-in test runner (TypeScript through tsx).
 *
 *   node scripts/test.mjs                 every suite: unit, infra, integration, compat, e2e, faults
 *   node scripts/test.mjs unit infra      only those suites
 *   node scripts/test.mjs test/unit/x.test.ts   only those files
 *   node scripts/test.mjs --target localstack integration e2e
 *
 * Targets (the AWS the integration, compat, e2e and fault files talk to):
 *   moto        (default) each file starts its own moto server on a free loopback port;
 *   localstack  one LocalStack (host mode, .local/localstack-venv) started for the whole run on a
 *               free loopback port, or the one at AWS_ENDPOINT_URL when that is set (a LocalStack
 *               container elsewhere); the files get it as AWS_ENDPOINT_URL.
 * `--target X` or TEST_TARGET=X. Without either, an AWS_ENDPOINT_URL already set is used as is.
 * Credentials and region: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default test/test) and
 * AWS_REGION (default eu-west-1), read in one place (local/aws-target.ts).
 * Redis is started per file (or REDIS_URL). `scripts/setup.sh` must have run once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// The project's Node is >= 24: started by an older one (`node scripts/test.mjs` on a machine whose
// Node is 20), hand over to scripts/node, which runs .local/node (installed by scripts/setup.sh).
if (Number(process.versions.node.split('.')[0]) < 24) {
  const handedOver = spawnSync(join(root, 'scripts', 'node'), [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(handedOver.status ?? 1);
}
const suites = ['unit', 'infra', 'integration', 'compat', 'e2e', 'faults'];
const targets = ['moto', 'localstack'];
const args = [];
let target = process.env.TEST_TARGET || undefined;
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i];
  if (arg === '--target') target = process.argv[++i];
  else if (arg.startsWith('--target=')) target = arg.slice('--target='.length);
  else args.push(arg);
}

if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(
    `usage: npm test [-- [--target moto|localstack] <suite|file> ...]\n  suites: ${suites.join(', ')} (default: all)\n  target: moto (default), localstack (or TEST_TARGET)\n`,
  );
  process.exit(0);
}
if (target !== undefined && !targets.includes(target)) {
  process.stderr.write(`unknown target ${target}: use ${targets.join(' or ')}\n`);
  process.exit(2);
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

const env = { ...process.env, AWS_REGION: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'eu-west-1' };
if (target) env.TEST_TARGET = target;
let localStack;
if (target === 'moto') {
  delete env.AWS_ENDPOINT_URL;
} else if (target === 'localstack' && !env.AWS_ENDPOINT_URL) {
  const { tsImport } = await import('tsx/esm/api');
  const { startLocalStack } = await tsImport('../local/services.ts', import.meta.url);
  const logFile = join(tmpdir(), `beamline-archive-localstack-${process.pid}.log`);
  const t0 = Date.now();
  localStack = await startLocalStack({ logFile });
  env.AWS_ENDPOINT_URL = localStack.url;
  process.stdout.write(`[test] LocalStack at ${localStack.url} (started in ${((Date.now() - t0) / 1000).toFixed(1)} s, log ${logFile})\n`);
}
const against = env.AWS_ENDPOINT_URL ? `${target ?? 'external'} at ${env.AWS_ENDPOINT_URL}` : 'moto (one per file)';
process.stdout.write(`running ${files.length} test files against ${against}: ${files.map((f) => relative(root, f)).join(' ')}\n`);

const started = Date.now();
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`, '--test-timeout=600000', ...files],
  { stdio: 'inherit', cwd: root, env },
);
const forward = (signal) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const status = await new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
process.stdout.write(
  `[test] ${files.length} files against ${target ?? (env.AWS_ENDPOINT_URL ? 'external' : 'moto')}: ${Math.round((Date.now() - started) / 1000)} s, exit ${status}\n`,
);
await localStack?.stop();
process.exit(status);
