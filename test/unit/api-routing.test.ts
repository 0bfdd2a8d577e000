/**
 * The route tables of the three function-URL APIs on Powertools' router (functions/shared/http-router.ts,
 * functions/<api>/routes.ts): each route reaches its own handler (told apart by what only that handler
 * answers), an unknown route or a wrong method is a 404 as before, malformed percent-encoding a 400,
 * and what Powertools 2.35 would get wrong on its own (an unknown verb, a GET body, an unreadable
 * Host) is answered as the APIs did before. The adapters are the in-memory ones; the authenticator
 * is the real one (functions/shared/caller.ts) with an IAM grant.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { MemoryAnalysisCatalogue, MemoryProvenanceStore } from '../../src/adapters/memory/analysis-stores.js';
import { MemoryEventBus } from '../../src/adapters/memory/event-bus.js';
import { MemoryExportCatalogue } from '../../src/adapters/memory/export-catalogue.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';
import { MemoryRunCatalogue } from '../../src/adapters/memory/run-catalogue.js';
import { createLocalExportWorkspace } from '../../src/adapters/local-export-workspace.js';
import { handlerFor, writerFor } from '../../src/adapters/analysis-formats.js';
import { createLogger } from '../../src/adapters/logger.js';
import { parseIamCallerGrants } from '../../src/core/access/caller.js';
import type { AuditEntry, AuditLog } from '../../src/core/access/audit.js';
import { DatasetService } from '../../src/core/datasets/dataset-service.js';
import type { DatasetCatalogue } from '../../src/core/datasets/ports.js';
import type { DatasetRecord } from '../../src/core/datasets/model.js';
import { ExportService } from '../../src/core/exports/export-service.js';
import { createAuthenticator, UnauthenticatedError } from '../../functions/shared/caller.js';
import { createHandler as analysisApi } from '../../functions/analysis-api/handler.js';
import { createHandler as datasetApi } from '../../functions/dataset-api/handler.js';
import { createHandler as exportApi } from '../../functions/export-api/handler.js';
import type { UrlHandler } from '../../functions/shared/http-router.js';

const ADMIN_ARN = 'arn:aws:iam::000000000000:role/archive-admin';
const authenticate = createAuthenticator(
  undefined,
  parseIamCallerGrants(JSON.stringify([{ principal: ADMIN_ARN, roles: ['archive-admin'] }])),
);
const logger = createLogger('api-routing-test', 'CRITICAL');
const now = () => new Date('2026-12-07T04:00:00.000Z');

class ListAuditLog implements AuditLog {
  readonly entries: AuditEntry[] = [];
  async record(entry: AuditEntry) {
    this.entries.push(entry);
  }
  async list(proposal: string) {
    return this.entries.filter((e) => e.proposal === proposal);
  }
}

const context: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'api',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:api',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/api',
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

type Who = 'admin' | 'anonymous' | 'badToken';
interface Call {
  who?: Who;
  body?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

/** A payload-2.0 event as a function URL sends it (the IAM URL for admin, the people URL otherwise). */
function event(method: string, rawPath: string, call: Call = {}): APIGatewayProxyEventV2 {
  const who = call.who ?? 'admin';
  const query = call.query ?? {};
  const rawQueryString = new URLSearchParams(query).toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers: {
      host: 'abc.lambda-url.eu-west-1.on.aws',
      ...(who === 'badToken' ? { authorization: 'Basic YWxpY2U6c2VjcmV0' } : {}),
      ...call.headers,
    },
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'api',
      domainName: 'abc.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abc',
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '07/Dec/2026:04:00:00 +0000',
      timeEpoch: 0,
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      ...(who === 'admin'
        ? {
            authorizer: {
              iam: {
                accessKey: 'AK',
                accountId: '000000000000',
                callerId: 'AK',
                cognitoIdentity: null,
                principalOrgId: '',
                userArn: ADMIN_ARN,
                userId: 'AK',
              },
            },
          }
        : {}),
    } as APIGatewayProxyEventV2['requestContext'],
    ...(call.body === undefined ? {} : { body: typeof call.body === 'string' ? call.body : JSON.stringify(call.body) }),
    isBase64Encoded: false,
  };
}

