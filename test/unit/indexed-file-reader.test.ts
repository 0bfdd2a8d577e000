// The range reader (src/client/indexed-file-reader.ts) reads selections of an indexed file with
// only the byte ranges it needs, and gets the values h5py reads (test/support/h5py-select.py).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexHdf5File } from '../../src/adapters/h5wasm-file-indexer.js';
import {
  httpRangeSource,
  IndexedFile,
  IndexedReadError,
  IndexStaleError,
  parseFileIndex,
  type RangeSource,
} from '../../src/client/indexed-file-reader.js';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { projectRoot, venvPython } from '../../local/services.js';

function bufferSource(bytes: Uint8Array): RangeSource & { ranges: [number, number][] } {
  const stats = { requests: 0, bytes: 0 };
  const ranges: [number, number][] = [];
  return {
    stats,
    ranges,
    async read(offset, length) {
      stats.requests++;
      stats.bytes += length;
      ranges.push([offset, length]);
      return bytes.slice(offset, offset + length);
    },
  };
}

const asNumbers = (v: unknown) => Array.from(v as ArrayLike<number | bigint>, Number);

describe('range reader of indexed files', () => {
  let dir: string;
  let file: IndexedFile;
  let source: ReturnType<typeof bufferSource>;
  let path: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'range-reader-'));
    path = join(dir, 'varied.h5');
    const made = spawnSync(venvPython, [join(projectRoot, 'test/support/h5py-storage-map.py'), '--make', path], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const index = parseFileIndex(JSON.parse(JSON.stringify(await indexHdf5File(path, { bytes: 1, sha256: 'x' }))));
    source = bufferSource(readFileSync(path));
    file = new IndexedFile(index, source);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads whole datasets and slices as h5py does: chunked, gzip+shuffle, resized, sparse, contiguous, compact', async () => {
    const specs = [
      '/entry/counts',
      '/entry/counts@5,:',
      '/entry/counts@:,7',
      '/entry/counts@999,:',
      '/entry/gz',
      '/entry/gz@49999',
      '/entry/growing',
      '/entry/growing@34,:',
      '/entry/contig',
      '/entry/contig@250',
      '/entry/compact',
      '/entry/sparse@55,:',
      '/entry/sparse',
      '/entry/unwritten',
      '/entry/many/d042',
      '/entry/link_to_counts@3,:',
    ];
    const judged = spawnSync(venvPython, [join(projectRoot, 'test/support/h5py-select.py'), path, ...specs], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(judged.status, 0, judged.stderr);
    const expected = JSON.parse(judged.stdout) as Record<string, number[]>;
    for (const spec of specs) {
      const [p, selection] = spec.split('@') as [string, string | undefined];
      const value = await file.read(p, selection);
      assert.deepEqual(asNumbers(value), expected[spec], spec);
    }
  });

  it('fetches only the chunks a slice touches', async () => {
    const before = source.stats.bytes;
    await file.read('/entry/counts', '500,:');
    // One chunk of 64 rows × 100 float64 = 51,200 bytes, not the dataset's 800,000.
    assert.equal(source.stats.bytes - before, 51_200);
  });

  it('says which selection is wrong', async () => {
    await assert.rejects(
      file.read('/entry/counts', '1000,:'),
      (e: Error) => e instanceof IndexedReadError && /1000 is not an index of dimension 0 \(size 1000\)/.test(e.message),
    );
    await assert.rejects(file.read('/entry/counts', ':'), /has 1 items for 2 dimensions/);
    await assert.rejects(file.read('/entry/nothing'), /\/entry\/nothing is not a dataset of this file/);
  });

  it('refuses an index of another version of the file (a re-archive replaced it): size, ETag or sha256 differ → IndexStaleError, not wrong values', async () => {
    // The object as S3 serves it over a presigned URL (loopback): Range, Content-Range, ETag, x-amz-meta-sha256.
    let served = readFileSync(path);
    let etag = '"v1"';
    const server = createServer((req, res) => {
      const [, a, b] = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '') ?? [];
      const start = Number(a);
      const end = Math.min(Number(b), served.length - 1);
      res.writeHead(206, {
        'content-range': `bytes ${start}-${end}/${served.length}`,
        etag,
        'x-amz-meta-sha256': createHash('sha256').update(served).digest('hex'),
      });
      res.end(served.subarray(start, end + 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.h5`;
      const sha256 = createHash('sha256').update(served).digest('hex');
      const index = parseFileIndex(JSON.parse(JSON.stringify(await indexHdf5File(path, { bytes: served.length, sha256, etag }))));
      const current = new IndexedFile(index, httpRangeSource(url));
      const values = asNumbers(await current.read('/entry/counts', '5,:'));
      assert.equal(values.length, 100, 'the index of this very object reads');
      // Re-archived: another file of the same size at the key (another ETag and sha256), the old index left behind.
      served = Buffer.from(served.map((x) => x ^ 0xff));
      etag = '"v2"';
      await assert.rejects(
        current.read('/entry/counts', '5,:'),
        (e: Error) => e instanceof IndexStaleError && /ETag "v2", the index describes "v1"/.test(e.message) && /sha256 /.test(e.message),
      );
      // A bigger file: its size alone is enough (an index without an ETag, e.g. written before indexes recorded one).
      served = Buffer.concat([served, Buffer.alloc(10)]);
      const { etag: _dropped, ...oldFile } = index.file;
      const old = new IndexedFile({ ...index, file: oldFile }, httpRangeSource(url));
      await assert.rejects(
        old.read('/entry/counts', '5,:'),
        (e: Error) =>
          e instanceof IndexStaleError && new RegExp(`${served.length} bytes, the index describes ${served.length - 10}`).test(e.message),
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
