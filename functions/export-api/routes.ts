/**
 * export-api's route table and error answers (the frame: functions/shared/http-router.ts). Requests
 * go on the bus as Export Requested, so API and bus requests take one path (the export-worker builds them).
 *
 *   POST /exports                  {request_id, runs: [uid…], format: nxstxm|nexus|csv, options?} → 202 + the record
 *                                  (200 + the record when the request id was seen before with the same content)
 *   GET  /exports/<id>             the record: state REQUESTED | BUILDING | COMPLETED | FAILED, progress, files, reason
 *   GET  /exports/<id>/download    presigned URLs of the published files (COMPLETED exports only)
 *
 * Errors: 400 bad request (format, body), 404 unknown run or export, 409 run not archived (or to be
 * re-archived), request id reused with other content, export not COMPLETED; 500 without internals.
 * Exports are personal: anonymous callers are refused on every route.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { NotFoundError } from '@aws-lambda-powertools/event-handler/http';
import type { Logger } from '../../src/adapters/logger.js';
import { ContractError, InvalidInputError, type ArchiveError } from '../../src/core/errors.js';
import type { ExportService } from '../../src/core/exports/export-service.js';
import type { ExportRecord } from '../../src/core/exports/ports.js';
import {
  ExportConflictError,
  ExportNotFoundError,
  ExportNotReadyError,
  ExportRunNotFoundError,
  RunNeedsReArchiveError,
  RunNotArchivedError,
} from '../../src/core/exports/service-errors.js';
import type { Authenticate } from '../shared/caller.js';
import { Action, authorize, canReadExport } from '../../src/core/access/policy.js';
import { runScope } from '../../src/core/access/scopes.js';
import { AuditAction, auditEntry, type AuditLog } from '../../src/core/access/audit.js';
import { AccessDeniedError } from '../../src/core/access/errors.js';
import { json, requestOf, type ApiAnswers, type ApiRouter } from '../shared/http-router.js';

export interface ExportApiDeps {
  service: ExportService;
  logger: Logger;
  /** Who is calling (functions/shared/caller.ts). */
  authenticate: Authenticate;
  /** Years after a run's end before anyone may read it. @default 3 */
  embargoYears?: number;
  now?: () => Date;
  /** Every export request is recorded here (who, when, which runs). */
  audit: AuditLog;
  /** Lifetime of the download links. @default 900 */
  downloadLinkSeconds?: number;
}

/** An export id in a path: what the hand-written router matched, anything else is no route. */
const EXPORT_ID = /^[A-Za-z0-9-]+$/;

function parseBody(event: APIGatewayProxyEventV2): unknown {
  if (!event.body) throw new InvalidInputError('the request has no body: JSON {request_id, runs, format} expected');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidInputError('the body is not JSON', {}, { cause: error });
  }
}

/** The record as the API shows it (snake_case, like the events). */
export function present(record: ExportRecord) {
  return {
    export_id: record.exportId,
    request_id: record.requestId,
    state: record.state,
    format: record.format,
    runs: record.runs,
    options: record.options,
    origin: record.origin,
    requested_at: record.requestedAt,
    updated_at: record.updatedAt,
    attempts: record.attempts,
    ...(record.requester ? { requester: record.requester } : {}),
    ...(record.progress ? { progress: record.progress } : {}),
    ...(record.files ? { files: record.files } : {}),
    ...(record.provenance ? { provenance: record.provenance } : {}),
    ...(record.notes?.length ? { notes: record.notes } : {}),
    ...(record.completedAt ? { completed_at: record.completedAt } : {}),
    ...(record.reason ? { reason: record.reason, errors: record.errors ?? [] } : {}),
    ...(record.errorFiles?.length ? { error_files: record.errorFiles } : {}),
    ...(record.failedAt ? { failed_at: record.failedAt } : {}),
    ...(record.engine ? { engine: record.engine } : {}),
    ...(record.handOver ? { hand_over: record.handOver } : {}),
  };
}

