/** Port of the provenance use cases. Adapter: src/adapters/dynamodb-provenance-store.ts. */
import type { EntityRef, ProvenanceRecord } from './model.js';

export interface ProvenanceStore {
  /** Whether the entity is known to the catalogue (run record, file record, dataset runs or a provenance record). */
  exists(entity: EntityRef): Promise<boolean>;
  /** The provenance record of an entity, if it has one. */
  get(entity: string): Promise<ProvenanceRecord | undefined>;
  /** Whether anything was already derived from the entity (it has children). */
  hasChildren(entity: string): Promise<boolean>;
  /**
   * Stores the record and its parent/child edges at once, only if the entity has no record yet:
   * 'duplicate' when an identical record (same activity uid) is there, else ProvenanceConflictError.
   */
  put(record: ProvenanceRecord): Promise<'stored' | 'duplicate'>;
  parentsOf(entity: string): Promise<string[]>;
  childrenOf(entity: string): Promise<string[]>;
}
