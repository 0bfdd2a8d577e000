/**
 * Lima detector streams end to end: blissdata itself publishes a scan with a Lima stream (its own
 * LimaStream API, test/support/lima-publish.py) while real Lima-like HDF5 files are written on disk;
 * the bridge uploads the complete files next to where the scan file will be published and
 * announces them; the local pipeline (emulator provisioned from the CDK template + the local Lambda
 * runner) archives the scan. The scan file and the uploaded Lima files are then downloaded into a
 * folder with the same relative layout and read back with h5py through the external links.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from '../../local/pipeline.js';
import type { LocalEnvironment } from '../../local/environment.js';
import type { ObjectStore } from '../../src/core/ports.js';
import { freePort, projectRoot, venvPython } from '../../local/services.js';
import type { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { datasetFolderOf, startLimaHarness, type LimaHarness } from './lima-harness.js';
import type { RunRecord } from '../../src/core/archive/ports.js';
import type { StreamDatum } from '../../src/core/contract/generated-types.js';
import { datasetPrefix, scanDetectorFolder } from '../../src/core/object-keys.js';
import { credentialsEnvironment } from '../../local/aws-target.js';

const PUBLISH = join(projectRoot, 'test', 'support', 'lima-publish.py');
const CHECK = join(projectRoot, 'test', 'support', 'lima-check.py');
const POLICY = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' };
const STREAM = 'pilatus:image';

interface Published {
  published_streams: string[];
  scan_key: string;
  run_uid: string;
  frames: number;
  files: number;
  file_pattern: string;
  shape: [number, number];
  dtype: string;
  files_written: string[];
  references: [string, number][];
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pattern = (p: string, n: number) => p.replace(/%04d/, String(n).padStart(4, '0'));

/** Lima writes below `dir`'s data-policy folder (datasetFolderOf), the only place the bridge reads Lima files from. */
function publishArgs(redisUrl: string, dir: string, args: string[]): string[] {
  return [PUBLISH, '--redis', redisUrl, '--dir', datasetFolderOf(dir), ...args];
}

async function publish(redisUrl: string, dir: string, args: string[], exactDir = false): Promise<Published> {
  const out = await run(venvPython, exactDir ? [PUBLISH, '--redis', redisUrl, '--dir', dir, ...args] : publishArgs(redisUrl, dir, args));
  if (out.code !== 0) throw new Error(`lima-publish.py failed: ${out.stderr.slice(-2000)}`);
  return JSON.parse(out.stdout) as Published;
}