async function send(api: UrlHandler, method: string, path: string, call?: Call) {
  const result = (await api(event(method, path, call), context)) as APIGatewayProxyStructuredResultV2;
  const text = typeof result.body === 'string' ? result.body : '';
  return { status: result.statusCode, headers: result.headers ?? {}, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** The three answers every API shares: unknown route, wrong method, malformed encoding, unknown verb. */
async function assertFrame(api: UrlHandler, route: string, wrongMethod: string, malformed: string) {
  const unknown = await send(api, 'GET', '/nothing/here/');
  assert.equal(unknown.status, 404);
  assert.match(JSON.stringify(unknown.body), /no route GET \/nothing\/here/);
  assert.equal((await send(api, wrongMethod, route)).status, 404, `${wrongMethod} ${route} is no route`);
  const bad = await send(api, 'GET', malformed);
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.body), /malformed percent-encoding/);
  // Powertools refuses a verb it does not know with an empty 405: the APIs answer it like any unknown route.
  assert.equal((await send(api, 'PROPFIND', route)).status, 404);
  // A token that proves nothing is a 401 on a route and off one (authentication comes before routing).
  assert.equal((await send(api, 'GET', route, { who: 'badToken' })).status, 401);
  assert.equal((await send(api, 'GET', '/nothing/here', { who: 'badToken' })).status, 401);
  // An unreadable Host (the router builds a WHATWG Request from it) is a 400, not a thrown 502.
  assert.equal((await send(api, 'GET', route, { headers: { host: 'bad host' } })).status, 400);
}

/** The export service on in-memory adapters (no run is archived: no build happens here). */
function exportService() {
  const exports = new MemoryExportCatalogue();
  const service = new ExportService({
    exports,
    runs: new MemoryRunCatalogue(),
    store: new MemoryObjectStore(),
    publisher: new MemoryEventBus(),
    reader: {
      open: async () => {
        throw new Error('not used by this test');
      },
    },
    workspace: (fileTime) => createLocalExportWorkspace({ fileTimeMs: fileTime.getTime() }),
    provenance: {
      store: new MemoryProvenanceStore(),
      software: { name: 'beamline-archive', version: '0.1.0', repository: 'https://example.org/beamline-archive' },
    },
    creator: 'beamline-archive 0.1.0',
    now,
    leaseMs: 60_000,
  });
  return { service, exports };
}

