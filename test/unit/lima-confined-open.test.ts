/**
 * openConfinedFile (bridge/lima-follower.ts): how the bridge opens a Lima file whose path comes from Redis. Real files,
 * folders, symbolic links and a FIFO in a temporary folder; the checks are made on the open handle, so a symbolic link
 * swapped in for the file after the check does not change what is read.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openConfinedFile, type ConfinedFile } from '../../bridge/lima/confined-file.js';

const LIMA_BYTES = 'lima frames\n';
const SECRET = 'outside: must never be read\n';

async function readAll(opened: ConfinedFile): Promise<string> {
  assert.ok('handle' in opened, `opened: ${'problem' in opened ? opened.problem : ''}`);
  try {
    const buffer = Buffer.alloc(1024);
    const { bytesRead } = await opened.handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString();
  } finally {
    await opened.handle.close();
  }
}

function problemOf(opened: ConfinedFile): { problem: string; wait: boolean } {
  if ('handle' in opened) {
    void opened.handle.close();
    assert.fail(`${opened.realPath} was opened`);
  }
  return opened;
}

describe('openConfinedFile: Lima files are read only below the scan folder and the Lima roots, checked on the open handle', () => {
  let tmp: string;
  let data: string;
  let scanFolder: string;
  let outside: string;
  let secret: string;

  before(() => {
    tmp = realpathSync(mkdtempSync(join(tmpdir(), 'lima-open-')));
    data = join(tmp, 'data');
    scanFolder = join(data, 'sample1_0001');
    outside = join(tmp, 'outside');
    mkdirSync(join(scanFolder, 'scan0001'), { recursive: true });
    mkdirSync(outside);
    secret = join(outside, 'secret.h5');
    writeFileSync(secret, SECRET);
    writeFileSync(join(scanFolder, 'scan0001', 'pilatus_0000.h5'), LIMA_BYTES);
  });

  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('opens a regular file below the scan folder and gives its real path', async () => {
    const path = join(scanFolder, 'scan0001', 'pilatus_0000.h5');
    const opened = await openConfinedFile(path, scanFolder);
    assert.equal('handle' in opened && opened.realPath, path);
    assert.equal(await readAll(opened), LIMA_BYTES);
  });

  it('reads the file that was opened when a symbolic link to a file outside is swapped in after the check (the race the path check had)', async () => {
    const path = join(scanFolder, 'scan0001', 'pilatus_0001.h5');
    writeFileSync(path, LIMA_BYTES);
    const opened = await openConfinedFile(path, scanFolder);
    assert.ok('handle' in opened);
    // Between the check and the read, the path now names a file outside the scan folder.
    unlinkSync(path);
    symlinkSync(secret, path);
    assert.equal(await readAll(opened), LIMA_BYTES, "the bytes read are the checked file's, never the link target's");
    // Opened again now, the link is refused.
    assert.match(
      problemOf(await openConfinedFile(path, scanFolder)).problem,
      new RegExp(`resolves to ${secret}, outside the scan's save folder ${scanFolder}: not read`),
    );
  });

  it('never opens a path that is itself a symbolic link, even to a file inside the folder', async () => {
    const link = join(scanFolder, 'scan0001', 'pilatus_0002.h5');
    symlinkSync(join(scanFolder, 'scan0001', 'pilatus_0000.h5'), link);
    const result = problemOf(await openConfinedFile(link, scanFolder));
    assert.match(result.problem, /is a symbolic link to .*pilatus_0000\.h5: not read/);
    assert.equal(result.wait, false);
  });

  it("refuses a file reached through a symbolic link to a folder outside (the kernel's path of the open file is checked)", async () => {
    symlinkSync(outside, join(scanFolder, 'scan0002'));
    const result = problemOf(await openConfinedFile(join(scanFolder, 'scan0002', 'secret.h5'), scanFolder));
    assert.equal(result.problem, `resolves to ${secret}, outside the scan's save folder ${scanFolder}: not read`);
    assert.equal(result.wait, false);
  });

  it('refuses a FIFO without blocking, and says a missing file may still appear', async () => {
    const fifo = join(scanFolder, 'scan0001', 'pilatus_0003.h5');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    assert.deepEqual(problemOf(await openConfinedFile(fifo, scanFolder)), { problem: 'is not a regular file: not read', wait: false });
    assert.deepEqual(problemOf(await openConfinedFile(join(scanFolder, 'scan0001', 'pilatus_0009.h5'), scanFolder)), {
      problem: 'does not exist',
      wait: true,
    });
  });

  it('with Lima roots, reads only below one of them (roots given through a symbolic link count by their real path)', async () => {
    const path = join(scanFolder, 'scan0001', 'pilatus_0000.h5');
    const other = join(tmp, 'other-root');
    mkdirSync(other);
    const result = problemOf(await openConfinedFile(path, scanFolder, [other, outside]));
    assert.equal(result.problem, `resolves to ${path}, outside the Lima roots ${other}, ${outside} (--lima-root): not read`);
    assert.equal(result.wait, false);
    assert.equal(await readAll(await openConfinedFile(path, scanFolder, [other, data])), LIMA_BYTES);
    const linkedRoot = join(tmp, 'data-link');
    symlinkSync(data, linkedRoot);
    assert.equal(await readAll(await openConfinedFile(path, scanFolder, [linkedRoot])), LIMA_BYTES);
  });

  it('with Lima roots, never opens a path whose folder is below no root (opening a device or FIFO named in Redis has effects of its own)', async () => {
    // A FIFO outside the roots with a writer waiting for a reader: any open() of it, even one checked and closed at
    // once, lets the writer go on. Opening a device can do worse (a watchdog armed, a tape rewound, a hung mount).
    const elsewhere = join(tmp, 'elsewhere');
    mkdirSync(elsewhere);
    const fifo = join(elsewhere, 'pilatus_0000.h5');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const writer = spawn('sh', ['-c', 'exec 3>"$0"; echo opened', fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    writer.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<void>((resolve) => writer.once('exit', () => resolve()));
    try {
      await new Promise((r) => setTimeout(r, 200));
      const result = problemOf(await openConfinedFile(fifo, elsewhere, [data]));
      assert.equal(result.problem, `resolves to ${fifo}, outside the Lima roots ${data} (--lima-root): not read`);
      assert.equal(result.wait, false);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(output, '', 'the FIFO outside the roots was opened');
      assert.equal(writer.exitCode, null, 'the writer still waits for a reader');
    } finally {
      writer.kill();
      await exited;
    }
  });
});