export const exportAnswers: ApiAnswers = {
  answer(error) {
    const context = (error as ArchiveError).context ?? {};
    const body = {
      error: (error as Error).message,
      ...(typeof context.runUid === 'string' ? { run_uid: context.runUid } : {}),
      ...(typeof context.exportId === 'string' ? { export_id: context.exportId } : {}),
      ...(typeof context.state === 'string' ? { state: context.state } : {}),
    };
    if (error instanceof ExportRunNotFoundError || error instanceof ExportNotFoundError) return json(404, body);
    if (
      error instanceof RunNotArchivedError ||
      error instanceof RunNeedsReArchiveError ||
      error instanceof ExportConflictError ||
      error instanceof ExportNotReadyError
    ) {
      return json(409, body);
    }
    if (error instanceof InvalidInputError || error instanceof ContractError) return json(400, body);
    return undefined;
  },
  noRoute: (method, path) =>
    json(404, { error: `no route ${method} ${path} (POST /exports, GET /exports/<id>, GET /exports/<id>/download)` }),
  internal: (requestId) => json(500, { error: 'internal error; see the function log', requestId }),
};

/** The routes of export-api on `router` (which authenticates and maps errors). */
export function exportRoutes(router: ApiRouter, deps: ExportApiDeps): void {
  const { service } = deps;
  const years = deps.embargoYears ?? 3;

  // Exports are personal: requested, followed and downloaded by signed-in callers (every route, an unknown one included, as before).
  router.use(async ({ reqCtx, next }) => {
    if (requestOf(reqCtx).caller.kind === 'anonymous') throw new AccessDeniedError('exports need a signed-in caller');
    await next();
  });

  router.post('/exports', async (reqCtx) => {
    const { event, caller } = requestOf(reqCtx);
    const now = deps.now?.() ?? new Date();
    const body = parseBody(event);
    // Only runs the caller may read can be exported; a run not in the catalogue has no scope (admins only, then 404).
    const runs = (body as { runs?: unknown })?.runs;
    const scopes = new Map<string, { proposal: string; beamline: string }>();
    if (Array.isArray(runs) && runs.every((r) => typeof r === 'string') && runs.length <= 1000) {
      const records = await service.runRecords(runs as string[]);
      for (const record of records) {
        const scope = record ? runScope(record, years) : undefined;
        authorize(caller, Action.Read, scope, now);
        if (scope) scopes.set(`${scope.proposal}/${scope.beamline}`, scope);
      }
    }
    // The requester is the authenticated caller, never a body field: it scopes the export id.
    const { created, record } = await service.request(body, caller.id);
    if (created) {
      for (const scope of scopes.values()) {
        await deps.audit.record(
          auditEntry(caller, AuditAction.ExportRequested, scope, record.exportId, now, { runs: record.runs, format: record.format }),
        );
      }
    }
    return json(created ? 202 : 200, present(record));
  });

  /** GET /exports/<id> (the record) and GET /exports/<id>/download (presigned links), for who may read the export. */
  const readExport = (download: boolean) => async (reqCtx: Parameters<typeof requestOf>[0]) => {
    const { caller, params } = requestOf(reqCtx);
    const exportId = params.id ?? '';
    if (!EXPORT_ID.test(exportId)) throw new NotFoundError();
    const now = deps.now?.() ?? new Date();
    const record = await service.get(exportId);
    const scopes = (await service.runRecords(record.runs)).map((r) => (r ? runScope(r, years) : undefined));
    if (!canReadExport(caller, { requester: record.requester, runs: scopes }, now)) {
      throw new AccessDeniedError(
        `${caller.name} may not see export ${exportId}: not its requester, and not allowed to read every run it was made from`,
      );
    }
    // Presigned links only for an export the caller may read.
    if (download) return json(200, { export_id: exportId, files: await service.downloadLinks(exportId, deps.downloadLinkSeconds ?? 900) });
    return json(200, present(record));
  };
  router.get('/exports/:id', readExport(false));
  router.get('/exports/:id/download', readExport(true));
}
