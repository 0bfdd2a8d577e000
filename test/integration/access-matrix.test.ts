/**
 * Who may see and change what (issue 15): every endpoint of the three APIs × every kind of caller,
 * through the real local gateway (the template's function URLs, the local OIDC issuer): alice
 * (member of p1), bob (member of p2), staff (beamline id21), admin (archive-admin role), an IAM
 * service, anonymous, an expired token and a token from another issuer. Then each attack of the
 * issue: closing or writing another proposal's dataset, reusing someone's export request id,
 * downloading another's export, lineage showing other proposals, the two-POST /provenance attack
 * and the pre-recorded export provenance attack.
 *
 * Data: datasets p1 (id21, open), p2 (id00, open), p3 (id00, ended in 2020: public); ARCHIVED run
 * records of p1 and p2 (seeded through the run catalogue adapter); exports requested through the API.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import { emulatorCredentials } from '../../local/aws-target.js';
import type { HttpGateway } from '../../local/http-gateway.js';
import { startOidcIssuer, type LocalOidcIssuer } from '../../local/oidc-issuer.js';
import { projectRoot } from '../../local/services.js';
import { bearerRequest, signedRequest, type SignedResponse } from '../../src/adapters/signed-http.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { DynamoDbExportCatalogue } from '../../src/adapters/dynamodb-export-catalogue.js';
import { DynamoDbDatasetCatalogue } from '../../src/adapters/dynamodb-dataset-catalogue.js';
import type { RunStart } from '../../src/core/contract/generated-types.js';

const USERS = ['alice', 'bob', 'staff', 'admin', 'service', 'anonymous', 'expired', 'foreign'] as const;
type User = (typeof USERS)[number];
/** Expected status per user; `others` for the rest; null: not asked. */
type Expect = Partial<Record<User, number | null>> & { others?: number };

const P1 = 'p1/id21/s1/c/d1';
const P2 = 'p2/id00/s1/c/d1';
const P3 = 'p3/id00/s1/c/d1';
const RUN_P1 = '01JAAAAAAAAAAAAAAAAAAAAAP1';
const RUN_P2 = '01JAAAAAAAAAAAAAAAAAAAAAP2';

