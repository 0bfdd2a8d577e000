/**
 * The dataset use cases, as BLISS offers them to a procedure: open, add a technique, write
 * metadata, read it, list the missing technique fields, close; plus the bridge side (a scan joins
 * its dataset, opening it on its first scan) and the scan writer side (a scan's file is archived).
 *
 * Every input is validated before anything is written; every write is conditional (see the
 * DatasetCatalogue port), and the lifecycle events go on the bus after the write succeeded.
 */
import { publishLocalFile } from '../archive/publish-file.js';
import { VerificationError } from '../archive/errors.js';
import { recordProvenance } from '../provenance/record-provenance.js';
import { fileRef, runRef, type SoftwareRef } from '../provenance/model.js';
import type { ProvenanceStore } from '../provenance/ports.js';
import { DetailType, EventSource } from '../contract/detail-types.js';
import type { DatasetRef as DatasetRefDetail, RunArchived, RunStart } from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import type { EventPublisher, ObjectStore } from '../ports.js';
import { DatasetClosedError, DatasetNotFoundError, InvalidMetadataValueError } from './errors.js';
import {
  DatasetOrigin,
  DatasetState,
  canonicalTechnique,
  datasetIdOf,
  definitionOf,
  initialMetadata,
  masterFileKey,
  masterFilePlan,
  missingFields,
  splitSnapshot,
  validateMetadata,
  validateRef,
  type DatasetRecord,
  type DatasetRef,
  type DatasetScan,
  type MissingFields,
} from './model.js';
import type { DatasetCatalogue, DatasetQuery, MasterFileWriter } from './ports.js';
import { runTitleOf } from '../bluesky/run-origin.js';

export interface DatasetServiceDeps {
  catalogue: DatasetCatalogue;
  store: ObjectStore;
  writer: MasterFileWriter;
  publisher: EventPublisher;
  now: () => Date;
  /** `beamline-archive <version>`: the master file's creator attribute. */
  creator: string;
  log?: (message: string, context: Record<string, unknown>) => void;
  /** When given, a closed dataset's master file gets a provenance record (its scans and their files). */
  provenance?: { store: ProvenanceStore; software: SoftwareRef };
}

export interface OpenRequest {
  ref: unknown;
  techniques?: unknown;
  metadata?: unknown;
}

function refDetail(ref: DatasetRef): DatasetRefDetail {
  return { id: datasetIdOf(ref), ...ref };
}

function describeClosed(record: DatasetRecord, what: string): DatasetClosedError {
  const since = record.closedAt ? ` since ${record.closedAt}` : '';
  const state = record.state === DatasetState.Closing ? 'being closed' : `closed${since}`;
  return new DatasetClosedError(`dataset ${record.id} is ${state}: it takes no ${what}`, { dataset: record.id, state: record.state });
}

/** A dataset CLOSING for longer than this (well beyond the dataset-api timeout) is an interrupted close. */
export const STALE_CLOSE_MS = 5 * 60_000;

export class DatasetService {
  constructor(private readonly deps: DatasetServiceDeps) {}

  private async publish(
    detailType: typeof DetailType.DatasetOpened | typeof DetailType.DatasetMetadataUpdated | typeof DetailType.DatasetClosed,
    detail: unknown,
  ): Promise<void> {
    const valid = validateDetail(detailType, detail, EventSource.Datasets);
    const outcome = await this.deps.publisher.publish([{ detailType, source: EventSource.Datasets, detail: valid }]);
    if (outcome.rejected.length) {
      // The change is stored; the notification is lost. Say so loudly rather than fail a done change.
      this.deps.log?.('dataset event refused by the bus', { detailType, reason: outcome.rejected[0]!.reason });
    }
  }

  private techniquesOf(input: unknown): string[] {
    if (input === undefined) return [];
    if (!Array.isArray(input)) throw new InvalidMetadataValueError('techniques must be a list of names such as ["FLUO"]');
    return [...new Set(input.map(canonicalTechnique))].sort();
  }

  async get(refInput: unknown): Promise<DatasetRecord> {
    const ref = validateRef(refInput);
    const record = await this.deps.catalogue.get(ref);
    if (!record) throw new DatasetNotFoundError(`no dataset ${datasetIdOf(ref)}`, { dataset: datasetIdOf(ref) });
    return record;
  }

  /** Opens a dataset explicitly (a procedure's own dataset). Opening an OPEN dataset applies the given techniques/metadata to it. */
  async open(request: OpenRequest): Promise<{ created: boolean; record: DatasetRecord }> {
    const ref = validateRef(request.ref);
    const techniques = this.techniquesOf(request.techniques);
    const metadata = request.metadata === undefined ? {} : validateMetadata(request.metadata);
    const startDate = this.deps.now().toISOString();
    const opened = await this.deps.catalogue.open({
      ref,
      origin: DatasetOrigin.Api,
      techniques,
      metadata: { ...initialMetadata(ref, startDate), ...metadata, ...(techniques.length ? { definition: definitionOf(techniques) } : {}) },
      startDate,
    });
    if (opened.created) {
      await this.announceOpened(opened.record);
      return opened;
    }
    if (opened.record.state !== DatasetState.Open) throw describeClosed(opened.record, 'new scans or edits; open another dataset');
    if (techniques.length || Object.keys(metadata).length) {
      return { created: false, record: await this.update(ref, { techniques, metadata }) };
    }
    return opened;
  }

