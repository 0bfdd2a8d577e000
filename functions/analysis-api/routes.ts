/**
 * analysis-api's route table and error answers (the frame: functions/shared/http-router.ts):
 *
 *   POST /runs                          save derived data {metadata, data, writers, dtypes, units, provenance} → 201 {uid, …}
 *   GET  /runs/<uid>[?data=true]        the run's documents (and every key's values, read through the handlers)
 *   POST /provenance                    record the provenance of another entity {entity, provenance, outputs?} → 201
 *   GET  /provenance?entity=<ref>       an entity's provenance record
 *   GET  /lineage?entity=<ref>&direction=ancestors|descendants[&depth=N]
 *   GET  /prov?entity=<ref>[&direction=ancestors|descendants|both]   W3C PROV-JSON of the lineage
 *
 * Errors: 400 with `missing` (incomplete provenance) or `problems` (unusable data), 404, 409
 * (entity already has provenance), 500 without internals. Anonymous callers may only read.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { NotFoundError } from '@aws-lambda-powertools/event-handler/http';
import type { Logger } from '../../src/adapters/logger.js';
import { readDerivedRun, saveDerivedRun, type AnalysisDeps, type SaveDerivedRunRequest } from '../../src/core/analysis/derived-run.js';
import { AnalysisInputError, AnalysisNotFoundError } from '../../src/core/analysis/errors.js';
import { ContractError, InvalidInputError } from '../../src/core/errors.js';
import { ProvenanceConflictError, ProvenanceIncompleteError } from '../../src/core/provenance/errors.js';
import { lineage, LineageDirection, type Lineage } from '../../src/core/provenance/lineage.js';
import { parseEntityRef, type InputFile } from '../../src/core/provenance/model.js';
import { toProvJson } from '../../src/core/provenance/prov-json.js';
import { recordProvenance } from '../../src/core/provenance/record-provenance.js';
import type { Authenticate } from '../shared/caller.js';
import { AccessDeniedError } from '../../src/core/access/errors.js';
import { entityReader, redactLineage, type EntityAccessDeps } from '../../src/core/access/entity-access.js';
import { isArchiveOwned, isArchiveOwnedUri } from '../../src/core/provenance/archive-owned.js';
import { AuditAction, auditEntry, UNSCOPED_PROPOSAL, type AuditLog } from '../../src/core/access/audit.js';
import { archiveKeyScope } from '../../src/core/access/scopes.js';
import type { Caller } from '../../src/core/access/caller.js';
import { json, requestOf, type ApiAnswers, type ApiRouter } from '../shared/http-router.js';

export interface AnalysisApiDeps extends AnalysisDeps {
  logger: Logger;
  /** Who is calling (functions/shared/caller.ts). */
  authenticate: Authenticate;
  /** What the policy needs to decide who reads an entity: run and export records, the embargo (src/core/access/entity-access.ts). */
  access: Pick<EntityAccessDeps, 'run' | 'exportRecord' | 'embargoYears'>;
  /** Every save and provenance record is recorded here, under the proposals of its raw parents. */
  audit: AuditLog;
}

/** A run uid in a path: what the hand-written router matched, anything else is no route. */
const RUN_UID = /^[A-Za-z0-9._:-]+$/;

function parseBody(event: APIGatewayProxyEventV2): unknown {
  if (!event.body) throw new InvalidInputError('the request has no body (JSON expected)');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidInputError('the body is not JSON', {}, { cause: error });
  }
}

function directionOf(value: string | undefined, allowBoth: boolean): LineageDirection | 'both' {
  const direction = value ?? (allowBoth ? 'both' : LineageDirection.Ancestors);
  if (direction === LineageDirection.Ancestors || direction === LineageDirection.Descendants || (allowBoth && direction === 'both'))
    return direction;
  throw new InvalidInputError(`direction must be ancestors, descendants${allowBoth ? ' or both' : ''}`);
}

function depthOf(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new InvalidInputError('depth must be a non-negative integer');
  return Number(value);
}

function requiredEntity(query: Record<string, string | undefined>): string {
  if (!query.entity) throw new InvalidInputError('query parameter entity=<kind>:<id> is required');
  return parseEntityRef(query.entity).ref;
}

