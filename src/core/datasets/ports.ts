/** Ports of the dataset use cases. Adapters: src/adapters/dynamodb-dataset-catalogue.ts, src/adapters/h5wasm-master-file-writer.ts. */
import type { LocalFile } from '../archive/ports.js';
import type { DatasetRecord, DatasetRef, DatasetScan, MasterFile, MasterFilePlan, MissingFields } from './model.js';

export interface NewDataset {
  ref: DatasetRef;
  origin: DatasetRecord['origin'];
  techniques: string[];
  metadata: Record<string, string>;
  startDate: string;
}

export interface DatasetQuery {
  proposal?: string;
  /** With proposal and beamline: one session. */
  beamline?: string;
  session?: string;
  sample?: string;
  /** ISO times, inclusive (startDate of the dataset). */
  from?: string;
  to?: string;
  open?: boolean;
  limit?: number;
}

/**
 * The dataset catalogue (the one DynamoDB table). Every change is conditional: edits only on an
 * OPEN dataset, one close wins; a failed condition throws the dataset error that says why.
 */
export interface DatasetCatalogue {
  /** Creates the dataset unless it exists; returns the stored record and whether this call created it. */
  open(dataset: NewDataset): Promise<{ created: boolean; record: DatasetRecord }>;
  get(ref: DatasetRef): Promise<DatasetRecord | undefined>;
  /** Adds techniques and sets fields in one conditional write (state OPEN). */
  update(ref: DatasetRef, change: { techniques?: string[]; metadata?: Record<string, string> }): Promise<DatasetRecord>;
  /** OPEN → CLOSING with the end date and what is missing; DatasetCloseConflictError / DatasetClosedError otherwise. */
  beginClose(
    ref: DatasetRef,
    close: { endDate: string; closedAt: string; missing: MissingFields; expectedVersion: number },
  ): Promise<DatasetRecord>;
  /** CLOSING → CLOSED with the master file (transaction: the open-datasets marker goes too). */
  finishClose(ref: DatasetRef, masterFile: MasterFile): Promise<DatasetRecord>;
  /** Records a scan in an OPEN dataset (transaction with the dataset's state); idempotent. */
  addScan(ref: DatasetRef, scan: DatasetScan): Promise<'added' | 'duplicate'>;
  /** The scan's file once archived (allowed after close: the master file links by name). */
  setScanFile(ref: DatasetRef, runUid: string, scanNumber: number, fileKey: string, fileSha256?: string): Promise<void>;
  listScans(ref: DatasetRef): Promise<DatasetScan[]>;
  /**
   * Up to `query.limit` records matching the query and `accept` (the caller's read access): the
   * predicate is applied before the limit, so a page is full whenever enough records match.
   */
  list(query: DatasetQuery, accept?: (record: DatasetRecord) => boolean): Promise<DatasetRecord[]>;
}

export interface MasterFileWriter {
  write(plan: MasterFilePlan): Promise<LocalFile>;
}
