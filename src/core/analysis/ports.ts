/** Ports of the analysis store. Adapter: src/adapters/analysis-dynamodb-catalogue.ts (in memory: src/adapters/memory/analysis-stores.ts). */
import type { StoredDocument } from '../archive/ports.js';

/** The run record of a derived run (`pk RUN#<uid>, sk RUN`, kind `derived`). */
export interface DerivedRunRecord {
  runUid: string;
  planName: string;
  startTime: string;
  savedAt: string;
  points: Record<string, number>;
  parents: string[];
}

export interface AnalysisCatalogue {
  putDocument(runUid: string, detailType: string, docUid: string, body: unknown): Promise<'stored' | 'duplicate'>;
  listDocuments(runUid: string): Promise<StoredDocument[]>;
  /** Creates the run record; the uid must be new. */
  putDerivedRun(record: DerivedRunRecord): Promise<void>;
  /** The kind of the run with this uid (`raw` for bridge runs), or undefined when there is none. */
  runKind(runUid: string): Promise<'raw' | 'derived' | undefined>;
}