  private async announceOpened(record: DatasetRecord, runUid?: string): Promise<void> {
    await this.publish(DetailType.DatasetOpened, {
      dataset: refDetail(record.ref),
      origin: record.origin,
      ...(runUid ? { run_uid: runUid } : {}),
      techniques: record.techniques,
      metadata: record.metadata,
      start_date: record.startDate,
      version: record.version,
    });
  }

  private async update(ref: DatasetRef, change: { techniques?: string[]; metadata?: Record<string, string> }): Promise<DatasetRecord> {
    const before = await this.deps.catalogue.get(ref);
    if (!before) throw new DatasetNotFoundError(`no dataset ${datasetIdOf(ref)}: open it first`, { dataset: datasetIdOf(ref) });
    if (before.state !== DatasetState.Open) throw describeClosed(before, 'new techniques or metadata');
    const added = (change.techniques ?? []).filter((t) => !before.techniques.includes(t));
    const metadata = { ...change.metadata };
    if (added.length) metadata.definition = definitionOf([...before.techniques, ...added]);
    const after = await this.deps.catalogue.update(ref, { techniques: added, metadata });
    await this.publish(DetailType.DatasetMetadataUpdated, {
      dataset: refDetail(ref),
      techniques: after.techniques,
      added_techniques: added,
      changed: metadata,
      updated_at: this.deps.now().toISOString(),
      version: after.version,
    });
    return after;
  }

  async addTechnique(refInput: unknown, technique: unknown): Promise<DatasetRecord> {
    const ref = validateRef(refInput);
    return this.update(ref, { techniques: [canonicalTechnique(technique)] });
  }

  /** Writes ICAT fields (all validated first: one unknown name or non-string value and nothing is written). */
  async setMetadata(refInput: unknown, fields: unknown): Promise<DatasetRecord> {
    const ref = validateRef(refInput);
    const metadata = validateMetadata(fields);
    if (Object.keys(metadata).length === 0) throw new InvalidMetadataValueError('no field to write');
    return this.update(ref, { metadata });
  }

  async getMetadata(refInput: unknown): Promise<Record<string, string>> {
    return (await this.get(refInput)).metadata;
  }

  /** The mandatory and technique fields still without a value. */
  async missing(refInput: unknown): Promise<MissingFields> {
    const record = await this.get(refInput);
    return record.missing ?? missingFields(record.metadata, record.techniques);
  }

  /** The datasets matching the query that `accept` lets through (the caller's read access), up to query.limit. */
  async list(query: DatasetQuery, accept?: (record: DatasetRecord) => boolean): Promise<DatasetRecord[]> {
    // Names of the query through the same naming rule as the datasets' keys.
    const keyed: DatasetQuery = { ...query };
    for (const key of ['proposal', 'beamline', 'session'] as const) {
      const value = query[key];
      if (value !== undefined)
        keyed[key] = validateRef({ proposal: 'p', beamline: 'b', session: 's', collection: 'c', dataset: 'd', [key]: value })[key];
    }
    return this.deps.catalogue.list(keyed, accept);
  }

  async listScans(refInput: unknown): Promise<DatasetScan[]> {
    const record = await this.get(refInput);
    return this.deps.catalogue.listScans(record.ref);
  }

