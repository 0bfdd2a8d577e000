/**
 * Every kind of scan, judged by real readers: each scan is published with the real blissdata
 * package (tools/blissdata-publisher/publish_scan.py), archived through the whole local pipeline
 * (bridge → EventBridge → SQS → scan-writer → S3), downloaded, and then
 *
 * - checked by nexusformat's `nxcheck` against the NeXus base classes (test/support/nxcheck-report.py
 *   runs nxcheck's own entry point and keeps each finding's level and path): no error, except the
 *   entry name `<scan>.1` that BLISS gives every entry (docs/nexus-layout.md, ADR 0004), accepted
 *   only while it is a valid name by the NeXus standard's own schema; warnings are listed;
 * - read back whole by h5py (every dataset, attribute and soft link);
 * - compared with what blissdata published, bit for bit, with end_reason, title, sample name and
 *   a default plot that resolves (test/support/judge_scan_file.py).
 *
 * Aborted and failed scans end early: only the points published before the end are in the file,
 * and end_reason says why.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PUBLISHER, run, startLocalPipeline, type LocalPipeline } from '../../local/pipeline.js';
import { projectRoot, venvPython } from '../../local/services.js';

interface Case {
  name: string;
  args: string[];
  /** Points the file must hold per channel (what was published, not what was planned). */
  points: number;
  endReason: string;
}

const CASES: Case[] = [
  { name: 'ct', args: ['--type', 'ct', '--counters', '2'], points: 1, endReason: 'SUCCESS' },
  { name: 'loopscan', args: ['--type', 'loopscan', '--points', '7', '--counters', '2'], points: 7, endReason: 'SUCCESS' },
  { name: 'timescan', args: ['--type', 'timescan', '--points', '5', '--counters', '1'], points: 5, endReason: 'SUCCESS' },
  {
    name: 'ascan with a note',
    args: ['--type', 'ascan', '--points', '12', '--counters', '2', '--note', 'aligned on the foil edge'],
    points: 12,
    endReason: 'SUCCESS',
  },
  { name: 'a2scan', args: ['--type', 'a2scan', '--points', '9', '--counters', '1', '--dtype', 'float32'], points: 9, endReason: 'SUCCESS' },
  { name: 'dscan', args: ['--type', 'dscan', '--points', '6', '--counters', '1', '--dtype', 'int32'], points: 6, endReason: 'SUCCESS' },
  { name: 'amesh', args: ['--type', 'amesh', '--points', '5', '--points2', '4', '--counters', '2'], points: 20, endReason: 'SUCCESS' },
  {
    name: 'ascan with an MCA',
    args: ['--type', 'ascan', '--points', '8', '--counters', '1', '--spectrum', '64', '--batch', '3'],
    points: 8,
    endReason: 'SUCCESS',
  },
  {
    name: 'ascan aborted by the user after 7 of 20 points',
    args: [
      '--type',
      'ascan',
      '--points',
      '20',
      '--counters',
      '2',
      '--spectrum',
      '16',
      '--batch',
      '3',
      '--stop-after',
      '7',
      '--end-reason',
      'USER_ABORT',
    ],
    points: 7,
    endReason: 'USER_ABORT',
  },
  {
    name: 'amesh failed after 11 of 20 points',
    args: ['--type', 'amesh', '--points', '5', '--points2', '4', '--counters', '1', '--stop-after', '11', '--end-reason', 'FAILURE'],
    points: 11,
    endReason: 'FAILURE',
  },
  {
    // No chunk at all: the file still gets its provenance (the run's documents as input) and is archived.
    name: 'ascan failed before its first point',
    args: ['--type', 'ascan', '--points', '10', '--counters', '1', '--stop-after', '0', '--end-reason', 'FAILURE'],
    points: 0,
    endReason: 'FAILURE',
  },
];

interface Finding {
  path: string | null;
  message: string;
  nxdl_valid_item_name?: boolean;
}
interface Report {
  nxcheck: { version: string; errors: Finding[]; warnings: Finding[]; totals: { error: number; warning: number } };
  h5py: { groups: number; datasets: number; links: number; attributes: number; problems: string[] };
}
interface Judged {
  ok: boolean;
  problems: string[];
  channels: Record<string, { dtype: string; shape: number[]; identical: boolean }>;
}

