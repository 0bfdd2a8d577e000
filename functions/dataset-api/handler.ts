/**
 * dataset-api: the datasets' HTTP API, served by a Lambda function URL (AuthType AWS_IAM: every
 * request is SigV4-signed; IAM decides who may call it). `<id>` is
 * `<proposal>/<beamline>/<session>/<collection>/<dataset>`.
 *
 *   POST  /datasets                      open {dataset: {proposal, beamline, session, collection, dataset}, techniques?, metadata?} → 201 (200 if it was open)
 *   GET   /datasets?proposal=&beamline=&session= | ?sample= | ?from=&to= | ?open=true   list
 *   GET   /datasets/<id>                 the dataset record
 *   POST  /datasets/<id>/techniques      {technique} → the record
 *   PATCH /datasets/<id>/metadata        {fields: {name: "value"}} → the record (POST accepted too)
 *   GET   /datasets/<id>/metadata        the ICAT fields
 *   GET   /datasets/<id>/missing         {mandatory, techniques}
 *   GET   /datasets/<id>/scans           the scans of the dataset, with their run's type, points, times, state and refused channels
 *   POST  /datasets/<id>/close           close: master file written → the record
 *   GET   /datasets/<id>/scans/<run uid>/file   presigned GET URLs of the scan file and its index (the portal's range reads, docs/adr/0009)
 *   GET   /proposals/<proposal>          how the caller may read the proposal ({proposal, access, reason}); 403 with the reason when not at all
 *
 * Errors: 400 bad input (`error`, `suggestions` for near-miss names), 404, 409 closed dataset or
 * lost close race, 500 without internals.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { H5wasmMasterFileWriter } from '../../src/adapters/h5wasm-master-file-writer.js';
import { createLogger, type Logger } from '../../src/adapters/logger.js';
import { DatasetService } from '../../src/core/datasets/dataset-service.js';
import { DatasetCloseConflictError, DatasetClosedError, DatasetNotFoundError } from '../../src/core/datasets/errors.js';
import { parseDatasetId, type DatasetRecord } from '../../src/core/datasets/model.js';
import type { DatasetQuery } from '../../src/core/datasets/ports.js';
import { InvalidInputError, type ArchiveError } from '../../src/core/errors.js';
import { authenticatorFromEnv, type Authenticate } from '../shared/caller.js';
import { accessFailure } from '../shared/access-errors.js';
import { decodePath, embargoYearsFromEnv } from '../shared/http-input.js';
import type { Caller } from '../../src/core/access/caller.js';
import { buildDatasetService, configFromEnv } from './compose.js';
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { S3DownloadLinks } from '../../src/adapters/s3-download-links.js';
import type { DownloadLinks } from '../../src/core/exports/ports.js';
import { fileIndexKeyOf } from '../../src/core/object-keys.js';
import { Action, allows, authorize, authorizeProposal, DEFAULT_EMBARGO_YEARS } from '../../src/core/access/policy.js';
import type { RunCatalogue } from '../../src/core/archive/ports.js';
import type { DatasetScan } from '../../src/core/datasets/model.js';
import { datasetScope } from '../../src/core/access/scopes.js';
import { AuditAction, auditEntry, type AuditLog } from '../../src/core/access/audit.js';
import { auditLogFromEnv } from '../shared/audit.js';
import { validateRef } from '../../src/core/datasets/model.js';

export type UrlHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyResultV2>;

export interface DatasetApiDeps {
  service: DatasetService;
  logger: Logger;
  /** Who is calling (functions/shared/caller.ts). */
  authenticate: Authenticate;
  /** Presigned links to scan files and their indexes (the file route); absent: the route answers 404. */
  links?: DownloadLinks;
  /** Lifetime of those links. @default 900 */
  linkSeconds?: number;
  /** Years after a dataset's end before anyone may read it. @default 3 */
  embargoYears?: number;
  now?: () => Date;
  /** Every write is recorded here (who, when, what). */
  audit: AuditLog;
  /** The run records: a dataset's scans are shown with their run's type, points, times, state and refused channels. */
  runs?: Pick<RunCatalogue, 'getRun'>;
}

