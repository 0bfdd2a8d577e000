/**
 * NXstxm exports of runs a real Bluesky RunEngine produced (ophyd.sim devices, one plan per STXM
 * scan type, test/support/stxm-runs.py), judged by the real readers: nexusformat's
 * `nxcheck -a NXstxm -p /entryN` on every entry of every file (zero errors, zero warnings) and
 * h5py read-back of every value against what the RunEngine emitted (NXdata grid and axes, per-point
 * instrument readings, polarization, rotation angle, baseline collection, times).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, venvBin, venvPython } from '../../local/services.js';
import { writeHdf5Tree, ExportFileWriteError } from '../../src/adapters/h5wasm-tree-writer.js';
import { buildExport } from '../../src/core/exports/build-export.js';
import { ExportRequestError } from '../../src/core/exports/errors.js';
import type { ExportProduct, ExportRun, Hdf5Tree } from '../../src/core/exports/model.js';
import { exportRunOf, readDocuments } from '../support/export-runs.js';

const SCRIPT = join(projectRoot, 'test/support/stxm-runs.py');
const RUNS = [
  'sample_image',
  'sample_image_mca',
  'sample_image_stack',
  'tomography',
  'sample_point_spectra',
  'sample_line_spectrum',
  'sample_focus',
  'osa_focus',
  'osa_image',
  'detector_image',
  'coarse_image',
  'coarse_goni',
  'pattern_gen',
  'generic_scan',
] as const;
const OPTIONS = { exportId: 'stxm-export', creator: 'beamline-archive test', now: new Date('2026-11-22T10:00:00Z') };

let work: string;
const runOf = (name: string): ExportRun => exportRunOf(readDocuments(join(work, `${name}.jsonl`)));

function treeOf(product: ExportProduct): Hdf5Tree {
  assert.equal(product.files.length, 1);
  const file = product.files[0]!;
  assert.equal(file.kind, 'hdf5');
  return file.kind === 'hdf5' ? file.tree : assert.fail('not an HDF5 file');
}

/** Entry names of a file, read by h5py (not from the tree the exporter made). */
function entriesOf(path: string): string[] {
  const listed = spawnSync(
    venvPython,
    [
      '-c',
      'import h5py, sys; f = h5py.File(sys.argv[1], "r"); print(" ".join(k for k in f if f[k].attrs.get("NX_class") == "NXentry"))',
      path,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(listed.status, 0, listed.stderr);
  return listed.stdout.trim().split(/\s+/).filter(Boolean);
}

/** nxcheck -a NXstxm on one entry: its error and warning counts and the report. */
function nxcheck(path: string, entry: string): { errors: number; warnings: number; report: string } {
  const run = spawnSync(join(venvBin, 'nxcheck'), ['-a', 'NXstxm', '-p', `/${entry}`, path], { encoding: 'utf8' });
  // eslint-disable-next-line no-control-regex -- strips nxcheck's ANSI colours
  const report = (run.stdout + run.stderr).replace(/\u001b\[[0-9;]*m/g, '');
  const errors = /Total number of errors: (\d+)/.exec(report);
  const warnings = /Total number of warnings: (\d+)/.exec(report);
  assert.ok(errors && warnings, `nxcheck gave no totals:\n${report}`);
  return { errors: Number(errors[1]), warnings: Number(warnings[1]), report };
}

async function exportAndJudge(names: readonly string[], file: string): Promise<{ entries: string[]; values: number }> {
  const product = buildExport('nxstxm', names.map(runOf), OPTIONS);
  const path = join(work, file);
  await writeHdf5Tree(treeOf(product), path, { fileTimeMs: OPTIONS.now.getTime() });
  const entries = entriesOf(path);
  for (const entry of entries) {
    const { errors, warnings, report } = nxcheck(path, entry);
    assert.equal(errors, 0, `${file} /${entry}:\n${report}`);
    assert.equal(warnings, 0, `${file} /${entry}:\n${report}`);
  }
  const judged = spawnSync(venvPython, [SCRIPT, 'judge', work, path, ...names], { encoding: 'utf8' });
  assert.equal(judged.status, 0, judged.stdout + judged.stderr);
  const report = JSON.parse(judged.stdout) as { entries: number; values: number; problems: string[] };
  assert.deepEqual(report.problems, []);
  assert.equal(report.entries, entries.length);
  return { entries, values: report.values };
}

describe('NXstxm exports of RunEngine runs', () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'exports-nxstxm-'));
    const generated = spawnSync(venvPython, [SCRIPT, 'generate', work], { encoding: 'utf8' });
    assert.equal(generated.status, 0, generated.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('every scan type: each entry passes nxcheck -a NXstxm and h5py reads back what the RunEngine measured', async () => {
    const entryCounts: Record<string, number> = {};
    for (const name of RUNS) {
      const { entries, values } = await exportAndJudge([name], `${name}.hdf5`);
      assert.ok(values > 0);
      entryCounts[name] = entries.length;
    }
    // One entry per region (sample image: 2; the 4-value detector summed in NXdata), per polarization (stack: 2), per angle (tomography: 3), per point (spectra: 3).
    assert.deepEqual(entryCounts, {
      sample_image: 2,
      sample_image_mca: 2,
      sample_image_stack: 2,
      tomography: 3,
      sample_point_spectra: 3,
      sample_line_spectrum: 1,
      sample_focus: 1,
      osa_focus: 1,
      osa_image: 1,
      detector_image: 1,
      coarse_image: 1,
      coarse_goni: 1,
      pattern_gen: 1,
      generic_scan: 1,
    });
  });

  it('runs of one stxm_scan_type share a file: entries numbered across runs, each valid', async () => {
    const { entries } = await exportAndJudge(['sample_image', 'coarse_image', 'pattern_gen', 'coarse_goni'], 'images.hdf5');
    assert.deepEqual(entries.sort(), ['entry1', 'entry2', 'entry3', 'entry4', 'entry5']);
  });

  it('an image stack recorded as one run per image (suitcase-nxstxm style) becomes one stack: an entry per polarization', async () => {
    const parts = (JSON.parse(readFileSync(join(work, 'expected.json'), 'utf8')) as { stack_runs: { runs: string[] } }).stack_runs.runs;
    assert.equal(parts.length, 6);
    const product = buildExport('nxstxm', parts.map(runOf), OPTIONS);
    assert.match(product.notes[0]!, /^stack stack-A: runs .* merged into one stack$/);
    const path = join(work, 'stack_runs.hdf5');
    await writeHdf5Tree(treeOf(product), path, { fileTimeMs: OPTIONS.now.getTime() });
    const entries = entriesOf(path);
    assert.deepEqual(entries.sort(), ['entry1', 'entry2']);
    for (const entry of entries) {
      const { errors, warnings, report } = nxcheck(path, entry);
      assert.equal(errors + warnings, 0, report);
    }
    const judged = spawnSync(venvPython, [SCRIPT, 'judge', work, path, 'stack_runs'], { encoding: 'utf8' });
    assert.equal(judged.status, 0, judged.stdout + judged.stderr);

    const incomplete = parts.filter((name) => name !== 'stack_part_e1_p1').map(runOf);
    assert.throws(
      () => buildExport('nxstxm', incomplete, OPTIONS),
      (e: unknown) =>
        e instanceof ExportRequestError &&
        e.message === 'stack stack-A is incomplete: no run for image (angle 0, energy 1, polarization 1); request every run of the stack',
    );
  });

  it('building and writing the same export twice gives the same bytes (a rebuild can replace a lost file)', async () => {
    const paths = [join(work, 'again-1.hdf5'), join(work, 'again-2.hdf5')];
    for (const path of paths)
      await writeHdf5Tree(treeOf(buildExport('nxstxm', [runOf('tomography')], OPTIONS)), path, { fileTimeMs: OPTIONS.now.getTime() });
    const [first, second] = paths.map((p) => createHash('sha256').update(readFileSync(p)).digest('hex'));
    assert.equal(first, second);
  });

  it('nxcheck does fail an entry that lacks what NXstxm requires (the judge can say no)', async () => {
    const tree = treeOf(buildExport('nxstxm', [runOf('osa_image')], OPTIONS));
    tree.datasets = tree.datasets.filter((d) => d.path !== '/entry1/data/stxm_scan_type' && d.path !== '/entry1/definition');
    const path = join(work, 'broken.hdf5');
    await writeHdf5Tree(tree, path, { fileTimeMs: 0 });
    const { errors, report } = nxcheck(path, 'entry1');
    assert.ok(errors >= 1, report);
  });

  it('refuses runs of different scan types in one file, naming each run and its type', () => {
    const stack = runOf('sample_image_stack');
    const points = runOf('sample_point_spectra');
    assert.throws(
      () => buildExport('nxstxm', [stack, points], OPTIONS),
      (e: unknown) =>
        e instanceof ExportRequestError &&
        e.message.startsWith('these runs cannot share one NXstxm file: their stxm_scan_type differs') &&
        e.message.includes(`${points.uid} (sample_point_spectrum → sample point spectrum)`) &&
        e.context.runUid === points.uid &&
        e.context.format === 'nxstxm',
    );
  });

  it('refuses a run without the stxm metadata, or whose primary stream does not fill the grid', () => {
    const bare = runOf('sample_image');
    delete bare.start.stxm;
    assert.throws(
      () => buildExport('nxstxm', [bare], OPTIONS),
      (e: unknown) =>
        e instanceof ExportRequestError &&
        e.message ===
          `run ${bare.uid} has no "stxm" metadata in its start document: an NXstxm export needs at least stxm.scan_type, stxm.detector and stxm.positioners (docs/exports.md, NXstxm mapping)`,
    );

    const noDetector = runOf('tomography');
    (noDetector.start.stxm as Record<string, unknown>).detector = 'apd';
    assert.throws(
      () => buildExport('nxstxm', [noDetector], OPTIONS),
      (e: unknown) =>
        e instanceof ExportRequestError &&
        /stxm.detector names "apd", which is not a key of the primary stream \(keys: .*counter0/.test(e.message) &&
        e.context.key === 'apd',
    );

    const aborted = runOf('sample_image_stack');
    for (const stream of aborted.streams.filter((s) => s.name === 'primary')) {
      stream.columns = stream.columns.map((c) => ({ ...c, array: { ...c.array, shape: [30], bytes: c.array.bytes.slice(0, 30 * 8) } }));
    }
    assert.throws(
      () => buildExport('nxstxm', [aborted], OPTIONS),
      (e: unknown) =>
        e instanceof ExportRequestError &&
        e.message.includes(
          'the primary stream has 30 points, the stxm metadata describes 72 (1 angle(s) × 3 energies × 2 polarization(s) × 12 points in the regions)',
        ),
    );
  });

  it('the writer leaves no file behind when HDF5 refuses the tree', async () => {
    const path = join(work, 'never.hdf5');
    const tree: Hdf5Tree = { attrs: {}, groups: [], datasets: [{ path: '/missing/parent/x', value: 1 }], softLinks: [] };
    await assert.rejects(
      writeHdf5Tree(tree, path, { fileTimeMs: 0 }),
      (e: unknown) => e instanceof ExportFileWriteError && /\/missing\/parent is not a group/.test((e as Error).message),
    );
    assert.equal(existsSync(path), false);
  });
});