describe('every scan type passes nxcheck and h5py read-back, archived through the pipeline', () => {
  let pipeline: LocalPipeline;
  const work = mkdtempSync(join(tmpdir(), 'ba-nxcheck-'));

  before(async () => {
    pipeline = await startLocalPipeline({ logLevel: 'ERROR' });
  });

  after(async () => {
    rmSync(work, { recursive: true, force: true });
    // Bounded, as in blisswriter-parity.test.ts: the bridge's stop can wait on a follower.
    const stopped = await Promise.race([
      pipeline?.stop().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 20_000).unref()),
    ]);
    if (!stopped) {
      await pipeline.env.stop();
      console.error(`bridge did not stop within 20 s: ${JSON.stringify(pipeline.bridge.status())}`);
      setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
    }
  });

  CASES.forEach((c, i) => {
    it(`${c.name}: no nxcheck error, read back whole by h5py, published values bit for bit`, async (t) => {
      const number = 200 + i;
      const values = join(work, `${number}.npz`);
      const published = await run(venvPython, [
        PUBLISHER,
        '--redis',
        pipeline.redisUrl,
        '--number',
        String(number),
        '--dataset',
        'nxcheck',
        '--dump-values',
        values,
        ...c.args,
      ]);
      assert.equal(published.code, 0, published.stderr);
      const scan = JSON.parse(published.stdout) as { run_uid: string; points: number };
      assert.equal(scan.points, c.points, 'points the publisher sent');

      const record = await pipeline.waitForRun(scan.run_uid, { timeoutMs: 60_000 });
      assert.equal(record.state, 'ARCHIVED', JSON.stringify(record.failure));
      for (const [channel, points] of Object.entries(record.points ?? {})) assert.equal(points, c.points, `points of ${channel}`);
      const file = join(work, `${number}.h5`);
      await pipeline.download(record.file!.key, file);

      const checked = await run(venvPython, [join(projectRoot, 'test/support/nxcheck-report.py'), file]);
      assert.equal(checked.code, 0, checked.stderr);
      const report = JSON.parse(checked.stdout) as Report;
      const entryName: Finding = { path: `/${number}.1`, message: `"${number}.1" is an invalid name`, nxdl_valid_item_name: true };
      const errors = report.nxcheck.errors.filter(
        (e) => !(e.path === entryName.path && e.message === entryName.message && e.nxdl_valid_item_name === true),
      );
      assert.deepEqual(errors, [], `nxcheck ${report.nxcheck.version} errors in ${c.name}`);
      assert.equal(report.nxcheck.totals.error, report.nxcheck.errors.length, 'every error nxcheck counted was captured');
      assert.equal(report.nxcheck.totals.warning, report.nxcheck.warnings.length, 'every warning nxcheck counted was captured');
      t.diagnostic(
        `nxcheck ${report.nxcheck.version}: ${report.nxcheck.errors.length} error(s) (the BLISS entry name), ${report.nxcheck.warnings.length} warning(s)`,
      );
      for (const w of report.nxcheck.warnings) t.diagnostic(`  warning ${w.path ?? '?'}: ${w.message}`);

      assert.deepEqual(report.h5py.problems, [], `h5py read-back of ${c.name}`);
      assert.ok(report.h5py.datasets > 0 && report.h5py.links > 0, JSON.stringify(report.h5py));

      const judged = await run(venvPython, [
        join(projectRoot, 'test/support/judge_scan_file.py'),
        file,
        '--values',
        values,
        '--scan-number',
        String(number),
        '--sample-name',
        'sample1',
        '--end-reason',
        c.endReason,
      ]);
      const verdict = JSON.parse(judged.stdout) as Judged;
      assert.deepEqual(verdict.problems, [], judged.stderr);
      assert.equal(judged.code, 0);
      const channels = Object.values(verdict.channels);
      assert.ok(channels.length >= 2, 'channels compared');
      for (const ch of channels) {
        assert.equal(ch.shape[0], c.points, JSON.stringify(verdict.channels));
        assert.equal(ch.identical, true);
      }
    });
  });
});