/** Both directions at once: one lineage with the union of nodes and edges. */
function merge(a: Lineage, b: Lineage): Lineage {
  const nodes = new Map(a.nodes.map((n) => [n.entity, n]));
  for (const n of b.nodes) if (!nodes.has(n.entity)) nodes.set(n.entity, n);
  return { ...a, nodes: [...nodes.values()], edges: [...a.edges, ...b.edges], truncated: a.truncated || b.truncated };
}

function parentsOf(body: unknown): string[] {
  const parents = (body as { provenance?: { parents?: unknown } } | null)?.provenance?.parents;
  return Array.isArray(parents) ? parents.filter((p): p is string => typeof p === 'string').slice(0, 1000) : [];
}

export const analysisAnswers: ApiAnswers = {
  answer(error) {
    if (error instanceof ProvenanceIncompleteError) return json(400, { error: error.name, message: error.message, missing: error.missing });
    if (error instanceof AnalysisInputError) return json(400, { error: error.name, message: error.message, problems: error.problems });
    if (error instanceof InvalidInputError || error instanceof ContractError)
      return json(400, { error: error.name, message: error.message });
    if (error instanceof AnalysisNotFoundError) return json(404, { error: error.name, message: error.message });
    if (error instanceof ProvenanceConflictError) return json(409, { error: error.name, message: error.message });
    return undefined;
  },
  noRoute: (method, path) => json(404, { error: 'NotFound', message: `no route ${method} ${path}` }),
  internal: (requestId) =>
    json(500, { error: 'InternalError', message: 'the request could not be completed; see the function log', requestId }),
};