describe('bridge + scan writer: Lima detector files → S3 → external links in the scan file', () => {
  let h: LimaHarness;
  let env: LocalEnvironment;
  let catalogue: DynamoDbRunCatalogue;
  let bucket: string;
  let tmp: string;

  before(async () => {
    h = await startLimaHarness('bridge-lima-');
    ({ env, catalogue, bucket, tmp } = h);
  });

  after(async () => {
    await h?.stop();
  });

  const waitForRun = (runUid: string, timeoutMs?: number): Promise<RunRecord> => h.waitForRun(runUid, timeoutMs);
  const getObject = (key: string): Promise<Uint8Array> => h.getObject(key);
  const listKeys = (prefix: string): Promise<string[]> => h.listKeys(prefix);

  async function limaDatums(runUid: string): Promise<StreamDatum[]> {
    const docs = await catalogue.listDocuments(runUid);
    return docs
      .filter((d) => d.detailType === 'StreamDatum')
      .map((d) => d.body as StreamDatum)
      .filter((d) => d.stream_resource === `${runUid}/resource/${STREAM}`)
      .sort((a, b) => a.indices.start - b.indices.start);
  }

  /** Downloads the scan file and every object of its detector folder into `folder`, keeping their paths relative to the dataset folder. */
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

  /** h5py, started from another working directory, reads every frame through the scan file's links. */
  async function checkFrames(
    scanFile: string,
    scan: Published,
  ): Promise<{ ok: boolean; checked: number; files: string[]; missing_points?: string; error?: string }> {
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        venvPython,
        [
          CHECK,
          scanFile,
          '--entry',
          `${scanNumberOf(scan)}.1`,
          '--name',
          'image',
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
    assert.ok(out.stdout.trim(), `lima-check.py printed nothing: ${out.stderr.slice(-2000)}`);
    return JSON.parse(out.stdout) as { ok: boolean; checked: number; files: string[]; error?: string };
  }

  /** Every frame of every datum is where a blissdata reader says it is (LimaStream.get_references). */
  function assertBlissdataReferences(datums: readonly StreamDatum[], scan: Published): void {
    let covered = 0;
    for (const d of datums) {
      for (let i = d.indices.start; i < d.indices.stop; i++) {
        assert.deepEqual([d.lima?.source_path, (d.lima?.frame_offset ?? 0) + i - d.indices.start], scan.references[i], `frame ${i}`);
        covered++;
      }
    }
    assert.equal(covered, scan.references.length, 'every frame blissdata references is in a datum');
  }

  const numbers = new Map<string, number>();
  const scanNumberOf = (scan: Published) => numbers.get(scan.run_uid)!;

  it('uploads frames spanning several files (the last one partial) and links every frame from the scan file', async () => {
    const dir = join(tmp, 'lima-a');
    const scan = await publish(env.redisUrl!, dir, ['--number', '1', '--frames', '25', '--frames-per-file', '10', '--batch', '4']);
    numbers.set(scan.run_uid, 1);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'ARCHIVED', JSON.stringify(record.failure));
    assert.equal(record.points?.[STREAM], 25);

    const datums = await limaDatums(scan.run_uid);
    assert.deepEqual(
      datums.map((d) => [d.indices.start, d.indices.stop]),
      [
        [0, 10],
        [10, 20],
        [20, 25],
      ],
    );
    assertBlissdataReferences(datums, scan);
    for (const [k, d] of datums.entries()) {
      const source = readFileSync(pattern(scan.file_pattern, k));
      assert.equal(d.lima?.source_path, pattern(scan.file_pattern, k));
      assert.equal(d.chunk.key, `${scanDetectorFolder(POLICY, 1)}pilatus_${String(k).padStart(4, '0')}.h5`);
      assert.equal(d.chunk.bytes, source.length);
      assert.equal(d.chunk.sha256, sha256(source), `file ${k}: recorded sha256 is the file's`);
      assert.equal(sha256(await getObject(d.chunk.key)), sha256(source), `file ${k}: uploaded bytes are the file's`);
    }

    const scanFile = await downloadDataset(record, 1, join(tmp, 'download-a'));
    const check = await checkFrames(scanFile, scan);
    assert.equal(check.error, undefined);
    assert.equal(check.ok, true);
    assert.equal(check.checked, 25);
    assert.deepEqual(check.files, ['scan0001/pilatus_0000.h5', 'scan0001/pilatus_0001.h5', 'scan0001/pilatus_0002.h5']);

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
    for (const w of report.nxcheck.warnings.filter((x) => x.path?.includes('image')))
      process.stdout.write(`# nxcheck warning ${w.path}: ${w.message}\n`);

    // Through a dataset master file beside the scan files (docs/datasets.md: relative external links to
    // `<scan file>:/<n>.1`), the frames resolve too: the second link is resolved from the scan file's folder.
    const script = [
      'import sys, os, h5py',
      'scan = sys.argv[1]; master = os.path.join(os.path.dirname(scan), "master.h5")',
      'with h5py.File(master, "w") as m: m["1.1"] = h5py.ExternalLink(os.path.basename(scan), "/1.1")',
      'with h5py.File(master, "r") as m: print(m["1.1/instrument/image/data_files/data_0002"].shape, int(m["1.1/measurement/image/data_0001"][3].sum()))',
    ].join('\n');
    const viaMaster = await run(venvPython, ['-c', script, scanFile]);
    assert.equal(viaMaster.code, 0, viaMaster.stderr.slice(-1500));
    const expectedSum = await run(venvPython, [
      '-c',
      `import importlib.util,sys; s=importlib.util.spec_from_file_location("p", ${JSON.stringify(PUBLISH)}); p=importlib.util.module_from_spec(s); s.loader.exec_module(p); import numpy as np; print(int(p.frame_value(13, (6, 8), np.dtype("<u2")).sum()))`,
    ]);
    assert.equal(viaMaster.stdout.trim(), `(5, 6, 8) ${expectedSum.stdout.trim()}`);
  });

  it('links a single file as data, never downloads the frames (only HEAD); the other channels archived beside it', async () => {
    const dir = join(tmp, 'lima-b');
    const scan = await publish(env.redisUrl!, dir, [
      '--number',
      '2',
      '--frames',
      '6',
      '--frames-per-file',
      '10',
      '--batch',
      '6',
      '--shape',
      '4',
      '5',
      '--dtype',
      'int32',
    ]);
    numbers.set(scan.run_uid, 2);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'ARCHIVED', JSON.stringify(record.failure));
    assert.deepEqual(scan.published_streams, [STREAM, 'simulation_diode_sampling_controller:diode1', 'timer:elapsed_time']);
    assert.deepEqual(Object.keys(record.points ?? {}).sort(), [
      STREAM,
      'simulation_diode_sampling_controller:diode1',
      'timer:elapsed_time',
    ]);
    const docs = await catalogue.listDocuments(scan.run_uid);
    assert.equal(docs.filter((d) => d.detailType === 'StreamResource').length, 3);
    const scanFile = await downloadDataset(record, 2, join(tmp, 'download-b'));
    const check = await checkFrames(scanFile, scan);
    assert.equal(check.ok, true, check.error);
    assert.equal(check.checked, 6);
    assert.deepEqual(check.files, ['scan0002/pilatus_0000.h5']);
    // The scan file holds links, not frames: it is smaller than the one Lima file it links.
    const limaBytes = (await limaDatums(scan.run_uid))[0]!.chunk.bytes;
    assert.ok(record.file!.bytes < limaBytes + 64 * 1024, `scan file ${record.file!.bytes} B holds no copy of the frames`);
  });

  it('several acquisitions (7 frames each, 3 per file): files and frame indices as blissdata resolves them', async () => {
    const dir = join(tmp, 'lima-e');
    const scan = await publish(env.redisUrl!, dir, [
      '--number',
      '5',
      '--frames',
      '14',
      '--frames-per-file',
      '3',
      '--frames-per-acquisition',
      '7',
      '--file-offset',
      '2',
      '--batch',
      '2',
    ]);
    numbers.set(scan.run_uid, 5);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'ARCHIVED', JSON.stringify(record.failure));
    const datums = await limaDatums(scan.run_uid);
    assert.deepEqual(
      datums.map((d) => [d.indices.start, d.indices.stop, d.lima?.file_number]),
      [
        [0, 3, 2],
        [3, 6, 3],
        [6, 7, 4],
        [7, 10, 5],
        [10, 13, 6],
        [13, 14, 7],
      ],
    );
    assert.deepEqual(
      datums.map((d) => d.lima?.source_path),
      scan.files_written,
    );
    assertBlissdataReferences(datums, scan);
    const scanFile = await downloadDataset(record, 5, join(tmp, 'download-e'));
    const check = await checkFrames(scanFile, scan);
    assert.equal(check.ok, true, check.error);
    assert.equal(check.checked, 14);
    assert.deepEqual(
      check.files,
      [2, 3, 4, 5, 6, 7].map((n) => `scan0005/pilatus_000${n}.h5`),
    );
  });

  it('a Lima file that never appears fails the run with its path and frames; the other files are uploaded', async () => {
    const dir = join(tmp, 'lima-c');
    const scan = await publish(env.redisUrl!, dir, ['--number', '3', '--frames', '25', '--frames-per-file', '10', '--missing-file', '1']);
    numbers.set(scan.run_uid, 3);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'FAILED');
    assert.equal(record.failure?.stage, 'bridge');
    const error = record.failure!.errors.find((e) => e.stream === STREAM);
    assert.ok(error, JSON.stringify(record.failure));
    assert.equal(error.index, 10);
    assert.match(
      error.message,
      new RegExp(`Lima file ${pattern(scan.file_pattern, 1).replace(/[.]/g, '\\.')} \\(frames \\[10, 20\\) of ${STREAM}\\) does not exist`),
    );
    assert.match(record.failure!.reason, /Lima image files are missing or unreadable/);
    // Nothing else lost: the files that exist are in S3 with the checksums of the files on disk.
    const keys = await listKeys(scanDetectorFolder(POLICY, 3));
    assert.deepEqual(
      keys.map((k) => k.slice(k.lastIndexOf('/') + 1)),
      ['pilatus_0000.h5', 'pilatus_0002.h5'],
    );
    for (const k of [0, 2]) {
      const key = `${scanDetectorFolder(POLICY, 3)}pilatus_${String(k).padStart(4, '0')}.h5`;
      assert.equal(sha256(await getObject(key)), sha256(readFileSync(pattern(scan.file_pattern, k))));
    }
  });

  it('a run failing for another reason stops following its Lima stream: nothing is uploaded or announced after Run Failed', async () => {
    const dir = join(tmp, 'lima-f');
    // 3 files; the diode's first entry is truncated, so the run fails at once while Lima files keep coming for ~3 s.
    const scan = await publish(env.redisUrl!, dir, [
      '--number',
      '6',
      '--frames',
      '30',
      '--frames-per-file',
      '10',
      '--batch',
      '2',
      '--sleep',
      '0.2',
      '--corrupt-diode',
    ]);
    numbers.set(scan.run_uid, 6);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'FAILED');
    assert.ok(
      record.failure!.errors.some((e) => e.stream === 'simulation_diode_sampling_controller:diode1' && e.index === 0),
      JSON.stringify(record.failure),
    );
    await sleep(1_500);
    // The first Lima file is complete only once frame 10 is saved (≈1 s after the failure): the aborted loop never gets to it.
    assert.deepEqual(await limaDatums(scan.run_uid), []);
    assert.deepEqual(await listKeys(scanDetectorFolder(POLICY, 6)), []);
  });

  it("a Lima file_path outside the scan file's folder is never read: the run fails naming it, nothing is uploaded", async () => {
    // The scan file is declared in another folder than the one Lima writes to (as a hostile or wrong stream info would say).
    const dir = join(tmp, 'lima-g');
    const elsewhere = join(tmp, 'lima-g-scan-folder');
    const scan = await publish(env.redisUrl!, dir, [
      '--number',
      '7',
      '--frames',
      '12',
      '--frames-per-file',
      '5',
      '--scan-folder',
      elsewhere,
    ]);
    numbers.set(scan.run_uid, 7);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'FAILED');
    const error = record.failure!.errors.find((e) => e.stream === STREAM);
    assert.ok(error, JSON.stringify(record.failure));
    assert.match(error.message, /file_path .* is outside the scan's save folder/);
    assert.ok(error.message.includes(elsewhere), error.message);
    assert.deepEqual(await listKeys(scanDetectorFolder(POLICY, 7)), []);
    assert.deepEqual(await limaDatums(scan.run_uid), []);
  });

  it("a Lima folder outside the scan's own data-policy folder is never read (another proposal's folder, or no data-policy folder at all): the run fails at once naming it", async () => {
    // The scan says proposal ihch123 (its identity) while its scan file and Lima files are in proposal ihch999's dataset folder.
    const foreign = await publish(
      env.redisUrl!,
      datasetFolderOf(join(tmp, 'lima-p'), 'ihch999'),
      ['--number', '12', '--frames', '10', '--frames-per-file', '5'],
      true,
    );
    // … or in a folder that is no dataset folder at all (below the Lima root all the same).
    const loose = await publish(env.redisUrl!, join(tmp, 'lima-q'), ['--number', '13', '--frames', '10', '--frames-per-file', '5'], true);
    for (const [scan, n] of [
      [foreign, 12],
      [loose, 13],
    ] as const) {
      numbers.set(scan.run_uid, n);
      const record = await waitForRun(scan.run_uid);
      assert.equal(record.state, 'FAILED');
      assert.equal(record.failure?.stage, 'bridge');
      const error = record.failure!.errors.find((e) => e.stream === STREAM);
      assert.ok(error, JSON.stringify(record.failure));
      assert.equal(
        error.message,
        `Lima stream ${STREAM}: file_path ${JSON.stringify(scan.file_pattern)} is not below the scan's data-policy folder …/ihch123/id00/20261122/RAW_DATA/sample1/sample1_0001/; the bridge reads Lima files only below the scan's own data-policy folder`,
      );
      assert.deepEqual(await listKeys(scanDetectorFolder(POLICY, n)), []);
      assert.deepEqual(await limaDatums(scan.run_uid), []);
    }
  });

  it('a Lima file that is not an HDF5 file (no HDF5 signature) is not uploaded: the run fails naming it, the other files flow', async () => {
    const dir = join(tmp, 'lima-r');
    const scan = await publish(env.redisUrl!, dir, ['--number', '14', '--frames', '15', '--frames-per-file', '5', '--not-hdf5-file', '1']);
    numbers.set(scan.run_uid, 14);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'FAILED');
    const error = record.failure!.errors.find((e) => e.stream === STREAM);
    assert.ok(error, JSON.stringify(record.failure));
    assert.equal(error.index, 5);
    assert.match(
      error.message,
      new RegExp(
        `Lima file ${pattern(scan.file_pattern, 1).replace(/[.]/g, '\\.')} \\(frames \\[5, 10\\) of ${STREAM}\\) is not an HDF5 file \\(no HDF5 signature at byte 0, 512, 1024 … of its \\d+ bytes\\): not uploaded`,
      ),
    );
    const keys = await listKeys(scanDetectorFolder(POLICY, 14));
    assert.deepEqual(
      keys.map((k) => k.slice(k.lastIndexOf('/') + 1)),
      ['pilatus_0000.h5', 'pilatus_0002.h5'],
    );
  });

  it("a Lima file that is a symbolic link to a file outside the scan's folder is not uploaded: the run fails naming it, the other files flow", async () => {
    const dir = join(tmp, 'lima-h');
    const secret = join(tmp, 'secret.txt');
    writeFileSync(secret, 'not a Lima file: must never reach S3\n');
    const scan = await publish(env.redisUrl!, dir, [
      '--number',
      '8',
      '--frames',
      '15',
      '--frames-per-file',
      '5',
      '--symlink-file',
      '1',
      '--symlink-target',
      secret,
    ]);
    numbers.set(scan.run_uid, 8);
    const record = await waitForRun(scan.run_uid);
    assert.equal(record.state, 'FAILED');
    const error = record.failure!.errors.find((e) => e.stream === STREAM);
    assert.ok(error, JSON.stringify(record.failure));
    assert.equal(error.index, 5);
    assert.match(
      error.message,
      new RegExp(
        `Lima file ${pattern(scan.file_pattern, 1).replace(/[.]/g, '\\.')} \\(frames \\[5, 10\\) of ${STREAM}\\) resolves to .*secret\\.txt, outside the scan's save folder`,
      ),
    );
    const keys = await listKeys(scanDetectorFolder(POLICY, 8));
    assert.deepEqual(
      keys.map((k) => k.slice(k.lastIndexOf('/') + 1)),
      ['pilatus_0000.h5', 'pilatus_0002.h5'],
    );
  });

  it('--lima-root: Lima files whose real path is below no root are never read (the run fails naming each path and the roots); a scan below a root is archived', async () => {
    const root = join(tmp, 'root-ok');
    const otherRoot = join(tmp, 'root-other');
    mkdirSync(root);
    mkdirSync(otherRoot);
    await h.restartBridge({ limaRoots: [otherRoot, root] });

    const inside = await publish(env.redisUrl!, join(root, 'lima-i'), ['--number', '9', '--frames', '12', '--frames-per-file', '5']);
    numbers.set(inside.run_uid, 9);
    const archived = await waitForRun(inside.run_uid);
    assert.equal(archived.state, 'ARCHIVED', JSON.stringify(archived.failure));
    assert.deepEqual(
      (await listKeys(scanDetectorFolder(POLICY, 9))).map((k) => k.slice(k.lastIndexOf('/') + 1)),
      ['pilatus_0000.h5', 'pilatus_0001.h5', 'pilatus_0002.h5'],
    );

    // The scan's own folder is fine (Lima writes below the scan file's folder), but it is below no Lima root.
    const outside = await publish(env.redisUrl!, join(tmp, 'lima-j'), ['--number', '10', '--frames', '12', '--frames-per-file', '5']);
    numbers.set(outside.run_uid, 10);
    const record = await waitForRun(outside.run_uid);
    assert.equal(record.state, 'FAILED');
    assert.equal(record.failure?.stage, 'bridge');
    assert.match(record.failure!.reason, /Lima image files are missing or unreadable/);
    const errors = record.failure!.errors.filter((e) => e.stream === STREAM);
    assert.deepEqual(
      errors.map((e) => e.index),
      [0, 5, 10],
      JSON.stringify(record.failure),
    );
    for (const [k, e] of errors.entries()) {
      const path = pattern(outside.file_pattern, k);
      assert.equal(
        e.message,
        `Lima file ${path} (frames [${5 * k}, ${Math.min(12, 5 * k + 5)}) of ${STREAM}) resolves to ${path}, outside the Lima roots ${otherRoot}, ${root} (--lima-root): not read`,
      );
    }
    assert.deepEqual(await listKeys(scanDetectorFolder(POLICY, 10)), []);
    assert.deepEqual(await limaDatums(outside.run_uid), []);
  });

  it('a symbolic link swapped in for a Lima file after the bridge checked it changes nothing: the file checked is the file uploaded', async () => {
    const dir = join(tmp, 'lima-k');
    const secret = join(tmp, 'secret-k.txt');
    writeFileSync(secret, 'not a Lima file: must never reach S3\n');
    const target = join(datasetFolderOf(dir), 'scan0011', 'pilatus_0001.h5');
    let original: Buffer | undefined;
    // Deterministic stand-in for the race: the swap happens when the bridge starts the upload, i.e. after every check it
    // makes, and before a byte is read. Whichever way the store is asked to read the file, the path then names the secret.
    const swap = (key: string): void => {
      if (original || !key.endsWith('/scan0011/pilatus_0001.h5')) return;
      original = readFileSync(target);
      unlinkSync(target);
      symlinkSync(secret, target);
    };
    await h.restartBridge({}, (store: ObjectStore): ObjectStore => ({
      bucket: store.bucket,
      put: (key, body, type) => store.put(key, body, type),
      get: (key) => store.get(key),
      head: (key) => store.head(key),
      copy: (from, to) => store.copy(from, to),
      delete: (key) => store.delete(key),
      uploadFile: (key, path, type) => {
        swap(key);
        return store.uploadFile(key, path, type);
      },
      uploadFileHandle: (key, file, type) => {
        swap(key);
        return store.uploadFileHandle!(key, file, type);
      },
    }));
    const scan = await publish(env.redisUrl!, dir, ['--number', '11', '--frames', '15', '--frames-per-file', '5']);
    numbers.set(scan.run_uid, 11);
    const record = await waitForRun(scan.run_uid);
    assert.ok(original, 'the file was swapped for a symbolic link during its upload');
    assert.equal(record.state, 'ARCHIVED', JSON.stringify(record.failure));
    const key = `${scanDetectorFolder(POLICY, 11)}pilatus_0001.h5`;
    const uploaded = await getObject(key);
    assert.notEqual(sha256(uploaded), sha256(readFileSync(secret)), 'the link target never reaches S3');
    assert.equal(sha256(uploaded), sha256(original), 'the bytes uploaded are the file the bridge checked');
    const datum = (await limaDatums(scan.run_uid)).find((d) => d.chunk.key === key);
    assert.equal(datum?.chunk.sha256, sha256(original));
  });

  it('bridge SIGKILLed mid-scan and restarted: each file uploaded exactly once, every frame linked', async () => {
    await h.bridge!.stop();
    h.bridge = undefined;
    const checkpoint = join(tmp, 'checkpoint.json');
    const healthPort = await freePort();
    const logs: string[] = [];
    const stderr: string[] = [];
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
      child.stderr!.on('data', (d: Buffer) => {
        stderr.push(d.toString());
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
    let child = start();
    try {
      // The bridge is up (it has written its checkpoint) before the scan starts: --from $ then follows it.
      for (let i = 0; !existsSync(checkpoint) && i < 200; i++) await sleep(100);
      assert.ok(existsSync(checkpoint), 'bridge wrote its checkpoint');
      const dir = join(tmp, 'lima-d');
      const flag = join(tmp, 'resume-d');
      const publishing = publish(env.redisUrl!, dir, [
        '--number',
        '4',
        '--frames',
        '35',
        '--frames-per-file',
        '10',
        '--batch',
        '5',
        '--pause-after-files',
        '2',
        '--resume-flag',
        flag,
      ]);
      // Wait until the checkpoint says files 0 and 1 (frames [0, 20)) are uploaded and announced, then kill.
      const committed = () => {
        try {
          const cp = JSON.parse(readFileSync(checkpoint, 'utf8')) as {
            scans: Record<string, { streams: Record<string, { committed: number }> }>;
          };
          return Math.max(0, ...Object.values(cp.scans).map((s) => s.streams[STREAM]?.committed ?? 0));
        } catch {
          return 0;
        }
      };
      for (let i = 0; committed() < 20 && i < 600; i++) await sleep(100);
      assert.equal(committed(), 20, 'two files committed before the kill');
      // The status view counts Lima frames: saved by Lima (read) and uploaded + announced (committed).
      const status = (await (await fetch(`http://127.0.0.1:${healthPort}/status`)).json()) as {
        scans: { pointsRead: number; pointsCommitted: number; lagPoints: number }[];
      };
      assert.equal(status.scans.length, 1, JSON.stringify(status.scans));
      assert.ok(status.scans[0]!.pointsCommitted >= 20 && status.scans[0]!.lagPoints >= 0, JSON.stringify(status.scans[0]));
      await killed(child, 'SIGKILL');
      child = start();
      writeFileSync(flag, '');
      const scan = await publishing;
      numbers.set(scan.run_uid, 4);
      const record = await waitForRun(scan.run_uid);
      assert.equal(record.state, 'ARCHIVED', JSON.stringify(record.failure));

      const uploads = logs
        .filter((l) => l.includes('"Lima file uploaded"'))
        .map((l) => JSON.parse(l) as { key: string; sha256: string; runUid: string })
        .filter((l) => l.runUid === scan.run_uid);
      const perKey = new Map<string, number>();
      for (const u of uploads) perKey.set(u.key, (perKey.get(u.key) ?? 0) + 1);
      assert.deepEqual([...perKey.values()], [1, 1, 1, 1], `each of the 4 files uploaded once: ${JSON.stringify([...perKey])}`);

      const datums = await limaDatums(scan.run_uid);
      assert.deepEqual(
        datums.map((d) => [d.indices.start, d.indices.stop]),
        [
          [0, 10],
          [10, 20],
          [20, 30],
          [30, 35],
        ],
      );
      for (const [k, d] of datums.entries()) {
        const source = sha256(readFileSync(pattern(scan.file_pattern, k)));
        assert.equal(d.chunk.sha256, source, `file ${k}: datum checksum`);
        assert.equal(uploads.find((u) => u.key === d.chunk.key)?.sha256, source, `file ${k}: uploaded checksum`);
        assert.equal(sha256(await getObject(d.chunk.key)), source, `file ${k}: object in S3`);
      }
      const scanFile = await downloadDataset(record, 4, join(tmp, 'download-d'));
      const check = await checkFrames(scanFile, scan);
      assert.equal(check.ok, true, check.error);
      assert.equal(check.checked, 35);
    } finally {
      await killed(child, 'SIGTERM');
    }
  });
});
