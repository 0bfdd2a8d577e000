/**
 * dataset-api's route table and error answers (the frame: functions/shared/http-router.ts). `<id>`
 * is `<proposal>/<beamline>/<session>/<collection>/<dataset>`.
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
 *   GET   /audit?proposal=<proposal>     the proposal's audit entries the caller may read
 *
 * Errors: 400 bad input (`error`, `suggestions` for near-miss names), 404, 409 closed dataset or
 * lost close race, 500 without internals.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Logger } from '../../src/adapters/logger.js';
import type { DatasetService } from '../../src/core/datasets/dataset-service.js';
import { DatasetCloseConflictError, DatasetClosedError, DatasetNotFoundError } from '../../src/core/datasets/errors.js';
import { parseDatasetId, validateRef, type DatasetRecord, type DatasetScan } from '../../src/core/datasets/model.js';
import type { DatasetQuery } from '../../src/core/datasets/ports.js';
import { InvalidInputError, type ArchiveError } from '../../src/core/errors.js';
import type { Authenticate } from '../shared/caller.js';
import type { Caller } from '../../src/core/access/caller.js';
import type { DownloadLinks } from '../../src/core/exports/ports.js';
import { fileIndexKeyOf } from '../../src/core/object-keys.js';
import { Action, allows, authorize, authorizeProposal, DEFAULT_EMBARGO_YEARS } from '../../src/core/access/policy.js';
import type { RunCatalogue } from '../../src/core/archive/ports.js';
import { datasetScope } from '../../src/core/access/scopes.js';
import { AuditAction, auditEntry, type AuditLog } from '../../src/core/access/audit.js';
import { json, requestOf, type ApiAnswers, type ApiRouter } from '../shared/http-router.js';

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
    id: record.id,
    ...record.ref,
    state: record.state,
    origin: record.origin,
    techniques: record.techniques,
    metadata: record.metadata,
    start_date: record.startDate,
    version: record.version,
    ...(record.endDate ? { end_date: record.endDate } : {}),
    ...(record.missing ? { missing: record.missing } : {}),
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
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await f(items[i]!);
    }),
  );
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

/** `/datasets/<id><suffix>`: the id is five segments (Powertools' `:param` stops at a slash), decoded by the router. */
const datasetPath = (suffix = ''): RegExp => new RegExp(String.raw`^/datasets/(?<id>[^/]+/[^/]+/[^/]+/[^/]+/[^/]+)${suffix}$`);

export const datasetAnswers: ApiAnswers = {
  answer(error) {
    const context = (error as ArchiveError).context ?? {};
    const body = { error: (error as Error).message, ...(Array.isArray(context.suggestions) ? { suggestions: context.suggestions } : {}) };
    if (error instanceof InvalidInputError) return json(400, body);
    if (error instanceof DatasetNotFoundError) return json(404, body);
    if (error instanceof DatasetClosedError || error instanceof DatasetCloseConflictError) return json(409, body);
    return undefined;
  },
  noRoute: (method, path) => json(404, { error: `no route ${method} ${path}` }),
  internal: (requestId) => json(500, { error: 'internal error; see the function log', requestId }),
};