/** The routes of analysis-api on `router` (which authenticates and maps errors). */
export function analysisRoutes(router: ApiRouter, deps: AnalysisApiDeps): void {
  const { logger } = deps;
  const provenanceDeps = { store: deps.provenance, now: deps.now, newUid: deps.newUid };

  /** What a route of this API knows about its caller: how to check a read, how to audit a write. */
  const accessOf = (who: Caller) => {
    // Recorded as who saved or recorded (the IAM principal's ARN for machines, as before).
    const caller = who.kind === 'service' ? who.name : who.id;
    const canRead = entityReader(who, { ...deps.access, provenance: (e) => deps.provenance.get(e), now: deps.now() });
    const mustRead = async (entity: string, what = entity) => {
      if (!(await canRead(entity))) throw new AccessDeniedError(`${who.name} may not read ${what}`);
    };
    /** One audit entry per proposal of the direct parents that are raw runs or archived files (else unscoped). */
    const audit = async (action: AuditAction, target: string, parents: string[]) => {
      const scopes = new Map<string, { proposal: string; beamline: string }>();
      for (const parent of parents) {
        let scope: { proposal: string; beamline: string } | undefined;
        if (parent.startsWith('run:')) scope = (await deps.access.run(parent.slice(4)))?.dataPolicy;
        else if (parent.startsWith('file:')) scope = archiveKeyScope(/^file:s3:\/\/[^/]+\/(.*)$/.exec(parent)?.[1] ?? '');
        if (scope) scopes.set(`${scope.proposal}/${scope.beamline}`, scope);
      }
      if (scopes.size === 0) scopes.set(UNSCOPED_PROPOSAL, { proposal: UNSCOPED_PROPOSAL, beamline: '' });
      for (const scope of scopes.values()) await deps.audit.record(auditEntry(who, action, scope, target, deps.now(), { parents }));
    };
    // Derived data may be made only from what the caller may read.
    const mustReadParents = async (body: unknown) => {
      for (const parent of parentsOf(body)) {
        try {
          parseEntityRef(parent);
        } catch {
          continue;
        } // malformed: the provenance check names it
        await mustRead(parent, `the parent ${parent}`);
      }
    };
    return { caller, canRead, mustRead, audit, mustReadParents };
  };

  // Saving and recording need a signed-in caller, whatever the route (an unknown one included, as before).
  router.use(async ({ reqCtx, next }) => {
    const { caller, method } = requestOf(reqCtx);
    if (caller.kind === 'anonymous' && method !== 'GET')
      throw new AccessDeniedError('saving derived data and recording provenance need a signed-in caller');
    await next();
  });

  router.post('/runs', async (reqCtx) => {
    const { event, caller: who } = requestOf(reqCtx);
    const { caller, mustReadParents, audit } = accessOf(who);
    const body = parseBody(event);
    await mustReadParents(body);
    const saved = await saveDerivedRun(body as SaveDerivedRunRequest, deps, caller ? { caller } : {});
    await audit(AuditAction.DerivedRunSaved, `run:${saved.uid}`, saved.provenance.parents);
    logger.info('derived run saved', { runUid: saved.uid, parents: saved.provenance.parents, documents: saved.documents });
    return json(201, saved);
  });

  router.get('/runs/:uid', async (reqCtx) => {
    const { caller: who, params, query } = requestOf(reqCtx);
    const uid = params.uid ?? '';
    if (!RUN_UID.test(uid)) throw new NotFoundError();
    await accessOf(who).mustRead(`run:${uid}`);
    return json(200, await readDerivedRun(uid, deps, { data: query.data === 'true' || query.data === '1' }));
  });

  router.post('/provenance', async (reqCtx) => {
    const { event, caller: who } = requestOf(reqCtx);
    const { caller, mustRead, mustReadParents, audit } = accessOf(who);
    const body = parseBody(event) as { entity?: unknown; provenance?: unknown; outputs?: InputFile[] };
    if (typeof body?.entity !== 'string') throw new InvalidInputError('entity (<kind>:<id>) is required');
    const target = parseEntityRef(body.entity);
    if (isArchiveOwned(target.ref)) {
      throw new InvalidInputError(
        `${target.ref} is the archive's own (archive/, exports/, export:): its provenance is recorded by the archive when it writes it`,
      );
    }
    if (target.kind === 'run')
      throw new InvalidInputError(
        'runs get their provenance when they are saved (POST /runs) or archived; record it for files and datasets only',
      );
    for (const output of Array.isArray(body.outputs) ? body.outputs : []) {
      if (typeof output?.uri === 'string' && isArchiveOwnedUri(output.uri)) {
        throw new InvalidInputError(
          `output ${output.uri} is the archive's own (archive/, exports/): the analysis store cannot claim to have generated it`,
        );
      }
    }
    if (target.kind === 'dataset') await mustRead(target.ref);
    await mustReadParents(body);
    const { record, status } = await recordProvenance(body.entity, body.provenance, provenanceDeps, {
      ...(Array.isArray(body.outputs) ? { outputs: body.outputs } : {}),
      ...(caller ? { caller } : {}),
    });
    if (status === 'stored') await audit(AuditAction.ProvenanceRecorded, record.entity, record.parents);
    logger.info('provenance recorded', { entity: record.entity, status });
    return json(status === 'stored' ? 201 : 200, record);
  });

  router.get('/provenance', async (reqCtx) => {
    const { caller: who, query } = requestOf(reqCtx);
    const entity = requiredEntity(query);
    await accessOf(who).mustRead(entity);
    const record = await deps.provenance.get(entity);
    if (!record) throw new AnalysisNotFoundError(`${entity} has no provenance record`);
    return json(200, record);
  });

  /** GET /lineage (the lineage) and GET /prov (as W3C PROV-JSON; both directions by default). */
  const lineageRoute = (prov: boolean) => async (reqCtx: Parameters<typeof requestOf>[0]) => {
    const { caller: who, query } = requestOf(reqCtx);
    const { mustRead, canRead } = accessOf(who);
    const entity = requiredEntity(query);
    const direction = directionOf(query.direction, prov);
    const depth = depthOf(query.depth);
    const options = depth === undefined ? {} : { maxDepth: depth };
    await mustRead(entity);
    if (!(await deps.provenance.exists(parseEntityRef(entity)))) throw new AnalysisNotFoundError(`${entity} is not in the catalogue`);
    // What the caller may not read is redacted: no other proposal's ids, requesters or parameters.
    const result = await redactLineage(
      direction === 'both'
        ? merge(
            await lineage(entity, 'ancestors', deps.provenance, options),
            await lineage(entity, 'descendants', deps.provenance, options),
          )
        : await lineage(entity, direction, deps.provenance, options),
      canRead,
    );
    return json(200, prov ? toProvJson(result) : result);
  };
  router.get('/lineage', lineageRoute(false));
  router.get('/prov', lineageRoute(true));
}