describe("API routing on Powertools' router", () => {
  it('analysis-api: each route reaches its handler; the frame answers as before', async () => {
    const store = new MemoryObjectStore('results');
    const provenance = new MemoryProvenanceStore();
    const api = analysisApi({
      store,
      catalogue: new MemoryAnalysisCatalogue(),
      provenance,
      newUid: () => 'UID1',
      now,
      logger,
      authenticate,
      writerFor: (spec, kwargs) => writerFor(spec, store, kwargs),
      handlerFor: (spec, kwargs) => handlerFor(spec, store, kwargs),
      access: { run: async () => undefined, exportRecord: async () => undefined, embargoYears: 3 },
      audit: new ListAuditLog(),
    });
    assert.match(String((await send(api, 'POST', '/runs')).body.message), /the request has no body/);
    const run = await send(api, 'GET', '/runs/01ABC');
    assert.equal(run.status, 404);
    assert.equal(run.body.error, 'AnalysisNotFoundError');
    assert.match(String((await send(api, 'POST', '/provenance', { body: {} })).body.message), /entity \(<kind>:<id>\) is required/);
    const record = await send(api, 'GET', '/provenance', { query: { entity: 'file:s3://results/fit.json' } });
    assert.deepEqual([record.status, record.body.message], [404, 'file:s3://results/fit.json has no provenance record']);
    // /lineage knows two directions, /prov three: the message tells the handlers apart.
    assert.match(
      String((await send(api, 'GET', '/lineage', { query: { entity: 'run:R1', direction: 'x' } })).body.message),
      /ancestors, descendants$/,
    );
    assert.match(
      String((await send(api, 'GET', '/prov/', { query: { entity: 'run:R1', direction: 'x' } })).body.message),
      /ancestors, descendants or both$/,
    );
    // A run uid outside [A-Za-z0-9._:-] (an encoded slash, a blank) is no route, as with the regex router.
    assert.equal((await send(api, 'GET', '/runs/a%2Fb')).status, 404);
    assert.equal((await send(api, 'GET', '/runs/%20')).status, 404);
    // A body on a GET is ignored (Powertools' Request would refuse it).
    assert.equal((await send(api, 'GET', '/runs/01ABC', { body: '{}' })).status, 404);
    // What changed with the router (ADR 0020): dot segments are resolved before routing, static paths match encoded.
    const dotted = await send(api, 'GET', '/runs/x/../../provenance', { query: { entity: 'file:s3://results/fit.json' } });
    assert.deepEqual([dotted.status, dotted.body.message], [404, 'file:s3://results/fit.json has no provenance record']);
    assert.match(
      String((await send(api, 'GET', '/pr%6Fvenance', { query: { entity: 'file:s3://results/fit.json' } })).body.message),
      /^no route GET \/pr%6Fvenance$/,
    );
    // Anonymous callers read only: a write is a 401, on an unknown route too.
    assert.equal((await send(api, 'POST', '/runs', { who: 'anonymous', body: {} })).status, 401);
    assert.equal((await send(api, 'POST', '/nothing', { who: 'anonymous' })).status, 401);
    await assertFrame(api, '/provenance', 'DELETE', '/runs/%E0%A4%A');
  });

  it('dataset-api: each route reaches its handler; the frame answers as before', async () => {
    const id = 'p1/id21/s1/c/d1';
    const record: DatasetRecord = {
      ref: { proposal: 'p1', beamline: 'id21', session: 's1', collection: 'c', dataset: 'd1' },
      id,
      state: 'OPEN',
      origin: 'api',
      techniques: [],
      metadata: { Sample_name: 'quartz' },
      startDate: '2026-12-01T00:00:00.000Z',
      version: 1,
    } as DatasetRecord;
    const notUsed = () => {
      throw new Error('not used by this test');
    };
    const catalogue: DatasetCatalogue = {
      get: async (ref) => (ref.dataset === 'd1' ? structuredClone(record) : undefined),
      listScans: async () => [],
      list: async () => [structuredClone(record)],
      open: notUsed,
      update: notUsed,
      beginClose: notUsed,
      finishClose: notUsed,
      addScan: notUsed,
      setScanFile: notUsed,
    };
    const service = new DatasetService({
      catalogue,
      store: new MemoryObjectStore(),
      writer: { write: notUsed },
      publisher: new MemoryEventBus(),
      now,
      creator: 'beamline-archive test',
    });
    const links = { linkTo: async (key: string) => `https://example.org/${key}` };
    const api = datasetApi({ service, logger, authenticate, audit: new ListAuditLog(), links, now });
    assert.equal((await send(api, 'GET', `/datasets/${id}`)).body.id, id);
    assert.deepEqual((await send(api, 'GET', `/datasets/${id}/metadata`)).body, { metadata: { Sample_name: 'quartz' } });
    assert.ok('mandatory' in (await send(api, 'GET', `/datasets/${id}/missing`)).body);
    assert.deepEqual((await send(api, 'GET', `/datasets/${id}/scans/`)).body, { scans: [] });
    assert.deepEqual((await send(api, 'GET', `/datasets/${id}/scans/RUN1/file`)).body, { error: `scan RUN1 is not in dataset ${id}` });
    assert.match(String((await send(api, 'GET', '/datasets/p1/id21/s1/c/d2')).body.error), /no dataset p1\/id21\/s1\/c\/d2/);
    // The id is decoded by the router: an encoded segment reaches the service decoded.
    assert.match(String((await send(api, 'GET', '/datasets/p1/id21/s1/c/d%32')).body.error), /no dataset p1\/id21\/s1\/c\/d2/);
    assert.equal((await send(api, 'GET', '/datasets', { query: { open: 'true' } })).body.datasets instanceof Array, true);
    assert.match(
      String((await send(api, 'GET', '/datasets', { query: { colour: 'red' } })).body.error),
      /unknown query parameter\(s\) colour/,
    );
    assert.match(String((await send(api, 'POST', '/datasets')).body.error), /the request has no body/);
    for (const [method, suffix] of [
      ['POST', 'techniques'],
      ['PATCH', 'metadata'],
      ['POST', 'metadata'],
    ] as const) {
      assert.match(
        String((await send(api, method, `/datasets/${id}/${suffix}`)).body.error),
        /the request has no body/,
        `${method} ${suffix}`,
      );
    }
    assert.deepEqual((await send(api, 'GET', '/proposals/p1')).body.proposal, 'p1');
    assert.match(String((await send(api, 'GET', '/audit')).body.error), /query parameter proposal is required/);
    // Wrong methods on real paths, and paths one segment short or long, are no routes.
    for (const [method, path] of [
      ['PATCH', `/datasets/${id}/techniques`],
      ['GET', `/datasets/${id}/close`],
      ['PUT', '/datasets'],
      ['GET', '/datasets/p1/id21/s1/c'],
      ['GET', `/datasets/${id}/extra/more`],
    ]) {
      assert.equal((await send(api, method!, path!)).status, 404, `${method} ${path}`);
    }
    // Without presigned links the file route does not exist.
    const noLinks = datasetApi({ service, logger, authenticate, audit: new ListAuditLog(), now });
    assert.match(String((await send(noLinks, 'GET', `/datasets/${id}/scans/RUN1/file`)).body.error), /^no route GET/);
    await assertFrame(api, `/datasets/${id}`, 'DELETE', '/datasets/p1%E0%A4%A/id21/s1/c/d1');
  });

  it('export-api: each route reaches its handler; anonymous callers are refused everywhere', async () => {
    const { service, exports } = exportService();
    exports.records.set('exp-1', {
      exportId: 'exp-1',
      requestId: 'r1',
      format: 'csv',
      runs: [],
      options: {},
      requester: `iam:${ADMIN_ARN}`,
      origin: 'api',
      fingerprint: 'f',
      state: 'REQUESTED',
      requestedAt: now().toISOString(),
      updatedAt: now().toISOString(),
      attempts: 0,
    } as Parameters<typeof exports.records.set>[1]);
    const api = exportApi({ service, logger, authenticate, audit: new ListAuditLog(), now });
    assert.match(
      String((await send(api, 'POST', '/exports')).body.error),
      /the request has no body: JSON \{request_id, runs, format\} expected/,
    );
    assert.deepEqual(
      [(await send(api, 'GET', '/exports/exp-1')).body.export_id, (await send(api, 'GET', '/exports/exp-1')).body.state],
      ['exp-1', 'REQUESTED'],
    );
    const download = await send(api, 'GET', '/exports/exp-1/download');
    assert.equal(download.status, 409);
    assert.equal(download.body.state, 'REQUESTED');
    assert.equal((await send(api, 'GET', '/exports/exp-2')).status, 404);
    // An export id outside [A-Za-z0-9-] is no route, as with the regex router.
    assert.match(String((await send(api, 'GET', '/exports/exp_1')).body.error), /^no route GET \/exports\/exp_1 \(POST \/exports/);
    for (const [method, path] of [
      ['GET', '/exports/exp-1'],
      ['POST', '/exports'],
      ['GET', '/nothing'],
    ]) {
      const refused = await send(api, method!, path!, { who: 'anonymous' });
      assert.equal(refused.status, 401, `${method} ${path}`);
      assert.equal(refused.headers['www-authenticate'], 'Bearer');
    }
    await assertFrame(api, '/exports/exp-1', 'DELETE', '/exports/exp-%E0%A4%A');
  });

  it('a refusal whose reason quotes a non-ASCII claim is still a 401 with an ASCII WWW-Authenticate (the router builds Web Headers)', async () => {
    const verifier = {
      verify: async () => {
        throw new UnauthenticatedError('the token\'s type is "jwt\u2713", not an access token (at+jwt)');
      },
    };
    const { service, exports } = exportService();
    const api = exportApi({ service, logger, authenticate: createAuthenticator(verifier), audit: new ListAuditLog(), now });
    const refused = await send(api, 'GET', '/exports/exp-1', { who: 'anonymous', headers: { authorization: 'Bearer abc.def.ghi' } });
    assert.equal(refused.status, 401);
    assert.equal(
      refused.headers['www-authenticate'],
      'Bearer error="invalid_token", error_description="the token\'s type is \'jwt?\', not an access token (at+jwt)"',
    );
    assert.equal(refused.body.error, 'the token\'s type is "jwt\u2713", not an access token (at+jwt)');
    assert.equal(exports.records.size, 0);
  });
});
