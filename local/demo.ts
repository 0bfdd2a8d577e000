/**
 * `npm run demo`: the whole pipeline on this machine.
 *
 * Starts Redis (with RedisJSON/RediSearch) and the AWS emulator, provisions the CDK app's
 * resources into it, starts the edge bridge and the local Lambda runner, publishes an ascan with
 * the real blissdata package, waits for the scan file, downloads it and prints what is in it,
 * then asks for a CSV export of the run through the export API (the `beamline-archive export`
 * command, SigV4-signed through the local function-URL gateway) and prints the table's first rows.
 *
 *   npm run demo -- [--points 300] [--counters 3] [--keep]
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { awsEnvironment } from './aws-target.js';
import { run, startLocalPipeline } from './pipeline.js';
import { startPortalServer } from './portal-server.js';
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
archived NeXus file, then exports the run as CSV through the export API. --keep leaves everything running until Ctrl-C.`);
  process.exit(0);
}

const step = (text: string) => console.log(`\u001b[1m==>\u001b[0m ${text}`);
const t0 = Date.now();
step('starting Redis, the AWS emulator, provisioning the CDK template, the bridge and the Lambda runner');
const pipeline = await startLocalPipeline({ logLevel: process.env.LOG_LEVEL ?? 'WARN' });
const { env } = pipeline;
console.log(
  `    redis ${pipeline.redisUrl}, aws ${env.awsEndpoint}, bucket ${pipeline.bucket}, table ${env.resources.table.name}, bus ${env.resources.bus.name}`,
);
console.log(
  `    ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (synth ${env.timings.synthMs} ms, provision ${env.timings.provisionMs} ms)`,
);
try {
  const outDir = join(projectRoot, 'demo-output');
  mkdirSync(outDir, { recursive: true });
  step(`publishing an ascan with blissdata: ${values.points} points, 1 motor, ${values.counters} counters`);
  const scan = await pipeline.publish({
    type: 'ascan',
    points: Number(values.points),
    counters: Number(values.counters),
    batch: 10,
    number: 1,
    sleep: 0.001,
    dumpValues: join(outDir, 'published-values.npz'),
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
    join(projectRoot, 'test', 'support', 'judge_scan_file.py'),
    local,
    '--values',
    join(outDir, 'published-values.npz'),
    '--scan-number',
    '1',
  ]);
  const verdict = JSON.parse(judge.stdout) as { ok: boolean; problems: string[] };
  console.log(verdict.ok ? '    identical: every channel, dtype and shape' : `    PROBLEMS:\n    ${verdict.problems.join('\n    ')}`);
  if (!verdict.ok) process.exitCode = 1;

  step('exporting the run as CSV through the export API (beamline-archive export request --wait --download)');
  const gateway = await env.startHttpGateway({
    environment: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARN', POWERTOOLS_LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARN' },
  });
  const exportDir = join(outDir, 'export');
  // Asynchronous: the gateway and the Lambda runner that answer the command live in this process.
  const cli = await run(
    process.execPath,
    [
      join(projectRoot, 'bin', 'beamline-archive.mjs'),
      'export',
      'request',
      '--runs',
      scan.run_uid,
      '--format',
      'csv',
      '--request-id',
      `demo-${scan.run_uid}`,
      '--download',
      exportDir,
      '--interval',
      '0.2',
    ],
    120_000,
    { EXPORT_API_URL: gateway.urlOf('export-api'), ...awsEnvironment(env.awsEndpoint) },
  );
  console.log(
    cli.stderr
      .trimEnd()
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n'),
  );
  if (cli.code !== 0) throw new Error(`export request failed (exit ${cli.code})`);
  const exported = JSON.parse(cli.stdout) as { files: { key: string; bytes: number }[] };
  for (const f of exported.files) {
    const name = f.key.split('/').pop()!;
    console.log(`    ${name} (${f.bytes} bytes):`);
    console.log(
      readFileSync(join(exportDir, name), 'utf8')
        .split('\n')
        .slice(0, 4)
        .map((l) => `      ${l.length > 110 ? `${l.slice(0, 110)}…` : l}`)
        .join('\n'),
    );
  }
  step('the portal (web/, served on loopback; the APIs behind the local gateway)');
  const portal = await startPortalServer({
    datasetApi: gateway.urlOf('dataset-api'),
    exportApi: gateway.urlOf('export-api'),
    analysisApi: gateway.urlOf('analysis-api'),
    issuer: env.oidc.issuer,
  });
  // archive/<proposal>/<beamline>/<session>/<collection>/<collection>_<dataset>/…: the dataset API's id.
  const [, proposal, beamline, session, collection, folder] = file.key.split('/') as string[];
  const datasetId = [proposal, beamline, session, collection, folder!.slice(collection!.length + 1)].join('/');
  console.log(
    `    ${portal.url}#/file/${encodeURIComponent(datasetId)}/${encodeURIComponent(scan.run_uid)}   (Sign in → the local issuer's page → admin; add --keep to keep it running)`,
  );
  if (values.keep) {
    step('running; Ctrl-C to stop');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await portal.stop();
} finally {
  await pipeline.stop();
}