interface Response { statusCode: number; headers: Record<string, string>; body: string }
const json = (statusCode: number, body: unknown): Response => ({ statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

function parseBody(event: APIGatewayProxyEventV2): Record<string, unknown> {
  if (!event.body) throw new InvalidInputError('the request has no body (JSON expected)');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidInputError('the body is not JSON', {}, { cause: error });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInputError('the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** The record as the API shows it. */
export function present(record: DatasetRecord) {
  return {
    id: record.id, ...record.ref, state: record.state, origin: record.origin, techniques: record.techniques, metadata: record.metadata,
    start_date: record.startDate, version: record.version,
    ...(record.endDate ? { end_date: record.endDate } : {}), ...(record.missing ? { missing: record.missing } : {}),
    ...(record.masterFile ? { master_file: record.masterFile } : {}),
  };
}

/** A scan of a dataset with what its run record says (absent fields: the run record does not say). */
async function withRun(scan: DatasetScan, runs: Pick<RunCatalogue, 'getRun'> | undefined) {
  const run = await runs?.getRun(scan.runUid);
  if (!run) return scan;
  const counts = Object.values(run.points ?? run.sealedPoints ?? {});
  return {
    ...scan,
    ...(run.planName ? { type: run.planName } : {}),
    ...(counts.length ? { points: Math.max(...counts) } : {}),
    ...(run.state ? { state: run.state } : {}),
    ...(run.endTime ? { endTime: run.endTime } : {}),
    ...(run.endReason ? { endReason: run.endReason } : {}),
    ...(run.refusedChannels?.length ? { refusedChannels: run.refusedChannels } : {}),
  };
}

/** At most `width` at a time, in order. */
async function mapLimited<T, R>(items: readonly T[], width: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await f(items[i]!);
  }));
  return out;
}

function queryOf(params: Record<string, string | undefined>): DatasetQuery {
  const allowed = ['proposal', 'beamline', 'session', 'sample', 'from', 'to', 'open', 'limit'];
  const unknown = Object.keys(params).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new InvalidInputError(`unknown query parameter(s) ${unknown.join(', ')}; known: ${allowed.join(', ')}`);
  const query: DatasetQuery = {};
  for (const key of ['proposal', 'beamline', 'session', 'sample'] as const) if (params[key]) query[key] = params[key];
  for (const key of ['from', 'to'] as const) {
    const value = params[key];
    if (value === undefined) continue;
    if (Number.isNaN(Date.parse(value))) throw new InvalidInputError(`${key} must be an ISO date or time, got ${JSON.stringify(value)}`);
    query[key] = new Date(value).toISOString();
  }
  if (params.open !== undefined) query.open = params.open === 'true';
  if (params.limit !== undefined) {
    if (!/^\d+$/.test(params.limit) || Number(params.limit) < 1) throw new InvalidInputError('limit must be a positive integer');
    query.limit = Number(params.limit);
  }
  return query;
}

export function createHandler(deps: DatasetApiDeps): UrlHandler {
  const { service, logger } = deps;

  const route = async (event: APIGatewayProxyEventV2, caller: Caller): Promise<Response> => {
    const now = deps.now?.() ?? new Date();
    const years = deps.embargoYears ?? DEFAULT_EMBARGO_YEARS;
    const method = event.requestContext.http.method.toUpperCase();
    const path = (event.rawPath || '/').replace(/\/+$/, '') || '/';
    // Reads need the record (its end date decides the embargo); changes need only the dataset's proposal and beamline.
    const readable = async (ref: ReturnType<typeof parseDatasetId>): Promise<DatasetRecord> => {
      const record = await service.get(ref);
      authorize(caller, Action.Read, datasetScope(record, years), now);
      return record;
    };
    const manage = (ref: { proposal: string; beamline: string }) => authorize(caller, Action.Manage, { proposal: ref.proposal, beamline: ref.beamline }, now);
    const audited = async (action: AuditAction, record: DatasetRecord, details?: Record<string, unknown>) => {
      await deps.audit.record(auditEntry(caller, action, record.ref, record.id, now, details));
      return record;
    };
    if (path === '/audit' && method === 'GET') {
      // The audit of a proposal: entries of the beamlines the caller may read it at.
      const proposal = event.queryStringParameters?.proposal;
      if (!proposal) throw new InvalidInputError('query parameter proposal is required');
      const entries = await deps.audit.list(proposal);
      const visible = entries.filter((e) => allows(caller, Action.Read, { proposal: e.proposal, beamline: e.beamline ?? '' }, now));
      if (entries.length > 0 && visible.length === 0) authorize(caller, Action.Read, { proposal, beamline: entries[0]!.beamline ?? '' }, now);
      return json(200, { proposal, entries: visible });
    }
    const proposal = /^\/proposals\/([^/]+)$/.exec(path);
    if (proposal && method === 'GET') {
      const name = decodePath(proposal[1]!);
      return json(200, { proposal: name, ...authorizeProposal(caller, name) });
    }
    if (path === '/datasets') {
      if (method === 'POST') {
        const body = parseBody(event);
        manage(validateRef(body.dataset));
        const { created, record } = await service.open({ ref: body.dataset, techniques: body.techniques, metadata: body.metadata });
        await audited(AuditAction.DatasetOpened, record, { created, techniques: record.techniques });
        return json(created ? 201 : 200, present(record));
      }
      if (method === 'GET') {
        // Lists and searches show only what the caller may read.
        // Filtered while the catalogue pages, before the limit: a caller's page is never short because of others' datasets.
        const records = await service.list(queryOf(event.queryStringParameters ?? {}), (r) => allows(caller, Action.Read, datasetScope(r, years), now));
        return json(200, { datasets: records.map(present) });
      }
    }
    const file = /^\/datasets\/([^/]+\/[^/]+\/[^/]+\/[^/]+\/[^/]+)\/scans\/([^/]+)\/file$/.exec(path);
    if (file && method === 'GET' && deps.links) {
      const ref = parseDatasetId(decodePath(file[1]!));
      const runUid = decodePath(file[2]!);
      // Presigned URLs only for a dataset the caller may read.
      await readable(ref);
      const scan = (await service.listScans(ref)).find((s) => s.runUid === runUid);
      if (!scan) return json(404, { error: `scan ${runUid} is not in dataset ${decodePath(file[1]!)}` });
      if (!scan.fileKey) return json(409, { error: `scan ${runUid} is not archived yet` });
      const seconds = deps.linkSeconds ?? 900;
      return json(200, {
        file: { key: scan.fileKey, ...(scan.fileSha256 ? { sha256: scan.fileSha256 } : {}) },
        url: await deps.links.linkTo(scan.fileKey, seconds), index_url: await deps.links.linkTo(fileIndexKeyOf(scan.fileKey), seconds), expires_in: seconds,
      });
    }
    const match = /^\/datasets\/([^/]+\/[^/]+\/[^/]+\/[^/]+\/[^/]+)(?:\/(techniques|metadata|missing|scans|close))?$/.exec(path);
    if (match) {
      const ref = parseDatasetId(decodePath(match[1]!));
      const action = match[2];
      if (method === 'GET') {
        if (!action) return json(200, present(await readable(ref)));
        if (action === 'metadata') { await readable(ref); return json(200, { metadata: await service.getMetadata(ref) }); }
        if (action === 'missing') { await readable(ref); return json(200, await service.missing(ref)); }
        if (action === 'scans') {
          await readable(ref);
          return json(200, { scans: await mapLimited(await service.listScans(ref), 8, (scan) => withRun(scan, deps.runs)) });
        }
      }
      if (method === 'POST' || method === 'PATCH') {
        if (action === 'techniques' && method === 'POST') {
          manage(ref);
          const technique = parseBody(event).technique;
          return json(200, present(await audited(AuditAction.TechniqueAdded, await service.addTechnique(ref, technique), { technique })));
        }
        if (action === 'metadata') {
          manage(ref);
          const fields = parseBody(event).fields;
          const record = await service.setMetadata(ref, fields);
          return json(200, present(await audited(AuditAction.MetadataWritten, record, { fields: typeof fields === 'object' && fields ? Object.keys(fields) : [] })));
        }
        if (action === 'close' && method === 'POST') { manage(ref); return json(200, present(await audited(AuditAction.DatasetClosed, await service.close(ref)))); }
      }
    }
    return json(404, { error: `no route ${method} ${path}` });
  };

  return async (event) => {
    let caller: Caller | undefined;
    try {
      caller = await deps.authenticate(event);
      return await route(event, caller);
    } catch (error) {
      const refused = accessFailure(error, caller);
      if (refused) return refused;
      const context = (error as ArchiveError).context ?? {};
      const body = { error: (error as Error).message, ...(Array.isArray(context.suggestions) ? { suggestions: context.suggestions } : {}) };
      if (error instanceof InvalidInputError) return json(400, body);
      if (error instanceof DatasetNotFoundError) return json(404, body);
      if (error instanceof DatasetClosedError || error instanceof DatasetCloseConflictError) return json(409, body);
      logger.error('dataset request failed', { path: event.rawPath, error: error as Error });
      return json(500, { error: 'internal error; see the function log', requestId: event.requestContext.requestId });
    }
  };
}

let built: Promise<UrlHandler> | undefined;

async function build(): Promise<UrlHandler> {
  const logger = createLogger(process.env.POWERTOOLS_SERVICE_NAME ?? 'dataset-api');
  const clients = createAwsClients(awsConnectionFromEnv());
  const config = configFromEnv(process.env);
  const links = new S3DownloadLinks(clients.s3, config.bucketName);
  return createHandler({
    service: buildDatasetService('dataset-api', logger, await H5wasmMasterFileWriter.create()), logger, links,
    runs: new DynamoDbRunCatalogue(clients.dynamo, config.tableName),
    authenticate: authenticatorFromEnv(process.env), embargoYears: embargoYearsFromEnv(process.env), audit: auditLogFromEnv(process.env),
  });
}

/** The Lambda entry: clients, the wasm module and configuration are built once. */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> => {
  built ??= build();
  built.catch(() => { built = undefined; });
  return (await built)(event);
};
