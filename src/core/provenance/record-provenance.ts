import { ProvenanceConflictError, ProvenanceIncompleteError } from './errors.js';
import { parseEntityRef, type InputFile, type ProvenanceRecord } from './model.js';
import type { ProvenanceStore } from './ports.js';
import { validateProvenanceInput } from './validate-provenance.js';

export interface RecordProvenanceDeps {
  store: ProvenanceStore;
  now: () => Date;
  newUid: () => string;
}

export interface RecordProvenanceOptions {
  /** Files the activity generated. */
  outputs?: InputFile[];
  /** The authenticated caller, when known. */
  caller?: string;
  /** Reuse this activity uid (idempotent re-recording, e.g. the scan writer after a redelivery). */
  activityUid?: string;
}

/**
 * Checks a producer's provenance (complete, parents in the catalogue) and returns the record to
 * store, without storing it. Throws ProvenanceIncompleteError listing everything missing.
 */
export async function checkProvenance(entity: string, input: unknown, deps: RecordProvenanceDeps, options: RecordProvenanceOptions = {}): Promise<ProvenanceRecord> {
  const target = parseEntityRef(entity);
  const valid = validateProvenanceInput(input, { entity: target.ref });
  const missing: string[] = [];
  const found = await Promise.all(valid.parents.map(async (p) => [p, await deps.store.exists(parseEntityRef(p))] as const));
  for (const [parent, exists] of found) if (!exists) missing.push(`provenance.parents: ${parent} does not exist in the catalogue`);
  if (valid.parents.includes(target.ref)) missing.push(`provenance.parents: ${target.ref} cannot be its own parent`);
  if (missing.length > 0) throw new ProvenanceIncompleteError(missing, { entity: target.ref });
  const now = deps.now().toISOString();
  return {
    ...valid,
    entity: target.ref,
    activity_uid: options.activityUid ?? deps.newUid(),
    ended_at: valid.ended_at ?? now,
    outputs: options.outputs ?? [],
    recorded_at: now,
    ...(options.caller ? { caller: options.caller } : {}),
  };
}

/**
 * Records the provenance of an entity. Cycles are impossible by construction: the entity must be
 * fresh (no record and nothing derived from it yet) and every parent must already exist, so each
 * edge points from a newer node to an older one.
 */
export async function recordProvenance(entity: string, input: unknown, deps: RecordProvenanceDeps, options: RecordProvenanceOptions = {}): Promise<{ record: ProvenanceRecord; status: 'stored' | 'duplicate' }> {
  const record = await checkProvenance(entity, input, deps, options);
  const existing = await deps.store.get(record.entity);
  if (existing) {
    if (options.activityUid !== undefined && existing.activity_uid === options.activityUid) return { record: existing, status: 'duplicate' };
    throw new ProvenanceConflictError(`${record.entity} already has a provenance record (activity ${existing.activity_uid})`, { entity: record.entity });
  }
  if (await deps.store.hasChildren(record.entity)) {
    throw new ProvenanceConflictError(`${record.entity} already has entities derived from it: giving it parents now could close a cycle`, { entity: record.entity });
  }
  return { record, status: await deps.store.put(record) };
}
