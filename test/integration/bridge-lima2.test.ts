/**
 * Lima2 detector streams end to end: blissdata itself publishes a scan with a Lima2 stream (the
 * stream definition of blissdata-lima2's Lima2Stream, test/support/lima2-publish.py) while the frames
 * are written to disk as Lima2 writes them: receiver files `<prefix>_<receiver>_<file:05d>.h5` in
 * round robin over two receivers, and at the end the master file written by the Lima2 conductor's
 * own code (its virtual dataset maps every frame to the receiver files). The bridge uploads every
 * file under its own name next to where the scan file will be published and announces the frames;
 * the local pipeline archives the scan; the scan file and the uploaded files are downloaded into one
 * folder and h5py reads every frame back through the scan file's link to the master file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from '../../local/pipeline.js';
import type { LocalEnvironment } from '../../local/environment.js';
import { freePort, projectRoot, venvPython } from '../../local/services.js';
import type { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { datasetFolderOf, startLimaHarness, type LimaHarness } from './lima-harness.js';
import type { RunRecord } from '../../src/core/archive/ports.js';
import type { StreamDatum, StreamResource } from '../../src/core/contract/generated-types.js';
import { datasetPrefix, scanDetectorFolder } from '../../src/core/object-keys.js';
import { credentialsEnvironment } from '../../local/aws-target.js';

const PUBLISH = join(projectRoot, 'test', 'support', 'lima2-publish.py');
const CHECK = join(projectRoot, 'test', 'support', 'lima2-check.py');
const POLICY = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' };
const STREAM = 'lima2det:frame';

interface Published {
  scan_key: string;
  run_uid: string;
  frames: number;
  shape: [number, number, number];
  dtype: string;
  folder: string;
  prefix: string;
  master_file: string;
  data_path: string;
  receiver_files: Record<string, number>;
  placement: [string, number][];
  stream_info: Record<string, unknown>;
}
interface Checked {
  ok: boolean;
  checked: number;
  master: string;
  data_path: string;
  receiver_files: string[];
  receiver_links: Record<string, number[]>;
  error?: string;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function publish(redisUrl: string, dir: string, args: string[]): Promise<Published> {
  const out = await run(venvPython, [PUBLISH, '--redis', redisUrl, '--dir', datasetFolderOf(dir), ...args]);
  if (out.code !== 0) throw new Error(`lima2-publish.py failed: ${out.stderr.slice(-2000)}`);
  return JSON.parse(out.stdout) as Published;
}

describe('bridge + scan writer: Lima2 receiver files and master file → S3 → external link in the scan file', () => {
  let h: LimaHarness;
  let env: LocalEnvironment;
  let catalogue: DynamoDbRunCatalogue;
  let bucket: string;
  let tmp: string;

  before(async () => {
    h = await startLimaHarness('bridge-lima2-');
    ({ env, catalogue, bucket, tmp } = h);
  });

  after(async () => {
    await h?.stop();
  });

  const waitForRun = (runUid: string, timeoutMs?: number): Promise<RunRecord> => h.waitForRun(runUid, timeoutMs);
  const getObject = (key: string): Promise<Uint8Array> => h.getObject(key);
  const listKeys = (prefix: string): Promise<string[]> => h.listKeys(prefix);

  async function documents(runUid: string): Promise<{ resource?: StreamResource; datums: StreamDatum[] }> {
    const docs = await catalogue.listDocuments(runUid);
    const uid = `${runUid}/resource/${STREAM}`;
    return {
      resource: docs
        .filter((d) => d.detailType === 'StreamResource')
        .map((d) => d.body as StreamResource)
        .find((r) => r.uid === uid),
      datums: docs
        .filter((d) => d.detailType === 'StreamDatum')
        .map((d) => d.body as StreamDatum)
        .filter((d) => d.stream_resource === uid),
    };
  }

  /** Every file of the Lima2 folder on disk is in the scan's detector folder in S3, under its own name, with the same bytes. */
  async function assertFolderUploaded(scan: Published, scanNumber: number, withMaster: boolean): Promise<void> {
    const folder = scanDetectorFolder(POLICY, scanNumber);
    const names = [...Object.keys(scan.receiver_files), ...(withMaster ? [`${scan.prefix}_master.h5`] : [])].sort();
    const keys = await listKeys(folder);
    assert.deepEqual(
      keys.map((k) => k.slice(folder.length)),
      names,
    );
    for (const name of names) {
      assert.equal(
        sha256(await getObject(`${folder}${name}`)),
        sha256(readFileSync(join(scan.folder, name))),
        `${name}: uploaded bytes are the file's`,
      );
    }
  }

  async function downloadDataset(record: RunRecord, scanNumber: number, folder: string): Promise<string> {
    const prefix = datasetPrefix(POLICY);
    const keys = [record.file!.key, ...(await listKeys(scanDetectorFolder(POLICY, scanNumber)))];
    for (const key of keys) {
      assert.ok(key.startsWith(prefix), `${key} is in the dataset folder`);
      const local = join(folder, key.slice(prefix.length));
      mkdirSync(dirname(local), { recursive: true });
      writeFileSync(local, await getObject(key));
    }
    return join(folder, record.file!.key.slice(prefix.length));
  }

  async function checkFrames(scanFile: string, scan: Published, scanNumber: number): Promise<Checked> {
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        venvPython,
        [
          CHECK,
          scanFile,
          '--entry',
          `${scanNumber}.1`,
          '--name',
          'frame',
          '--frames',
          String(scan.frames),
          '--shape',
          ...scan.shape.map(String),
          '--dtype',
          scan.dtype,
        ],
        { cwd: '/' },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
    assert.ok(out.stdout.trim(), `lima2-check.py printed nothing: ${out.stderr.slice(-2000)}`);
    return JSON.parse(out.stdout) as Checked;
  }

  it('round robin over two receivers (ordering 1, 0; 3 frames per file): every file uploaded once, every frame read back through the master file', async () => {
    const scan = await publish(env.redisUrl!, join(tmp, 'a'), [
      '--number',
      '1',
      '--frames',
      '14',
      '--receivers',
      '2',
      '--ordering',
      '1',
      '0',
      '--frames-per-file',
      '3',
      '--batch',
      '4',
      '--sleep',
      '0.2',
    ]);
    assert.equal(scan.stream_info.plugin, 'lima2');
    // The frames interleave: receiver 1 holds the even frames, receiver 0 the odd ones.
    assert.deepEqual(scan.placement.slice(0, 4), [
      [`${scan.prefix}_1_00000.h5`, 0],
      [`${scan.prefix}_0_00000.h5`, 0],
      [`${scan.prefix}_1_00000.h5`, 1],
      [`${scan.prefix}_0_00000.h5`, 1],
    ]);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'ARCHIVED', JSON.stringify(record.failure));
    assert.equal(record.points?.[STREAM], 14);

    const { resource, datums } = await documents(scan.run_uid);
    assert.equal(resource?.mimetype, 'application/x-hdf5-lima');
    assert.deepEqual(resource?.parameters, {
      dtype_numpy: '<u2',
      point_shape: [1, 5, 7],
      data_path: `/${scan.data_path}`,
      file_format: 'HDF5-Lima2-master',
      source_file_path: scan.master_file,
    });
    // One datum for every frame: the master file, whose virtual dataset maps each frame to its receiver file.
    assert.equal(datums.length, 1);
    const master = readFileSync(scan.master_file);
    assert.deepEqual(datums[0]!.indices, { start: 0, stop: 14 });
    assert.equal(datums[0]!.chunk.key, `${scanDetectorFolder(POLICY, 1)}${scan.prefix}_master.h5`);
    assert.equal(datums[0]!.chunk.bytes, master.length);
    assert.equal(datums[0]!.chunk.sha256, sha256(master));
    assert.equal(datums[0]!.lima?.source_path, scan.master_file);
    // … and it records every receiver file it reads: key, bytes and sha256 of the file on disk.
    const folderKey = scanDetectorFolder(POLICY, 1);
    assert.deepEqual(datums[0]!.lima2, {
      receiver_files: Object.keys(scan.receiver_files)
        .sort()
        .map((name) => {
          const bytes = readFileSync(join(scan.folder, name));
          const [receiver, file] = name
            .slice(scan.prefix.length + 1, -3)
            .split('_')
            .map(Number);
          return {
            receiver,
            file_index: file,
            key: `${folderKey}${name}`,
            bytes: bytes.length,
            sha256: sha256(bytes),
            source_path: join(scan.folder, name),
          };
        }),
    });
    await assertFolderUploaded(scan, 1, true);

    const scanFile = await downloadDataset(record, 1, join(tmp, 'download-a'));
    const check = await checkFrames(scanFile, scan, 1);
    assert.equal(check.error, undefined);
    assert.equal(check.ok, true);
    assert.equal(check.checked, 14);
    assert.equal(check.master, `scan0001/${scan.prefix}_master.h5`);
    assert.equal(check.data_path, `/${scan.data_path}`);
    assert.deepEqual(check.receiver_files, Object.keys(scan.receiver_files).sort());
    // receiver_files/ links each receiver file; the frames each holds (as the master maps them) are where lima2-publish.py put them.
    const expected: Record<string, number[]> = {};
    scan.placement.forEach(([file], i) => (expected[file.slice(0, -3)] ??= []).push(i));
    assert.deepEqual(check.receiver_links, expected);
    assert.deepEqual(check.receiver_links[`${scan.prefix}_1_00000`], [0, 2, 4], 'receiver 1 holds the even frames (ordering 1, 0)');
    // The scan file holds a link, not frames.
    assert.ok(record.file!.bytes < 256 * 1024, `scan file ${record.file!.bytes} B`);

    // nxcheck (NeXus base classes) and a full h5py read-back, links followed, from another working directory.
    const judged = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(venvPython, [join(projectRoot, 'test', 'support', 'nxcheck-report.py'), scanFile], { cwd: '/' });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
    assert.equal(judged.code, 0, judged.stderr.slice(-2000));
    const report = JSON.parse(judged.stdout) as {
      nxcheck: { errors: { path?: string; message: string }[]; warnings: { path?: string; message: string }[] };
      h5py: { problems: unknown[]; links: number };
    };
    // The BLISS entry name `1.1` is the one error nxcheck reports for every BLISS scan file (docs/nexus-layout.md).
    assert.deepEqual(
      report.nxcheck.errors.filter((e) => e.path !== '/1.1'),
      [],
      JSON.stringify(report.nxcheck),
    );
    assert.deepEqual(report.h5py.problems, []);
    for (const w of report.nxcheck.warnings.filter((x) => x.path?.includes('frame')))
      process.stdout.write(`# nxcheck warning ${w.path}: ${w.message}\n`);
  });

  it('a single receiver whose last file is partial', async () => {
    const scan = await publish(env.redisUrl!, join(tmp, 'b'), [
      '--number',
      '2',
      '--frames',
      '8',
      '--receivers',
      '1',
      '--frames-per-file',
      '3',
      '--shape',
      '2',
      '3',
      '4',
      '--dtype',
      'int32',
      '--batch',
      '3',
    ]);
    assert.deepEqual(scan.receiver_files, {
      [`${scan.prefix}_0_00000.h5`]: 3,
      [`${scan.prefix}_0_00001.h5`]: 3,
      [`${scan.prefix}_0_00002.h5`]: 2,
    });
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'ARCHIVED', JSON.stringify(record.failure));
    await assertFolderUploaded(scan, 2, true);
    const check = await checkFrames(await downloadDataset(record, 2, join(tmp, 'download-b')), scan, 2);
    assert.equal(check.ok, true, check.error);
    assert.equal(check.checked, 8);
  });

  it('a master file that never appears fails the run with its path; the receiver files are uploaded', async () => {
    const scan = await publish(env.redisUrl!, join(tmp, 'c'), [
      '--number',
      '3',
      '--frames',
      '10',
      '--receivers',
      '2',
      '--frames-per-file',
      '2',
      '--no-master',
    ]);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'FAILED');
    assert.equal(record.failure?.stage, 'bridge');
    const error = record.failure!.errors.find((e) => e.stream === STREAM);
    assert.ok(error, JSON.stringify(record.failure));
    assert.equal(error.index, 0);
    assert.ok(
      error.message.startsWith(`Lima file ${scan.master_file} (frames [0, 10) of ${STREAM}) does not exist: the Lima2 master file`),
      error.message,
    );
    assert.match(record.failure!.reason, /Lima image files are missing or unreadable/);
    assert.deepEqual((await documents(scan.run_uid)).datums, []);
    // Nothing else lost: the receiver files that were complete during the scan are in S3.
    const keys = (await listKeys(scanDetectorFolder(POLICY, 3))).map((k) => k.slice(k.lastIndexOf('/') + 1));
    assert.deepEqual(keys, Object.keys(scan.receiver_files).sort());
  });

  it('a receiver file that cannot be read (a link out of the scan folder) fails the run naming it; every other file and the master are uploaded', async () => {
    const scan = await publish(env.redisUrl!, join(tmp, 'e'), [
      '--number',
      '5',
      '--frames',
      '10',
      '--receivers',
      '2',
      '--frames-per-file',
      '2',
      '--outside-receiver-file',
      '0',
      '1',
    ]);
    const bad = `${scan.prefix}_0_00001.h5`;
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'FAILED');
    const errors = record.failure!.errors.filter((e) => e.stream === STREAM);
    assert.equal(errors.length, 1, JSON.stringify(record.failure));
    assert.ok(errors[0]!.message.startsWith(`Lima file ${scan.folder}/${bad} (frames [0, `), errors[0]!.message);
    // The publisher puts the outside file in a sibling of the scan's data-policy folder (outside-<dataset folder>).
    assert.match(errors[0]!.message, /resolves to .*\/outside-[^/]+\/[^/]+\.h5, outside the scan's save folder/);
    assert.deepEqual((await documents(scan.run_uid)).datums, []);
    const keys = (await listKeys(scanDetectorFolder(POLICY, 5))).map((k) => k.slice(k.lastIndexOf('/') + 1));
    const master = scan.master_file.slice(scan.master_file.lastIndexOf('/') + 1);
    assert.deepEqual(keys, [...Object.keys(scan.receiver_files).filter((n) => n !== bad), master].sort());
    for (const k of keys)
      assert.equal(sha256(await getObject(`${scanDetectorFolder(POLICY, 5)}${k}`)), sha256(readFileSync(`${scan.folder}/${k}`)));
  });

  it('a receiver file that is a FIFO is not read (the upload would block for ever): the run fails naming it, the other files flow', async () => {
    const scan = await publish(env.redisUrl!, join(tmp, 'f'), [
      '--number',
      '6',
      '--frames',
      '8',
      '--receivers',
      '2',
      '--frames-per-file',
      '2',
      '--fifo-receiver-file',
      '1',
      '0',
    ]);
    const bad = `${scan.prefix}_1_00000.h5`;
    const record = await waitForRun(scan.run_uid, 60_000);
    assert.equal(record.state, 'FAILED');
    const errors = record.failure!.errors.filter((e) => e.stream === STREAM);
    assert.equal(errors.length, 1, JSON.stringify(record.failure));
    assert.ok(errors[0]!.message.startsWith(`Lima file ${scan.folder}/${bad} (frames [0, `), errors[0]!.message);
    assert.match(errors[0]!.message, /is not a regular file/);
    const keys = (await listKeys(scanDetectorFolder(POLICY, 6))).map((k) => k.slice(k.lastIndexOf('/') + 1));
    const master = scan.master_file.slice(scan.master_file.lastIndexOf('/') + 1);
    assert.deepEqual(keys, [...Object.keys(scan.receiver_files).filter((n) => n !== bad), master].sort());
  });

  it('bridge SIGKILLed mid-scan and restarted: each receiver file and the master uploaded exactly once, every frame read back', async () => {
    await h.bridge!.stop();
    h.bridge = undefined;
    const checkpoint = join(tmp, 'checkpoint.json');
    const logs: string[] = [];
    const start = (): ChildProcess => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(projectRoot, 'bridge', 'cli.ts'),
          '--redis-url',
          env.redisUrl!,
          '--bus',
          env.resources.bus.name,
          '--bucket',
          bucket,
          '--beamline',
          'id00',
          '--from',
          '$',
          '--checkpoint',
          checkpoint,
          '--flush-ms',
          '200',
          '--log-level',
          'INFO',
          '--health-port',
          String(healthPort),
          '--lima-root',
          tmp,
        ],
        {
          cwd: projectRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            AWS_ENDPOINT_URL: env.awsEndpoint,
            AWS_REGION: env.region,
            ...credentialsEnvironment(),
          },
        },
      );
      let partial = '';
      child.stdout!.on('data', (d: Buffer) => {
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop()!;
        logs.push(...lines);
      });
      return child;
    };
    const killed = (child: ChildProcess, signal: NodeJS.Signals) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    const healthPort = await freePort();
    let child = start();
    try {
      for (let i = 0; !existsSync(checkpoint) && i < 200; i++) await sleep(100);
      assert.ok(existsSync(checkpoint), 'bridge wrote its checkpoint');
      const flag = join(tmp, 'resume-d');
      // Two receivers, 2 frames per file, 16 frames: after 8 frames each receiver is writing its file 1, so its file 0 is complete.
      const publishing = publish(env.redisUrl!, join(tmp, 'd'), [
        '--number',
        '4',
        '--frames',
        '16',
        '--receivers',
        '2',
        '--frames-per-file',
        '2',
        '--batch',
        '2',
        '--pause-after-frames',
        '8',
        '--resume-flag',
        flag,
      ]);
      const uploaded = () => {
        try {
          const cp = JSON.parse(readFileSync(checkpoint, 'utf8')) as {
            scans: Record<string, { streams: Record<string, { receivers?: Record<string, unknown> }> }>;
          };
          return Math.max(0, ...Object.values(cp.scans).map((x) => Object.keys(x.streams[STREAM]?.receivers ?? {}).length));
        } catch {
          return 0;
        }
      };
      for (let i = 0; uploaded() < 2 && i < 600; i++) await sleep(100);
      assert.equal(uploaded(), 2, 'the two complete receiver files are uploaded (checkpointed) before the kill');
      await killed(child, 'SIGKILL');
      child = start();
      writeFileSync(flag, '');
      const scan = await publishing;
      const record = await waitForRun(scan.run_uid);
      assert.equal(record.state, 'ARCHIVED', JSON.stringify(record.failure));

      const uploads = logs
        .filter((l) => l.includes('"Lima2 receiver file uploaded"') || l.includes('"Lima file uploaded"'))
        .map((l) => JSON.parse(l) as { key: string; sha256: string; runUid: string })
        .filter((l) => l.runUid === scan.run_uid);
      const perKey = new Map<string, number>();
      for (const u of uploads) perKey.set(u.key, (perKey.get(u.key) ?? 0) + 1);
      const folder = scanDetectorFolder(POLICY, 4);
      const names = [...Object.keys(scan.receiver_files), `${scan.prefix}_master.h5`].sort();
      assert.deepEqual(
        [...perKey.keys()].sort(),
        names.map((n) => `${folder}${n}`),
      );
      assert.deepEqual(
        [...perKey.values()],
        names.map(() => 1),
        `each file uploaded once: ${JSON.stringify([...perKey])}`,
      );
      for (const u of uploads)
        assert.equal(u.sha256, sha256(readFileSync(join(scan.folder, u.key.slice(folder.length)))), `${u.key}: logged checksum`);
      await assertFolderUploaded(scan, 4, true);
      const check = await checkFrames(await downloadDataset(record, 4, join(tmp, 'download-d')), scan, 4);
      assert.equal(check.ok, true, check.error);
      assert.equal(check.checked, 16);
      assert.equal(Object.keys(check.receiver_links).length, 8);
    } finally {
      await killed(child, 'SIGTERM');
    }
  });
});
