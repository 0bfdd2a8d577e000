/**
 * In-memory versions of the analysis store's ports (object store, analysis catalogue, provenance
 * store) for unit tests and demos, with the same semantics as the S3/DynamoDB adapters.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { StoredDocument } from '../core/archive/ports.js';
import { AnalysisError } from '../core/analysis/errors.js';
import type { AnalysisCatalogue, DerivedRunRecord } from '../core/analysis/ports.js';
import type { CopyOptions, ObjectHead, ObjectStore, ObjectVersion, StoredObject } from '../core/ports.js';
import { WriteConditionFailedError } from '../core/errors.js';
import { ProvenanceConflictError } from '../core/provenance/errors.js';
import type { EntityRef, ProvenanceRecord } from '../core/provenance/model.js';
import type { ProvenanceStore } from '../core/provenance/ports.js';
import { ObjectNotFoundError } from './s3-object-store.js';

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  private readonly metadata = new Map<string, Record<string, string>>();
  constructor(readonly bucket = 'memory-bucket') {}
  async put(key: string, body: Uint8Array | string): Promise<StoredObject> {
    const bytes = typeof body === 'string' ? new Uint8Array(Buffer.from(body)) : body.slice();
    this.objects.set(key, bytes);
    return { key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  async get(key: string): Promise<Uint8Array> {
    const bytes = this.objects.get(key);
    if (!bytes) throw new ObjectNotFoundError(`memory://${this.bucket}/${key} does not exist`, { key });
    return bytes.slice();
  }
  /** ETags are the content's sha256 here (S3's are MD5s): enough for conditional writes. */
  async head(key: string): Promise<ObjectHead | undefined> {
    const bytes = this.objects.get(key);
    if (!bytes) return undefined;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { bytes: bytes.byteLength, etag: `"${sha256}"`, sha256: this.metadata.get(key)?.sha256 };
  }
  async uploadFile(): Promise<StoredObject> { throw new Error('not used by the analysis store'); }
  async downloadFile(key: string, path: string): Promise<{ bytes: number; sha256: string }> {
    const bytes = await this.get(key);
    await writeFile(path, bytes);
    return { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  async copy(source: string, target: string, options: CopyOptions = {}): Promise<ObjectVersion> {
    const bytes = await this.get(source);
    const existing = await this.head(target);
    const condition = options.condition;
    if (condition && ('ifNoneMatch' in condition ? existing !== undefined : existing?.etag !== condition.ifMatch)) {
      throw new WriteConditionFailedError(`memory://${this.bucket}/${target}: the write condition ${JSON.stringify(condition)} does not hold`, { key: target });
    }
    this.objects.set(target, bytes);
    if (options.metadata) this.metadata.set(target, options.metadata);
    else this.metadata.delete(target);
    return { etag: (await this.head(target))!.etag };
  }
  async delete(key: string): Promise<void> { this.objects.delete(key); this.metadata.delete(key); }
}

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
  async listDocuments(runUid: string): Promise<StoredDocument[]> { return [...(this.documents.get(runUid) ?? [])]; }
  async putDerivedRun(record: DerivedRunRecord): Promise<void> {
    if (this.runs.has(record.runUid)) throw new AnalysisError(`run ${record.runUid} already exists`);
    this.runs.set(record.runUid, { kind: 'derived', record });
  }
  async runKind(runUid: string): Promise<'raw' | 'derived' | undefined> { return this.runs.get(runUid)?.kind; }
  /** A raw run as the run-recorder would record it. */
  addRawRun(runUid: string): void { this.runs.set(runUid, { kind: 'raw' }); }
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
  async get(entity: string): Promise<ProvenanceRecord | undefined> { return this.records.get(entity); }
  async hasChildren(entity: string): Promise<boolean> { return (this.children.get(entity)?.size ?? 0) > 0; }
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
  async parentsOf(entity: string): Promise<string[]> { return [...(this.parents.get(entity) ?? [])]; }
  async childrenOf(entity: string): Promise<string[]> { return [...(this.children.get(entity) ?? [])]; }
}