  /**
   * Closes the dataset: records what is missing, sets endDate, writes the master file
   * (.tmp → final) and marks it CLOSED. Of two racing closes one wins; the other gets
   * DatasetCloseConflictError (or DatasetClosedError when it arrives after).
   */
  async close(refInput: unknown): Promise<DatasetRecord> {
    const ref = validateRef(refInput);
    const current = await this.deps.catalogue.get(ref);
    if (!current) throw new DatasetNotFoundError(`no dataset ${datasetIdOf(ref)}`, { dataset: datasetIdOf(ref) });
    const nowDate = this.deps.now();
    // A close that stopped between CLOSING and CLOSED (the function died, S3 failed) is resumed once it
    // is clearly not in progress any more: the stored end date and missing fields are kept, and the
    // master file is deterministic, so finishing it again gives the same file.
    const stale =
      current.state === DatasetState.Closing &&
      current.closedAt !== undefined &&
      nowDate.getTime() - Date.parse(current.closedAt) > STALE_CLOSE_MS;
    if (current.state !== DatasetState.Open && !stale) throw describeClosed(current, 'second close');
    const now = nowDate.toISOString();
    const metadata = { ...current.metadata, endDate: now };
    const closing = stale
      ? current
      : await this.deps.catalogue.beginClose(ref, {
          endDate: now,
          closedAt: now,
          missing: missingFields(metadata, current.techniques),
          expectedVersion: current.version,
        });
    if (stale) this.deps.log?.('resuming an interrupted close', { dataset: current.id, closingSince: current.closedAt });
    const scans = await this.deps.catalogue.listScans(ref);
    const finalKey = masterFileKey(ref);
    const local = await this.deps.writer.write(masterFilePlan(closing, scans, this.deps.creator));
    try {
      const published = await publishLocalFile(this.deps.store, local.path, local.bytes, finalKey, {
        contentType: 'application/x-hdf5',
        verifyDownloadMaxBytes: 64 * 1024 * 1024,
        context: { dataset: closing.id },
      });
      if (published.sha256 !== local.sha256) {
        throw new VerificationError(
          `s3://${this.deps.store.bucket}/${finalKey}: checksum ${published.sha256} differs from the file written (${local.sha256})`,
          { dataset: closing.id, key: finalKey },
        );
      }
    } finally {
      await local.dispose();
    }
    const masterFile = { bucket: this.deps.store.bucket, key: finalKey, bytes: local.bytes, sha256: local.sha256 };
    // Lineage before CLOSED: if it cannot be recorded the dataset stays CLOSING and the next close resumes.
    await this.recordMasterFileProvenance({ ...closing, masterFile }, scans);
    const closed = await this.deps.catalogue.finishClose(ref, masterFile);
    await this.publish(DetailType.DatasetClosed, {
      dataset: refDetail(ref),
      techniques: closed.techniques,
      start_date: closed.startDate,
      end_date: closed.endDate!,
      missing: closed.missing!,
      master_file: closed.masterFile!,
      scans: scans.length,
      version: closed.version,
    });
    this.deps.log?.('dataset closed', { dataset: closed.id, scans: scans.length, missingMandatory: closed.missing?.mandatory });
    return closed;
  }

  /**
   * Bridge side: a scan joins its dataset (RunStart's data policy). The dataset is opened with the
   * scan's ICAT snapshot if this is its first scan; a closed dataset refuses the scan.
   */
  async scanStarted(start: RunStart): Promise<{ dataset: string; opened: boolean; scan: 'added' | 'duplicate'; ignoredFields: string[] }> {
    const ref = validateRef(start.data_policy);
    const { known, ignored } = splitSnapshot(start.icat ?? {});
    const startDate = new Date(Math.round(start.time * 1000)).toISOString();
    const opened = await this.deps.catalogue.open({
      ref,
      origin: DatasetOrigin.Bridge,
      techniques: [],
      metadata: { ...initialMetadata(ref, startDate, start.data_policy), ...known },
      startDate,
    });
    if (opened.created) await this.announceOpened(opened.record, start.uid);
    if (opened.record.state !== DatasetState.Open) {
      throw describeClosed(opened.record, `new scans (scan ${start.scan_id}, run ${start.uid})`);
    }
    const scan = await this.deps.catalogue.addScan(ref, {
      runUid: start.uid,
      scanNumber: start.scan_id,
      title: runTitleOf(start),
      startTime: startDate,
    });
    return { dataset: datasetIdOf(ref), opened: opened.created, scan, ignoredFields: ignored };
  }

  /**
   * The master file's lineage: derived from the dataset's archived scan runs, its inputs the scan
   * files it links (with their sha256), written by this version of the archive. A dataset without
   * archived scans links nothing, so there is nothing to record.
   */
  private async recordMasterFileProvenance(closed: DatasetRecord, scans: readonly DatasetScan[]): Promise<void> {
    const provenance = this.deps.provenance;
    const master = closed.masterFile;
    const archived = scans.filter((s) => s.fileKey !== undefined && s.fileSha256 !== undefined);
    if (!provenance || !master || archived.length === 0) return;
    const bucket = this.deps.store.bucket;
    const activityUid = `dataset-close/${closed.id}/${master.sha256}`;
    await recordProvenance(
      fileRef(bucket, master.key),
      {
        parents: archived.map((s) => runRef(s.runUid)),
        inputs: archived.map((s) => ({ uri: `s3://${bucket}/${s.fileKey!}`, sha256: s.fileSha256! })),
        software: provenance.software,
        parameters: { dataset: closed.id, techniques: closed.techniques, missing: closed.missing ?? {} },
        agent: { name: 'beamline-archive dataset-api' },
        started_at: closed.closedAt ?? closed.endDate ?? this.deps.now().toISOString(),
        ended_at: this.deps.now().toISOString(),
        activity: 'dataset-master-file',
      },
      { store: provenance.store, now: this.deps.now, newUid: () => activityUid },
      { activityUid },
    );
  }

  /** Scan writer side: the scan's file is at its final key. */
  async scanArchived(archived: RunArchived): Promise<void> {
    if (!archived.data_policy || archived.scan_id === undefined) return;
    const ref = validateRef(archived.data_policy);
    await this.deps.catalogue.setScanFile(ref, archived.run_uid, archived.scan_id, archived.file.key, archived.file.sha256);
  }
}
