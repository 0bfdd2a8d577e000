/**
 * tools/bluesky-publisher/beamline_archive_bluesky.py, run by the real Python with numpy: one XADD
 * per document with fields name and doc, floats exact (bit for bit through JSON.parse here), NaN
 * and infinities tagged, event pages split under the entry limit, oversized documents refused.
 * The client is a stand-in that records XADD calls (the integration test uses the real Redis).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot, venvPython } from '../../local/services.js';
import { parseBlueskyEntry } from '../../src/core/bluesky/documents.js';

const SCRIPT = `
import json, sys
import numpy as np
sys.path.insert(0, ${JSON.stringify(join(projectRoot, 'tools', 'bluesky-publisher'))})
from beamline_archive_bluesky import RedisDocumentPublisher, DocumentTooLargeError

class Recorder:
    def __init__(self): self.calls = []
    def xadd(self, stream, fields, **kwargs): self.calls.append([stream, fields, kwargs])

client = Recorder()
pub = RedisDocumentPublisher(client, stream="bs:docs", maxlen=1000, max_entry_bytes=2000)
values = np.array([0.1, 1/3, 5e-324, -0.0, np.nan, np.inf, -np.inf, 1.7976931348623157e308])
pub("event", {"uid": "e1", "descriptor": "d1", "seq_num": 1, "time": 1.0,
              "data": {"x": values, "n": np.int64(2**53), "b": np.bool_(True), "t": (1, 2)}, "timestamps": {"x": 1.0}})
page = {"descriptor": "d1", "seq_num": list(range(1, 201)), "time": [1.0] * 200, "uid": [f"u{i}" for i in range(200)],
        "data": {"x": np.arange(200, dtype=np.float64) / 7}, "timestamps": {"x": [1.0] * 200}, "filled": {}}
pub("event_page", page)
errors = []
try:
    pub("event", {"uid": "big", "descriptor": "d1", "seq_num": 2, "data": {"x": np.zeros(1000)}})
except DocumentTooLargeError as e:
    errors.append(str(e))
try:
    pub("start", {"uid": "s", "bad": object()})
except TypeError as e:
    errors.append(str(e))
print(json.dumps({"calls": client.calls, "errors": errors}))
`;

interface Out {
  calls: [string, { name: string; doc: string }, Record<string, unknown>][];
  errors: string[];
}

describe('RedisDocumentPublisher (Python)', () => {
  const out = spawnSync(venvPython, ['-c', SCRIPT], { encoding: 'utf8' });
  const result = JSON.parse(out.stdout || '{}') as Out;

  it('writes one entry per document with fields name and doc, trimmed approximately', () => {
    assert.equal(out.status, 0, out.stderr);
    const [stream, fields, kwargs] = result.calls[0]!;
    assert.equal(stream, 'bs:docs');
    assert.deepEqual(Object.keys(fields).sort(), ['doc', 'name']);
    assert.deepEqual(kwargs, { maxlen: 1000, approximate: true });
  });

  it('float64 values parse back bit for bit; NaN and infinities are tagged; numpy scalars are plain', () => {
    const [, fields] = result.calls[0]!;
    const entry = parseBlueskyEntry(
      '1-0',
      new Map([
        ['name', fields.name],
        ['doc', fields.doc],
      ]),
    );
    const data = entry.doc.data as { x: number[]; n: number; b: boolean; t: number[] };
    const hex = (v: number) => {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v);
      return b.toString('hex');
    };
    const expected = [0.1, 1 / 3, 5e-324, -0, Number.NaN, Infinity, -Infinity, 1.7976931348623157e308];
    data.x.forEach((v, i) => {
      if (Number.isNaN(expected[i]!)) assert.ok(Number.isNaN(v));
      else assert.equal(hex(v), hex(expected[i]!), `value ${i}`);
    });
    assert.match(fields.doc, /\{"\$float":"nan"\},\{"\$float":"inf"\},\{"\$float":"-inf"\}/);
    assert.equal(data.n, 2 ** 53);
    assert.equal(data.b, true);
    assert.deepEqual(data.t, [1, 2]);
  });

  it('splits an event page larger than the entry limit into consecutive pages', () => {
    const pages = result.calls
      .filter(([, f]) => f.name === 'event_page')
      .map(([, f]) => JSON.parse(f.doc) as { seq_num: number[]; data: { x: number[] }; uid: string[] });
    assert.ok(pages.length > 1, `${pages.length} pages`);
    assert.ok(result.calls.every(([, f]) => Buffer.byteLength(f.doc) <= 2000));
    assert.deepEqual(
      pages.flatMap((p) => p.seq_num),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      pages.flatMap((p) => p.data.x),
      Array.from({ length: 200 }, (_, i) => i / 7),
    );
    assert.deepEqual(
      pages.flatMap((p) => p.uid),
      Array.from({ length: 200 }, (_, i) => `u${i}`),
    );
  });

  it('refuses an oversized single document and non-JSON values, naming them', () => {
    assert.match(
      result.errors[0]!,
      /event document \(uid 'big', descriptor 'd1', seq_num 2\) is \d+ bytes of JSON, more than max_entry_bytes=2000/,
    );
    assert.match(result.errors[1]!, /object value .* is not JSON data/);
    assert.equal(result.calls.filter(([, f]) => f.doc.includes('"big"')).length, 0, 'nothing of the refused document was written');
  });
});
