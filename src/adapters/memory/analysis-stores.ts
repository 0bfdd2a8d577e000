/**
 * In-memory versions of the analysis store's ports (analysis catalogue, provenance store) for unit
 * tests, with the same semantics as the DynamoDB adapters (the object store: ./object-store.ts).
 */
import type { StoredDocument } from '../../core/archive/ports.js';
import { AnalysisError } from '../../core/analysis/errors.js';
import type { AnalysisCatalogue, DerivedRunRecord } from '../../core/analysis/ports.js';
import { ProvenanceConflictError } from '../../core/provenance/errors.js';
import type { EntityRef, ProvenanceRecord } from '../../core/provenance/model.js';
import type { ProvenanceStore } from '../../core/provenance/ports.js';

export class MemoryAnalysisCatalogue implements AnalysisCatalogue {
  readonly documents = new Map<string, StoredDocument[]>();
  readonly runs = new Map<string, { kind: 'raw' | 'derived'; record?: DerivedRunRecord }>();
  async putDocument(runUid: string, detailType: string, uid: string, body: unknown): Promise<'stored' | 'duplicate'> {
    const docs = this.documents.get(runUid) ?? [];
    if (docs.some((d) => d.detailType === detailType && d.uid === uid)) return 'duplicate';
    docs.push({ detailType, uid, body: JSON.parse(JSON.stringify(body)) as unknown });
    this.documents.set(runUid, docs);
    return 'stored';
  }
  async listDocuments(runUid: string): Promise<StoredDocument[]> {
    return [...(this.documents.get(runUid) ?? [])];
  }
  async putDerivedRun(record: DerivedRunRecord): Promise<void> {
    if (this.runs.has(record.runUid)) throw new AnalysisError(`run ${record.runUid} already exists`);
    this.runs.set(record.runUid, { kind: 'derived', record });
  }
  async runKind(runUid: string): Promise<'raw' | 'derived' | undefined> {
    return this.runs.get(runUid)?.kind;
  }
  /** A raw run as the run-recorder would record it. */
  addRawRun(runUid: string): void {
    this.runs.set(runUid, { kind: 'raw' });
  }
}

export class MemoryProvenanceStore implements ProvenanceStore {
  readonly records = new Map<string, ProvenanceRecord>();
  readonly parents = new Map<string, Set<string>>();
  readonly children = new Map<string, Set<string>>();
  /** Entities the rest of the catalogue knows (run records, file records, datasets). */
  constructor(readonly known: (entity: EntityRef) => boolean = () => false) {}
  async exists(entity: EntityRef): Promise<boolean> {
    return this.records.has(entity.ref) || this.parents.has(entity.ref) || this.children.has(entity.ref) || this.known(entity);
  }
  async get(entity: string): Promise<ProvenanceRecord | undefined> {
    return this.records.get(entity);
  }
  async hasChildren(entity: string): Promise<boolean> {
    return (this.children.get(entity)?.size ?? 0) > 0;
  }
  async put(record: ProvenanceRecord): Promise<'stored' | 'duplicate'> {
    const existing = this.records.get(record.entity);
    if (existing) {
      if (existing.activity_uid === record.activity_uid) return 'duplicate';
      throw new ProvenanceConflictError(`${record.entity} already has a provenance record`);
    }
    this.records.set(record.entity, record);
    const link = (child: string, parent: string) => {
      if (!this.parents.has(child)) this.parents.set(child, new Set());
      if (!this.children.has(parent)) this.children.set(parent, new Set());
      this.parents.get(child)!.add(parent);
      this.children.get(parent)!.add(child);
    };
    for (const parent of record.parents) link(record.entity, parent);
    for (const output of record.outputs) if (output.uri.startsWith('s3://')) link(`file:${output.uri}`, record.entity);
    return 'stored';
  }
  async parentsOf(entity: string): Promise<string[]> {
    return [...(this.parents.get(entity) ?? [])];
  }
  async childrenOf(entity: string): Promise<string[]> {
    return [...(this.children.get(entity) ?? [])];
  }
}
