// The archive task's bundle (infra/task/build.mjs, what infra/task/Dockerfile runs): builds, loads
// with only h5wasm beside it (the AWS SDK inside), and stops on missing configuration with a clear
// message (the container's first line of defence); the Docker build itself needs `cdk deploy`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
// @ts-expect-error -- plain ESM build script without type declarations
import { buildArchiveTask } from '../../infra/task/build.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ba-task-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('archive task bundle', () => {
  it('runs as the image would (node + h5wasm only) and names the missing configuration', async () => {
    const bundle = await (buildArchiveTask as (outdir: string) => Promise<string>)(join(dir, 'dist'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(join(root, 'node_modules', 'h5wasm'), join(dir, 'node_modules', 'h5wasm'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    const run = spawnSync(process.execPath, [bundle], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', TASK_JOB: '{"kind":"archive-run","runUid":"01M80JDTHSB2YF8F4WA7YZ6EZT"}' },
    });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /environment variable\(s\) BUCKET_NAME, TABLE_NAME, EVENT_BUS_NAME, BEAMLINE_ARCHIVE_REPOSITORY not set/);
    const bad = spawnSync(process.execPath, [bundle], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', TASK_JOB: 'nonsense' },
    });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /TASK_JOB must be the JSON of a job/);
  });
});
