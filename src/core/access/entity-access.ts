/**
 * Who may read an entity of the provenance graph (run, dataset, file, export), decided by the one
 * policy (policy.ts), and a lineage with what the caller may not read redacted. Raw runs, datasets
 * and archived files have a proposal and beamline; exports belong to their requester (or to whoever
 * may read every run); derived entities (analysis runs and files) may be read by whoever may read
 * every one of their parents.
 */
import type { Lineage } from '../provenance/lineage.js';
import { parseEntityRef } from '../provenance/model.js';
import type { ProvenanceRecord } from '../provenance/model.js';
import type { Caller } from './caller.js';
import { Action, allows, canReadExport, type AccessScope } from './policy.js';
import { archiveKeyScope, runScope } from './scopes.js';

export interface EntityAccessDeps {
  run(
    uid: string,
  ): Promise<
    | { dataPolicy?: { proposal: string; beamline: string } | undefined; startTime?: string | undefined; endTime?: string | undefined }
    | undefined
  >;
  exportRecord(id: string): Promise<{ requester?: string | undefined; runs: string[] } | undefined>;
  provenance(entity: string): Promise<ProvenanceRecord | undefined>;
  embargoYears: number;
  now: Date;
}

/** Derived entities deeper than this above a raw run are not followed (refused). */
const MAX_DEPTH = 32;

/** A reader for one caller and one request: answers are memoised. */
export function entityReader(caller: Caller, deps: EntityAccessDeps): (entity: string) => Promise<boolean> {
  const memo = new Map<string, Promise<boolean>>();
  const runScopeOf = async (uid: string): Promise<AccessScope | undefined> => {
    const run = await deps.run(uid);
    return run ? runScope(run, deps.embargoYears) : undefined;
  };
  const derived = async (entity: string, depth: number): Promise<boolean> => {
    const record = await deps.provenance(entity);
    if (!record || record.parents.length === 0 || depth >= MAX_DEPTH) return false;
    const answers = await Promise.all(record.parents.map((p) => read(p, depth + 1)));
    return answers.every(Boolean);
  };
  const decideEntity = async (entity: string, depth: number): Promise<boolean> => {
    if (caller.admin) return true;
    const ref = parseEntityRef(entity);
    switch (ref.kind) {
      case 'run': {
        const run = await deps.run(ref.id);
        if (run?.dataPolicy) return allows(caller, Action.Read, runScope(run, deps.embargoYears), deps.now);
        return derived(ref.ref, depth);
      }
      case 'dataset': {
        const [proposal, beamline] = ref.id.split('/');
        return proposal !== undefined && beamline !== undefined && allows(caller, Action.Read, { proposal, beamline }, deps.now);
      }
      case 'export': {
        const record = await deps.exportRecord(ref.id);
        if (!record) return false;
        const scopes = await Promise.all(record.runs.map(runScopeOf));
        return canReadExport(caller, { requester: record.requester, runs: scopes }, deps.now);
      }
      case 'file': {
        const key = /^s3:\/\/[^/]+\/(.*)$/.exec(ref.id)?.[1] ?? '';
        const archived = archiveKeyScope(key);
        if (archived) return allows(caller, Action.Read, archived, deps.now);
        const exported = /^exports\/([^/]+)\//.exec(key);
        if (exported) return read(`export:${exported[1]}`, depth);
        return derived(ref.ref, depth);
      }
      default:
        return false;
    }
  };
  const read = (entity: string, depth = 0): Promise<boolean> => {
    let answer = memo.get(entity);
    if (!answer) {
      answer = decideEntity(entity, depth);
      memo.set(entity, answer);
    }
    return answer;
  };
  return (entity) => read(entity);
}

/**
 * The lineage with every node the caller may not read replaced by `redacted:<n>` (kind and depth
 * kept, record and name dropped), edges rewritten to match: the shape of the graph stays, nothing
 * about other proposals (ids, requesters, parameters) is shown.
 */
export async function redactLineage(
  graph: Lineage,
  canRead: (entity: string) => Promise<boolean>,
): Promise<Lineage & { redacted: number }> {
  const readable = await Promise.all(graph.nodes.map((n) => canRead(n.entity)));
  const names = new Map<string, string>();
  let hidden = 0;
  const nodes = graph.nodes.map((node, i) => {
    if (readable[i]) return node;
    hidden += 1;
    const name = `redacted:${hidden}`;
    names.set(node.entity, name);
    return { entity: name, kind: node.kind, depth: node.depth, redacted: true };
  });
  const rename = (entity: string) => names.get(entity) ?? entity;
  return { ...graph, nodes, edges: graph.edges.map((e) => ({ child: rename(e.child), parent: rename(e.parent) })), redacted: hidden };
}