describe('access matrix: every endpoint × every caller, through the local gateway', () => {
  let env: LocalEnvironment;
  let gateway: HttpGateway;
  let foreignIssuer: LocalOidcIssuer;
  const tokens: Partial<Record<User, string>> = {};
  const credentials = emulatorCredentials();
  let bucket: string;

  const call = (user: User, fn: string, path: string, method = 'GET', body?: unknown): Promise<SignedResponse> => {
    const url = `${gateway.urlOf(fn)}${path.replace(/^\//, '')}`;
    const request = { url, method, ...(body !== undefined ? { body } : {}) };
    if (user === 'service') return signedRequest(request, { region: env.region, credentials });
    if (user === 'anonymous') {
      return fetch(url, {
        method,
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      }).then(async (r) => {
        const text = await r.text();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        return { status: r.status, headers: Object.fromEntries(r.headers.entries()), body: text, json };
      });
    }
    return bearerRequest(request, tokens[user]!);
  };

  /** Runs one request per user; checks each status against the expectation (`others` for the rest; bad tokens always 401). */
  const matrix = async (
    what: string,
    fn: string,
    path: string | ((u: User) => string),
    expect: Expect,
    method = 'GET',
    body?: unknown | ((u: User) => unknown),
  ) => {
    const failures: string[] = [];
    const answers: Partial<Record<User, SignedResponse>> = {};
    for (const user of USERS) {
      if (expect[user] === null) continue;
      const expected = expect[user] ?? (user === 'expired' || user === 'foreign' ? 401 : expect.others);
      const p = typeof path === 'function' ? path(user) : path;
      const b = typeof body === 'function' ? (body as (u: User) => unknown)(user) : body;
      const response = await call(user, fn, p, method, b);
      answers[user] = response;
      if (response.status !== expected) failures.push(`${user}: ${response.status} (expected ${expected}) ${response.body.slice(0, 200)}`);
    }
    assert.deepEqual(failures, [], `${what}\n${failures.join('\n')}`);
    return answers;
  };

  before(async () => {
    env = await startLocalEnvironment({ redis: false });
    gateway = await env.startHttpGateway();
    foreignIssuer = await startOidcIssuer();
    bucket = env.resources.bucket.name;
    for (const user of ['alice', 'bob', 'staff', 'admin'] as const) tokens[user] = await env.oidc.token(user);
    tokens.expired = await env.oidc.token('alice', { issuedAt: new Date(Date.now() - 7200_000), expiresIn: 3600 });
    tokens.foreign = await foreignIssuer.token('admin');

    // Datasets, opened by the archive's service; p3 ended in 2020: public after its 3-year embargo.
    for (const id of [P1, P2, P3]) {
      const [proposal, beamline, session, collection, dataset] = id.split('/');
      const opened = await call('service', 'dataset-api', '/datasets', 'POST', {
        dataset: { proposal, beamline, session, collection, dataset },
        metadata: { Sample_name: `sample of ${proposal}` },
      });
      assert.ok(opened.status === 201 || opened.status === 200, opened.body);
    }
    const doc = DynamoDBDocumentClient.from(env.clients.dynamo);
    await doc.send(
      new UpdateCommand({
        TableName: env.resources.table.name,
        Key: { pk: 'DATASET#p3#id00#s1#c#d1', sk: 'DATASET' },
        UpdateExpression: 'SET end_date = :end',
        ExpressionAttributeValues: { ':end': '2020-01-01T00:00:00.000Z' },
      }),
    );

    // ARCHIVED runs of p1 and p2, as the run-recorder and scan-writer record them.
    const sample = JSON.parse(readFileSync(join(projectRoot, 'events', 'samples', 'run-start.json'), 'utf8')) as { detail: RunStart };
    const runs = new DynamoDbRunCatalogue(env.clients.dynamo, env.resources.table.name);
    for (const [uid, id] of [
      [RUN_P1, P1],
      [RUN_P2, P2],
    ] as const) {
      const [proposal, beamline, session, collection, dataset] = id.split('/') as [string, string, string, string, string];
      await runs.runStarted({ ...sample.detail, uid, data_policy: { proposal, beamline, session, collection, dataset } });
      const key = `archive/${proposal}/${beamline}/${session}/${collection}/${collection}_${dataset}/${collection}_${dataset}_0001.h5`;
      await runs.runArchived({
        runUid: uid,
        file: { bucket, key, bytes: 10, sha256: '0'.repeat(64) },
        points: { 'axis:sy': 10 },
        archivedAt: new Date().toISOString(),
        channelPaths: { 'axis:sy': '/1.1/measurement/sy' },
        // As the scan writer leaves a run one of whose channels could not be stored (shown in the dataset's scan list).
        ...(uid === RUN_P1 ? { refusedChannels: [{ channel: 'mca:half', reason: 'dtype <f2 cannot be stored' }] } : {}),
      });
    }
  });
  after(async () => {
    await env?.stop();
    await foreignIssuer?.stop();
  });

  describe('dataset-api', () => {
    it('GET /datasets: everyone valid gets 200, filtered to what they may read', async () => {
      const answers = await matrix('list', 'dataset-api', '/datasets?from=2000-01-01&to=2100-01-01', { others: 200 });
      const ids = (u: User) => (answers[u]!.json as { datasets: { id: string }[] }).datasets.map((d) => d.id).sort();
      assert.deepEqual(ids('alice'), [P1, P3]);
      assert.deepEqual(ids('bob'), [P2, P3]);
      assert.deepEqual(ids('staff'), [P1, P3]);
      assert.deepEqual(ids('admin'), [P1, P2, P3]);
      assert.deepEqual(ids('service'), [P1, P2, P3]);
      assert.deepEqual(ids('anonymous'), [P3]);
      // A search is filtered the same way.
      const search = await call('alice', 'dataset-api', '/datasets?proposal=p2');
      assert.equal(search.status, 200);
      assert.deepEqual((search.json as { datasets: unknown[] }).datasets, []);
    });

    for (const suffix of ['', '/metadata', '/missing', '/scans']) {
      it(`GET /datasets/<p1>${suffix}: members, the beamline's staff and admins`, async () => {
        await matrix(`read p1${suffix}`, 'dataset-api', `/datasets/${P1}${suffix}`, {
          alice: 200,
          bob: 403,
          staff: 200,
          admin: 200,
          service: 200,
          anonymous: 401,
        });
      });
    }

    it("GET /proposals/p1 (the portal's proposal view): members, beamline staff and admins; bob is told he has no access", async () => {
      const answers = await matrix('proposal p1', 'dataset-api', '/proposals/p1', {
        alice: 200,
        bob: 403,
        staff: 200,
        admin: 200,
        service: 200,
        anonymous: 401,
      });
      assert.deepEqual(answers.alice!.json, { proposal: 'p1', access: 'member', reason: 'alice is a member of proposal p1' });
      assert.equal((answers.staff!.json as { access: string }).access, 'staff');
      assert.equal((answers.service!.json as { access: string }).access, 'administrator');
      assert.match((answers.bob!.json as { error: string }).error, /^You have no access to proposal p1: bob is not a member of it/);
    });

    it("GET /datasets/<p1>/scans: each scan with its run record's type, points, state and times", async () => {
      // The p1 run joins its dataset as the dataset-recorder makes it join (RunStart), in a dataset of its own (d1 stays as the other tests expect).
      const catalogue = new DynamoDbDatasetCatalogue(env.clients.dynamo, env.resources.table.name);
      const opened = await call('service', 'dataset-api', '/datasets', 'POST', {
        dataset: { proposal: 'p1', beamline: 'id21', session: 's1', collection: 'c', dataset: 'scans' },
      });
      assert.ok(opened.status === 201 || opened.status === 200, opened.body);
      const ref = { proposal: 'p1', beamline: 'id21', session: 's1', collection: 'c', dataset: 'scans' };
      assert.equal(
        await catalogue.addScan(ref, {
          runUid: RUN_P1,
          scanNumber: 3,
          title: 'ascan sy 0 1 10 0.1',
          startTime: '2026-11-22T10:00:00.000Z',
        }),
        'added',
      );
      const answers = await matrix('scans of p1', 'dataset-api', '/datasets/p1/id21/s1/c/scans/scans', {
        alice: 200,
        bob: 403,
        staff: 200,
        admin: 200,
        service: 200,
        anonymous: 401,
      });
      const [scan] = (answers.alice!.json as { scans: Record<string, unknown>[] }).scans;
      assert.equal(scan!.runUid, RUN_P1);
      assert.equal(scan!.type, 'ascan', "the RunStart's plan name (BLISS scan type)");
      assert.equal(scan!.points, 10);
      assert.equal(scan!.state, 'ARCHIVED');
      assert.deepEqual(scan!.refusedChannels, [{ channel: 'mca:half', reason: 'dtype <f2 cannot be stored' }]);
    });

    it('GET /datasets/<p3>: public after the embargo, to anyone (a bad token is still a 401)', async () => {
      await matrix('read public p3', 'dataset-api', `/datasets/${P3}`, { others: 200 });
    });

    it('PATCH metadata, POST techniques of p1: the beamline staff and admins only', async () => {
      await matrix(
        'write metadata p1',
        'dataset-api',
        `/datasets/${P1}/metadata`,
        { alice: 403, bob: 403, staff: 200, admin: 200, service: 200, anonymous: 401 },
        'PATCH',
        { fields: { Sample_notes: 'checked' } },
      );
      await matrix(
        'add technique p1',
        'dataset-api',
        `/datasets/${P1}/techniques`,
        { alice: 403, bob: 403, staff: 200, admin: 200, service: 200, anonymous: 401 },
        'POST',
        (u: User) => ({ technique: ({ staff: 'FLUO', admin: 'SAXS', service: 'MX' } as Partial<Record<User, string>>)[u] ?? 'WAXS' }),
      );
    });

    it('POST /datasets (open) at id21: staff and admins only', async () => {
      await matrix(
        'open at id21',
        'dataset-api',
        '/datasets',
        { alice: 403, bob: 403, staff: 201, admin: 200, service: 200, anonymous: 401 },
        'POST',
        { dataset: { proposal: 'p1', beamline: 'id21', session: 's1', collection: 'c', dataset: 'd9' } },
      );
    });

    it("attack: closing (or writing) another proposal's dataset is refused, and leaves it open", async () => {
      // Admins and services may close (not asked here: the refusals are this test's point).
      await matrix(
        'close p2',
        'dataset-api',
        `/datasets/${P2}/close`,
        { alice: 403, bob: 403, staff: 403, anonymous: 401, admin: null, service: null },
        'POST',
      );
      await matrix(
        'metadata p2',
        'dataset-api',
        `/datasets/${P2}/metadata`,
        { alice: 403, staff: 403, anonymous: 401, bob: 403, admin: null, service: null },
        'PATCH',
        { fields: { Sample_name: 'mine now' } },
      );
      const p2 = await call('admin', 'dataset-api', `/datasets/${P2}`);
      assert.equal((p2.json as { state: string }).state, 'OPEN');
    });

    it('GET /datasets/<p2>/scans/<run>/file (presigned URLs for the portal): only who may read p2 gets past the policy', async () => {
      // No scan joined p2 in this test (404 for who may look); everyone else never reaches the links.
      await matrix('file links p2', 'dataset-api', `/datasets/${P2}/scans/${RUN_P2}/file`, {
        alice: 403,
        bob: 404,
        staff: 403,
        admin: 404,
        service: 404,
        anonymous: 401,
      });
    });

    it('malformed percent-encoding in a path is a 400, not a 500, in each API', async () => {
      for (const [fn, path] of [
        ['dataset-api', '/datasets/p1%E0%A4%A/id21/s1/c/d1'],
        ['export-api', '/exports/exp-%E0%A4%A'],
        ['analysis-api', '/runs/%E0%A4%A'],
      ] as const) {
        const response = await call('admin', fn, path);
        assert.equal(response.status, 400, `${fn}: ${response.body}`);
      }
    });

    it('lists are filtered before the limit: a page of one holds the dataset the caller may read (review defect)', async () => {
      // The open datasets in start order begin with p1's: bob's page of one was empty before.
      const bob = await call('bob', 'dataset-api', '/datasets?open=true&limit=1');
      assert.equal(bob.status, 200, bob.body);
      assert.deepEqual(
        (bob.json as { datasets: { id: string }[] }).datasets.map((d) => d.id),
        [P2],
      );
      const anonymous = await call('anonymous', 'dataset-api', '/datasets?from=2000-01-01&to=2100-01-01&limit=1');
      assert.deepEqual(
        (anonymous.json as { datasets: { id: string }[] }).datasets.map((d) => d.id),
        [P3],
      );
    });

    it('CORS: the people URLs answer loopback pages (the local portal) only, never another site (review defect: *)', async () => {
      const preflight = (origin: string) =>
        fetch(gateway.urlOf('dataset-api'), {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
        });
      assert.equal((await preflight('http://127.0.0.1:5173')).headers.get('access-control-allow-origin'), 'http://127.0.0.1:5173');
      assert.equal((await preflight('https://evil.example')).headers.get('access-control-allow-origin'), null);
    });
  });

  describe('export-api', () => {
    let aliceExport: string;

    it('POST /exports of a p1 run: who may read it; each requester gets an export of their own', async () => {
      const answers = await matrix(
        'request p1',
        'export-api',
        '/exports',
        { alice: 202, bob: 403, staff: 202, admin: 202, service: 202, anonymous: 401 },
        'POST',
        { request_id: 'same-id', runs: [RUN_P1], format: 'csv' },
      );
      const ids = (['alice', 'staff', 'admin', 'service'] as const).map((u) => (answers[u]!.json as { export_id: string }).export_id);
      assert.equal(new Set(ids).size, ids.length, 'one request id, four requesters, four exports');
      aliceExport = ids[0]!;
      assert.equal((answers.alice!.json as { requester: string }).requester, `oidc:user-alice@${env.oidc.issuer}`);
    });

    it("attack: reusing alice's request id gives bob his own export, not a 409 naming her runs", async () => {
      const bob = await call('bob', 'export-api', '/exports', 'POST', { request_id: 'same-id', runs: [RUN_P2], format: 'nexus' });
      assert.equal(bob.status, 202, bob.body);
      assert.notEqual((bob.json as { export_id: string }).export_id, aliceExport);
      assert.doesNotMatch(bob.body, new RegExp(RUN_P1));
    });

    it('attack: a requester in the body is ignored', async () => {
      const forged = await call('bob', 'export-api', '/exports', 'POST', {
        request_id: 'forged',
        runs: [RUN_P2],
        format: 'csv',
        requester: `oidc:user-alice@${env.oidc.issuer}`,
      });
      assert.equal(forged.status, 202, forged.body);
      assert.equal((forged.json as { requester: string }).requester, `oidc:user-bob@${env.oidc.issuer}`);
    });

    it("GET /exports/<alice's>: the requester, whoever may read its runs, admins", async () => {
      await matrix('status', 'export-api', () => `/exports/${aliceExport}`, {
        alice: 200,
        bob: 403,
        staff: 200,
        admin: 200,
        service: 200,
        anonymous: 401,
      });
    });

    it('GET /exports/<id>/download: presigned URLs only for who may read it, and they serve the file', async () => {
      // The worker's result, recorded as it records it.
      const key = `exports/${aliceExport}/${RUN_P1}_primary.csv`;
      const content = Buffer.from('seq_num,axis:sy\n1,0.5\n');
      await env.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: content }));
      const exportsCatalogue = new DynamoDbExportCatalogue(env.clients.dynamo, env.resources.table.name);
      const sha256 = createHash('sha256').update(content).digest('hex');
      await exportsCatalogue.completed(aliceExport, {
        files: [{ name: `${RUN_P1}_primary.csv`, bucket, key, bytes: content.length, sha256, contentType: 'text/csv' }],
        provenance: `export:${aliceExport}`,
        notes: [],
        completedAt: new Date().toISOString(),
      });
      const answers = await matrix('download', 'export-api', () => `/exports/${aliceExport}/download`, {
        alice: 200,
        bob: 403,
        staff: 200,
        admin: 200,
        service: 200,
        anonymous: 401,
      });
      const link = (answers.alice!.json as { files: { url: string }[] }).files[0]!.url;
      assert.deepEqual(Buffer.from(await (await fetch(link)).arrayBuffer()), content);
      assert.equal((answers.bob!.json as { files?: unknown }).files, undefined, 'no link for bob');
    });
  });

  describe('analysis-api', () => {
    const analysisFile = (u: User) => `file:s3://${bucket}/analysis/results/${u}.h5`;
    const provenanceOf = (parents: string[]) => ({
      parents,
      inputs: [{ uri: `s3://${bucket}/archive/p1/id21/s1/c/c_d1/c_d1_0001.h5`, sha256: '0'.repeat(64) }],
      software: { name: 'fit', version: '1.0', repository: 'https://example.org/fit', commit: 'abc1234' },
      parameters: { k: 1 },
      agent: { name: 'someone' },
      started_at: '2026-12-01T10:00:00Z',
    });

    it('POST /provenance derived from a p1 run: who may read the run', async () => {
      await matrix(
        'record provenance',
        'analysis-api',
        '/provenance',
        { alice: 201, bob: 403, staff: 201, admin: 201, service: 201, anonymous: 401 },
        'POST',
        (u: User) => ({ entity: analysisFile(u), provenance: provenanceOf([`run:${RUN_P1}`]) }),
      );
    });

    it("GET /provenance of alice's result: who may read what it derives from", async () => {
      await matrix('read provenance', 'analysis-api', `/provenance?entity=${encodeURIComponent(analysisFile('alice'))}`, {
        alice: 200,
        bob: 403,
        staff: 200,
        admin: 200,
        service: 200,
        anonymous: 401,
      });
    });

    it("GET /lineage of the p1 run: other proposals' nodes are redacted", async () => {
      // A result made from runs of p1 and p2: alice may read only half of its parents.
      const mixed = `file:s3://${bucket}/analysis/results/mixed.h5`;
      const recorded = await call('admin', 'analysis-api', '/provenance', 'POST', {
        entity: mixed,
        provenance: provenanceOf([`run:${RUN_P1}`, `run:${RUN_P2}`]),
      });
      assert.equal(recorded.status, 201, recorded.body);
      const answers = await matrix(
        'lineage',
        'analysis-api',
        `/lineage?entity=${encodeURIComponent(`run:${RUN_P1}`)}&direction=descendants`,
        { alice: 200, bob: 403, staff: 200, admin: 200, service: 200, anonymous: 401 },
      );
      const nodes = (u: User) => (answers[u]!.json as { nodes: { entity: string }[] }).nodes.map((n) => n.entity);
      assert.ok(nodes('admin').includes(mixed));
      assert.ok(!nodes('alice').includes(mixed), 'alice may not read p2: the mixed result is redacted');
      assert.ok(nodes('alice').some((e) => e.startsWith('redacted:')));
      assert.ok(nodes('alice').includes(analysisFile('alice')));
      assert.doesNotMatch(answers.alice!.body, new RegExp(`${RUN_P2}|user-bob`));
    });

    it('attack: two POST /provenance naming a future scan file (as an output, then as a parent) are refused', async () => {
      const future = `s3://${bucket}/archive/p1/id21/s1/c/c_d1/c_d1_0099.h5`;
      const first = await call('alice', 'analysis-api', '/provenance', 'POST', {
        entity: `file:s3://${bucket}/analysis/attack/a.h5`,
        provenance: provenanceOf([`run:${RUN_P1}`]),
        outputs: [{ uri: future, sha256: 'a'.repeat(64) }],
      });
      assert.equal(first.status, 400, first.body);
      assert.match(first.body, /archive's own/);
      for (const spelled of [
        `file:${future}`,
        `file:s3://${bucket}//archive/p1/id21/s1/c/c_d1/c_d1_0099.h5`,
        `file:s3://${bucket}/./archive/p1/x.h5`,
      ]) {
        const direct = await call('alice', 'analysis-api', '/provenance', 'POST', {
          entity: spelled,
          provenance: provenanceOf([`run:${RUN_P1}`]),
        });
        assert.equal(direct.status, 400, `${spelled}: ${direct.body}`);
      }
      const second = await call('alice', 'analysis-api', '/provenance', 'POST', {
        entity: `file:s3://${bucket}/analysis/attack/b.h5`,
        provenance: provenanceOf([`file:${future}`]),
      });
      assert.notEqual(second.status, 201, 'the future file does not exist: it cannot be a parent');
    });

    it('attack: pre-recording the provenance of an export (or of its files) is refused', async () => {
      for (const entity of [`export:${'exp-'}0123456789abcdef01234567`, `file:s3://${bucket}/exports/exp-0123456789abcdef01234567/x.csv`]) {
        const response = await call('admin', 'analysis-api', '/provenance', 'POST', {
          entity,
          provenance: provenanceOf([`run:${RUN_P1}`]),
        });
        assert.equal(response.status, 400, `${entity}: ${response.body}`);
      }
    });
  });
  describe('audit', () => {
    it('every write is recorded with who and when; GET /audit?proposal= for who may read the proposal', async () => {
      const answers = await matrix('audit p1', 'dataset-api', '/audit?proposal=p1', {
        alice: 200,
        bob: 403,
        staff: 200,
        admin: 200,
        service: 200,
        anonymous: 401,
      });
      const entries = (answers.alice!.json as { entries: { action: string; name: string; who: string; at: string; target: string }[] })
        .entries;
      const has = (action: string, name: string) =>
        entries.some((e) => e.action === action && e.name === name && !Number.isNaN(Date.parse(e.at)));
      assert.ok(has('dataset.open', `arn:aws:iam::${env.resources.accountId}:user/${credentials.accessKeyId}`), 'the service opened p1');
      assert.ok(has('dataset.metadata', 'staff'), 'staff wrote metadata');
      assert.ok(has('dataset.technique', 'admin'), 'admin added a technique');
      assert.ok(has('export.request', 'alice'), 'alice requested an export');
      assert.ok(has('analysis.provenance', 'alice'), 'alice recorded provenance');
      assert.ok(!entries.some((e) => e.name === 'bob'), 'refused attempts change nothing and are not recorded as changes');
      assert.ok(
        entries.every((e, i) => i === 0 || entries[i - 1]!.at >= e.at),
        'newest first',
      );
      const p2 = await call('bob', 'dataset-api', '/audit?proposal=p2');
      assert.ok(
        (p2.json as { entries: { name: string; action: string }[] }).entries.some((e) => e.name === 'bob' && e.action === 'export.request'),
      );
    });
  });
});
