/**
 * The dataset catalogue's items in the one DynamoDB table (dynamodb-dataset-catalogue.ts): keys,
 * index keys, the stored dataset item and the record read from it.
 */
import {
  datasetIdOf,
  type DatasetRecord,
  type DatasetRef,
  type DatasetState,
  type MasterFile,
  type MissingFields,
} from '../core/datasets/model.js';

export const datasetPk = (ref: DatasetRef) => `DATASET#${ref.proposal}#${ref.beamline}#${ref.session}#${ref.collection}#${ref.dataset}`;
export const DATASET_SK = 'DATASET';
export const OPEN_MARKER_PK = 'DATASETS#OPEN';
export const scanSk = (scanNumber: number, runUid: string) => `SCAN#${String(scanNumber).padStart(6, '0')}#${runUid}`;
export const DatasetIndex = { ByProposal: 'gsi1', BySample: 'gsi2', ByMonth: 'gsi3' } as const;

export const sessionSk = (ref: Pick<DatasetRef, 'beamline' | 'session'>) => `DATASET#${ref.beamline}#${ref.session}#`;

export function indexKeys(ref: DatasetRef, startDate: string, sample: string): Record<string, string> {
  const id = datasetIdOf(ref);
  return {
    gsi1pk: `PROPOSAL#${ref.proposal}`,
    gsi1sk: `${sessionSk(ref)}${startDate}#${id}`,
    gsi2pk: `SAMPLE#${sample}`,
    gsi2sk: `${startDate}#${id}`,
    gsi3pk: `DATASET_MONTH#${startDate.slice(0, 7)}`,
    gsi3sk: `${startDate}#${id}`,
  };
}

export interface DatasetItem {
  ref: DatasetRef;
  id: string;
  state: DatasetState;
  origin: DatasetRecord['origin'];
  techniques?: string[];
  metadata: Record<string, string>;
  start_date: string;
  end_date?: string;
  version: number;
  missing?: MissingFields;
  master_file?: MasterFile;
  closed_at?: string;
}

export function recordOf(item: Record<string, unknown>): DatasetRecord {
  const i = item as unknown as DatasetItem;
  return {
    ref: i.ref,
    id: i.id,
    state: i.state,
    origin: i.origin,
    techniques: [...(i.techniques ?? [])].sort(),
    metadata: i.metadata ?? {},
    startDate: i.start_date,
    version: i.version,
    ...(i.end_date ? { endDate: i.end_date } : {}),
    ...(i.missing ? { missing: i.missing } : {}),
    ...(i.master_file ? { masterFile: i.master_file } : {}),
    ...(i.closed_at ? { closedAt: i.closed_at } : {}),
  };
}
