// The export CLI's download against a local HTTP server playing the export API and the presigned
// links: files are streamed to DIR and checked against the record's size and sha256; a file name
// from the API that is not a plain file name (`..`, empty, a path) writes nothing, inside DIR or out.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/export-command.js';

const BODY = Buffer.from('seq_num,x\r\n1,0.5\r\n'.repeat(5000));
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let server: Server;
let base: string;
let url: string;
/** export id → the file entries its download route lists. */
const listings = new Map<string, { name: string; key: string; bytes: number; sha256: string }[]>();

before(async () => {
  // The CLI signs its API calls with the environment's credentials: fake ones, the server does not check.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'eu-west-1' });
  server = createServer((req, res) => {
    const download = /^\/exports\/([^/]+)\/download$/.exec(req.url ?? '');
    if (download) {
      const files = (listings.get(download[1]!) ?? []).map((f) => ({ ...f, url: `${url}/object` }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ export_id: download[1], files }));
      return;
    }
    if (req.url === '/object') {
      res.writeHead(200).end(BODY);
      return;
    }
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  base = mkdtempSync(join(tmpdir(), 'export-cli-'));
});
after(() => {
  server.close();
  rmSync(base, { recursive: true, force: true });
});

const run = (exportId: string, dir: string) => main(['download', exportId, dir, '--url', url], {});

describe('export CLI download', () => {
  it('streams a file into DIR under its key name, checked against the record', async () => {
    listings.set('exp-good', [{ name: 'a.csv', key: 'exports/exp-good/a.csv', bytes: BODY.byteLength, sha256: sha256(BODY) }]);
    const dir = join(base, 'good');
    assert.equal(await run('exp-good', dir), 0);
    assert.deepEqual(readdirSync(dir), ['a.csv']);
    assert.ok(readFileSync(join(dir, 'a.csv')).equals(BODY));
  });

  it('keeps nothing of a file whose bytes are not the recorded ones', async () => {
    listings.set('exp-bad', [{ name: 'a.csv', key: 'exports/exp-bad/a.csv', bytes: BODY.byteLength, sha256: '0'.repeat(64) }]);
    const dir = join(base, 'bad');
    assert.equal(await run('exp-bad', dir), 1);
    assert.deepEqual(readdirSync(dir), [], 'no file, no .part');
  });

  it('refuses file names that are not plain names and writes nothing, neither in DIR nor beside it', async () => {
    for (const [id, key] of [
      ['exp-dots', 'exports/exp-dots/..'],
      ['exp-empty', 'exports/exp-empty/'],
      ['exp-ctl', 'exports/exp-ctl/a\nb.csv'],
    ] as const) {
      listings.set(id, [{ name: 'x', key, bytes: BODY.byteLength, sha256: sha256(BODY) }]);
      const parent = join(base, `hostile-${id}`);
      const dir = join(parent, 'out');
      mkdirSync(parent);
      assert.equal(await run(id, dir), 1, key);
      const written = readdirSync(parent, { recursive: true });
      assert.deepEqual(written, [], `${JSON.stringify(key)} wrote ${JSON.stringify(written)}`);
      const beside = readdirSync(base).filter((n) => n.startsWith(`hostile-${id}`));
      assert.deepEqual(beside, [`hostile-${id}`], `${JSON.stringify(key)} wrote beside DIR's parent: ${JSON.stringify(beside)}`);
    }
  });
});