/** The routes of dataset-api on `router` (which authenticates and maps errors). */
export function datasetRoutes(router: ApiRouter, deps: DatasetApiDeps): void {
  const { service } = deps;
  const years = deps.embargoYears ?? DEFAULT_EMBARGO_YEARS;

  /** What a route knows about its caller: reads need the record (its end date decides the embargo); changes need only the proposal and beamline. */
  const accessOf = (caller: Caller) => {
    const now = deps.now?.() ?? new Date();
    return {
      now,
      readable: async (ref: ReturnType<typeof parseDatasetId>): Promise<DatasetRecord> => {
        const record = await service.get(ref);
        authorize(caller, Action.Read, datasetScope(record, years), now);
        return record;
      },
      manage: (ref: { proposal: string; beamline: string }) =>
        authorize(caller, Action.Manage, { proposal: ref.proposal, beamline: ref.beamline }, now),
      audited: async (action: AuditAction, record: DatasetRecord, details?: Record<string, unknown>) => {
        await deps.audit.record(auditEntry(caller, action, record.ref, record.id, now, details));
        return record;
      },
    };
  };
  /** The request's caller, its access and the dataset of the path. */
  const datasetRequest = (reqCtx: Parameters<typeof requestOf>[0]) => {
    const request = requestOf(reqCtx);
    return { ...request, ...accessOf(request.caller), ref: parseDatasetId(request.params.id ?? '') };
  };

  router.get('/audit', async (reqCtx) => {
    // The audit of a proposal: entries of the beamlines the caller may read it at.
    const { caller, query } = requestOf(reqCtx);
    const now = deps.now?.() ?? new Date();
    const proposal = query.proposal;
    if (!proposal) throw new InvalidInputError('query parameter proposal is required');
    const entries = await deps.audit.list(proposal);
    const visible = entries.filter((e) => allows(caller, Action.Read, { proposal: e.proposal, beamline: e.beamline ?? '' }, now));
    if (entries.length > 0 && visible.length === 0) authorize(caller, Action.Read, { proposal, beamline: entries[0]!.beamline ?? '' }, now);
    return json(200, { proposal, entries: visible });
  });

  router.get('/proposals/:proposal', (reqCtx) => {
    const { caller, params } = requestOf(reqCtx);
    const name = params.proposal ?? '';
    return json(200, { proposal: name, ...authorizeProposal(caller, name) });
  });

  router.post('/datasets', async (reqCtx) => {
    const { event, caller } = requestOf(reqCtx);
    const { manage, audited } = accessOf(caller);
    const body = parseBody(event);
    manage(validateRef(body.dataset));
    const { created, record } = await service.open({ ref: body.dataset, techniques: body.techniques, metadata: body.metadata });
    await audited(AuditAction.DatasetOpened, record, { created, techniques: record.techniques });
    return json(created ? 201 : 200, present(record));
  });

  router.get('/datasets', async (reqCtx) => {
    // Lists and searches show only what the caller may read.
    // Filtered while the catalogue pages, before the limit: a caller's page is never short because of others' datasets.
    const { caller, query } = requestOf(reqCtx);
    const { now } = accessOf(caller);
    const records = await service.list(queryOf(query), (r) => allows(caller, Action.Read, datasetScope(r, years), now));
    return json(200, { datasets: records.map(present) });
  });

  const links = deps.links;
  if (links) {
    router.get(datasetPath('/scans/(?<run>[^/]+)/file'), async (reqCtx) => {
      const { ref, params, readable } = datasetRequest(reqCtx);
      const runUid = params.run ?? '';
      // Presigned URLs only for a dataset the caller may read.
      await readable(ref);
      const scan = (await service.listScans(ref)).find((s) => s.runUid === runUid);
      if (!scan) return json(404, { error: `scan ${runUid} is not in dataset ${params.id}` });
      if (!scan.fileKey) return json(409, { error: `scan ${runUid} is not archived yet` });
      const seconds = deps.linkSeconds ?? 900;
      return json(200, {
        file: { key: scan.fileKey, ...(scan.fileSha256 ? { sha256: scan.fileSha256 } : {}) },
        url: await links.linkTo(scan.fileKey, seconds),
        index_url: await links.linkTo(fileIndexKeyOf(scan.fileKey), seconds),
        expires_in: seconds,
      });
    });
  }

  router.get(datasetPath(), async (reqCtx) => {
    const { ref, readable } = datasetRequest(reqCtx);
    return json(200, present(await readable(ref)));
  });
  router.get(datasetPath('/metadata'), async (reqCtx) => {
    const { ref, readable } = datasetRequest(reqCtx);
    await readable(ref);
    return json(200, { metadata: await service.getMetadata(ref) });
  });
  router.get(datasetPath('/missing'), async (reqCtx) => {
    const { ref, readable } = datasetRequest(reqCtx);
    await readable(ref);
    return json(200, await service.missing(ref));
  });
  router.get(datasetPath('/scans'), async (reqCtx) => {
    const { ref, readable } = datasetRequest(reqCtx);
    await readable(ref);
    return json(200, { scans: await mapLimited(await service.listScans(ref), 8, (scan) => withRun(scan, deps.runs)) });
  });

  router.post(datasetPath('/techniques'), async (reqCtx) => {
    const { ref, event, manage, audited } = datasetRequest(reqCtx);
    manage(ref);
    const technique = parseBody(event).technique;
    return json(200, present(await audited(AuditAction.TechniqueAdded, await service.addTechnique(ref, technique), { technique })));
  });
  router.route(
    async (reqCtx) => {
      const { ref, event, manage, audited } = datasetRequest(reqCtx);
      manage(ref);
      const fields = parseBody(event).fields;
      const record = await service.setMetadata(ref, fields);
      return json(
        200,
        present(
          await audited(AuditAction.MetadataWritten, record, { fields: typeof fields === 'object' && fields ? Object.keys(fields) : [] }),
        ),
      );
    },
    { method: ['PATCH', 'POST'], path: datasetPath('/metadata') },
  );
  router.post(datasetPath('/close'), async (reqCtx) => {
    const { ref, manage, audited } = datasetRequest(reqCtx);
    manage(ref);
    return json(200, present(await audited(AuditAction.DatasetClosed, await service.close(ref))));
  });
}
