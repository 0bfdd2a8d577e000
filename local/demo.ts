/**
 * `npm run demo`: the whole pipeline on this machine.
 *
 * Starts Redis (with RedisJSON/RediSearch) and the AWS emulator, provisions the CDK app's
 * resources into it, starts the edge bridge and the local Lambda runner, publishes an ascan with
 * the real blissdata package, waits for the scan file, downloads it and prints what is in it.
 *
 *   npm run demo -- [--points 300] [--counters 3] [--keep]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { run, startLocalPipeline } from './pipeline.js';
import { projectRoot, venvPython } from './services.js';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '300' },
    counters: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(`usage: npm run demo -- [--points N] [--counters K] [--keep]

Runs the whole archive locally: Redis + AWS emulator (moto) provisioned from the CDK template,
the edge bridge, the local Lambda runner; publishes a BLISS ascan with blissdata and prints the
archived NeXus file. --keep leaves everything running until Ctrl-C.`);
  process.exit(0);
}

const step = (text: string) => console.log(`\u001b[1m==>\u001b[0m ${text}`);
const t0 = Date.now();
step('starting Redis, the AWS emulator, provisioning the CDK template, the bridge and the Lambda runner');
const pipeline = await startLocalPipeline({ logLevel: process.env.LOG_LEVEL ?? 'WARN' });
const { env } = pipeline;
console.log(`    redis ${pipeline.redisUrl}, aws ${env.awsEndpoint}, bucket ${pipeline.bucket}, table ${env.resources.table.name}, bus ${env.resources.bus.name}`);
console.log(`    ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (synth ${env.timings.synthMs} ms, provision ${env.timings.provisionMs} ms)`);
try {
  const outDir = join(projectRoot, 'demo-output');
  mkdirSync(outDir, { recursive: true });
  step(`publishing an ascan with blissdata: ${values.points} points, 1 motor, ${values.counters} counters`);
  const scan = await pipeline.publish({
    type: 'ascan', points: Number(values.points), counters: Number(values.counters), batch: 10,
    number: 1, sleep: 0.001, dumpValues: join(outDir, 'published-values.npz'),
  });
  console.log(`    scan ${scan.scan_key} closed; channels: ${Object.keys(scan.channels).join(', ')}`);

  step('waiting for the scan writer to publish the file');
  const record = await pipeline.waitForRun(scan.run_uid);
  if (record.state !== 'ARCHIVED' || !record.file) {
    throw new Error(`run ${scan.run_uid} ended ${record.state}: ${JSON.stringify(record)}`);
  }
  const file = record.file;
  console.log(`    archived in ${((Date.now() - scan.closedAtMs) / 1000).toFixed(2)} s after scan close`);
  const local = join(outDir, file.key.split('/').pop()!);
  await pipeline.download(file.key, local);

  step('archived file');
  console.log(`    s3://${file.bucket}/${file.key}`);
  console.log(`    ${file.bytes} bytes, sha256 ${file.sha256}`);
  console.log(`    points per channel: ${JSON.stringify(record.points)}`);
  console.log(`    local copy: ${local}`);
  step('content (read back with h5py)');
  const tree = await run(venvPython, [join(projectRoot, 'tools', 'h5tree.py'), local]);
  console.log(tree.stdout.trimEnd());
  step('compared with what blissdata published (bit for bit)');
  const judge = await run(venvPython, [
    join(projectRoot, 'test', 'support', 'judge_scan_file.py'), local,
    '--values', join(outDir, 'published-values.npz'), '--scan-number', '1',
  ]);
  const verdict = JSON.parse(judge.stdout) as { ok: boolean; problems: string[] };
  console.log(verdict.ok ? '    identical: every channel, dtype and shape' : `    PROBLEMS:\n    ${verdict.problems.join('\n    ')}`);
  if (!verdict.ok) process.exitCode = 1;
  if (values.keep) {
    step('running; Ctrl-C to stop');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
} finally {
  await pipeline.stop();
}
