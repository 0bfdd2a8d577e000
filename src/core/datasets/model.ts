/**
 * The dataset model, pure: names, records, metadata validation, what is missing at close, and the
 * layout of the dataset's master NeXus file. Storage: src/adapters/dynamodb-dataset-catalogue.ts;
 * the table design is in docs/datasets.md.
 */
import type { DataPolicy } from '../contract/generated-types.js';
import { datasetKeyOf, datasetPrefix, scanFileKey } from '../object-keys.js';
import {
  MANDATORY_FIELDS,
  findField,
  icatGroups,
  icatSource,
  requireField,
  requireTechnique,
  techniqueFields,
  typedValue,
} from '../icat/definitions.js';
import { InvalidDatasetNameError, InvalidMetadataValueError } from './errors.js';

/** Where a dataset lives in the data policy: the five names of its folder. */
export type DatasetRef = DataPolicy;

export const DatasetState = {
  Open: 'OPEN',
  /** A close has started (one winner); the master file is being written. */
  Closing: 'CLOSING',
  Closed: 'CLOSED',
} as const;
export type DatasetState = (typeof DatasetState)[keyof typeof DatasetState];

/** Who opened the dataset: the bridge (first scan of the dataset) or an explicit request (API, CLI). */
export const DatasetOrigin = { Bridge: 'bridge', Api: 'api' } as const;
export type DatasetOrigin = (typeof DatasetOrigin)[keyof typeof DatasetOrigin];

export interface MissingFields {
  /** Mandatory fields without a value. */
  mandatory: string[];
  /** Per technique of the dataset, its fields without a value (deprecated fields left out). */
  techniques: Record<string, string[]>;
}

export interface MasterFile {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
}

export interface DatasetRecord {
  ref: DatasetRef;
  /** `<proposal>/<beamline>/<session>/<collection>/<dataset>` */
  id: string;
  state: DatasetState;
  origin: DatasetOrigin;
  techniques: string[];
  /** ICAT metadata: field name → string value. */
  metadata: Record<string, string>;
  startDate: string;
  endDate?: string;
  /** Incremented by every change. */
  version: number;
  missing?: MissingFields;
  masterFile?: MasterFile;
  closedAt?: string;
}

export interface DatasetScan {
  runUid: string;
  scanNumber: number;
  title?: string;
  startTime?: string;
  /** S3 key of the scan file once archived. */
  fileKey?: string;
  /** Its sha256 (from Run Archived): the master file's provenance lists the scan files it links. */
  fileSha256?: string;
}

const REF_KEYS = ['proposal', 'beamline', 'session', 'collection', 'dataset'] as const;
/** Longest name accepted for one of the five (the contract's DataPolicy bound). */
const MAX_NAME = 200;

/**
 * Checks the five names and gives the dataset's key: each name through the archive's one naming rule
 * (safeSegment, src/core/object-keys.ts), exactly as the scan writer names the dataset's folder. A
 * hostile or odd name (`a/../b`, `run 1.5`, unicode, 200 characters) is never refused: it maps to the
 * same segment everywhere, so a scan archived under it joins its dataset. Only a missing, empty or
 * overlong name is refused.
 */
export function validateRef(input: unknown): DatasetRef {
  if (typeof input !== 'object' || input === null)
    throw new InvalidDatasetNameError('a dataset is named by proposal, beamline, session, collection and dataset');
  const ref = {} as Record<(typeof REF_KEYS)[number], string>;
  const problems: string[] = [];
  for (const key of REF_KEYS) {
    const value = (input as Record<string, unknown>)[key];
    if (typeof value !== 'string' || value === '') problems.push(`${key} is missing`);
    else if (value.length > MAX_NAME) problems.push(`${key} is ${value.length} characters long (at most ${MAX_NAME})`);
    else ref[key] = value;
  }
  if (problems.length) throw new InvalidDatasetNameError(`invalid dataset name: ${problems.join('; ')}`, { problems });
  return datasetKeyOf(ref);
}

export function datasetIdOf(ref: DatasetRef): string {
  return `${ref.proposal}/${ref.beamline}/${ref.session}/${ref.collection}/${ref.dataset}`;
}

/**
 * Parses `<proposal>/<beamline>/<session>/<collection>/<dataset>`: the id the archive shows (each part
 * a segment, kept as it is) or the names as given (mapped by the naming rule, if they hold no `/`).
 */
export function parseDatasetId(id: string): DatasetRef {
  const parts = String(id).split('/');
  if (parts.length !== 5)
    throw new InvalidDatasetNameError(`dataset id ${JSON.stringify(id)} is not <proposal>/<beamline>/<session>/<collection>/<dataset>`);
  const [proposal, beamline, session, collection, dataset] = parts as [string, string, string, string, string];
  return validateRef({ proposal, beamline, session, collection, dataset });
}

/** The dataset's folder name and master file key: `<dataset folder>/<collection>_<dataset>.h5`. */
export function masterFileKey(ref: DatasetRef): string {
  const key = datasetKeyOf(ref);
  return `${datasetPrefix(key)}${key.collection}_${key.dataset}.h5`;
}

/** ICAT `location`: the dataset folder as the data policy names it on ESRF disks. */
export function locationOf(ref: DatasetRef): string {
  return `/data/visitor/${ref.proposal}/${ref.beamline}/${ref.session}/RAW_DATA/${ref.collection}/${ref.collection}_${ref.dataset}`;
}

/**
 * Metadata every new dataset starts with (as BLISS fills it); explicit values override it. `names`:
 * the names as published (a scan's data policy), so `datasetName` and `Sample_name` keep `run 1.5`
 * where the folder says `run_1.5~…`; default the ref's.
 */
export function initialMetadata(ref: DatasetRef, startDate: string, names: DatasetRef = ref): Record<string, string> {
  return {
    proposal: names.proposal,
    datasetName: names.dataset,
    location: locationOf(ref),
    startDate,
    Sample_name: names.collection,
  };
}

export const MAX_VALUE_LENGTH = 10_000;
/** Fields the archive maintains itself. */
const MANAGED_FIELDS = new Set(['proposal', 'location', 'endDate', 'definition']);

/**
 * Validates a batch of metadata writes before anything is written: every name must be an ICAT
 * field (suggestions for near misses), every value a string. Returns the batch unchanged.
 */
export function validateMetadata(fields: unknown, options: { allowManaged?: boolean } = {}): Record<string, string> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new InvalidMetadataValueError('metadata must be an object of field name → string value');
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    requireField(name);
    if (!options.allowManaged && MANAGED_FIELDS.has(name)) {
      throw new InvalidMetadataValueError(
        `${name} is maintained by the archive (set at open, close or with add-technique); it cannot be written`,
        { field: name },
      );
    }
    if (typeof value !== 'string') {
      throw new InvalidMetadataValueError(
        `${name}: ICAT values are strings, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value} (${JSON.stringify(value)?.slice(0, 60)}); send ${JSON.stringify(String(value))} if that is meant`,
        { field: name },
      );
    }
    if (value.length > MAX_VALUE_LENGTH)
      throw new InvalidMetadataValueError(`${name}: value is ${value.length} characters long (at most ${MAX_VALUE_LENGTH})`, {
        field: name,
      });
    out[name] = value;
  }
  return out;
}

/**
 * The bridge's ICAT snapshot is taken as BLISS published it: known fields are kept, unknown names
 * (BLISS versions differ) are set aside and reported, never fatal for a scan.
 */
export function splitSnapshot(snapshot: Record<string, string | undefined>): { known: Record<string, string>; ignored: string[] } {
  const known: Record<string, string> = {};
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(snapshot)) {
    if (typeof value !== 'string') continue;
    if (findField(name) && !MANAGED_FIELDS.has(name) && value.length <= MAX_VALUE_LENGTH) known[name] = value;
    else ignored.push(name);
  }
  return { known, ignored: ignored.sort() };
}

/** ICAT `definition`: the techniques, space-separated, as hdf5_cfg.xml describes it. */
export function definitionOf(techniques: readonly string[]): string {
  return [...techniques].sort().join(' ');
}

export function canonicalTechnique(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidMetadataValueError('a technique is a name such as FLUO');
  return requireTechnique(name).name;
}

export function missingFields(metadata: Record<string, string>, techniques: readonly string[]): MissingFields {
  const has = (name: string) => typeof metadata[name] === 'string' && metadata[name] !== '';
  const byTechnique: Record<string, string[]> = {};
  for (const t of [...techniques].sort()) {
    byTechnique[t] = techniqueFields(t)
      .filter((f) => !f.deprecated && !has(f.name))
      .map((f) => f.name);
  }
  return { mandatory: MANDATORY_FIELDS.filter((name) => !has(name)), techniques: byTechnique };
}

/** What the master file holds: one entry per scan (external link), the ICAT metadata entry. */
export interface MasterFilePlan {
  /** Seconds since the epoch stamped on every object (the dataset's close time): two writes give the same bytes. */
  fileTime: number;
  rootAttrs: Record<string, string>;
  /** Scan entries: `/<n>.1` → `<file>:/<n>.1` (file relative to the master file's folder). */
  links: { name: string; file: string; path: string }[];
  /** Name of the NXentry holding the dataset's ICAT metadata. */
  metadataEntry: string;
  /** Groups under the metadata entry, parents first, with NX_class. */
  groups: { path: string; nxClass: string }[];
  fields: { path: string; value: string | number | number[]; units?: string; icatName: string; nexusType: string }[];
}

export const METADATA_ENTRY = 'dataset';

export function masterFilePlan(record: DatasetRecord, scans: readonly DatasetScan[], creator: string): MasterFilePlan {
  const closedAt = record.closedAt ?? record.endDate ?? record.startDate;
  const links = [...scans]
    .sort((a, b) => a.scanNumber - b.scanNumber || a.runUid.localeCompare(b.runUid))
    .filter((s, i, all) => i === 0 || all[i - 1]!.scanNumber !== s.scanNumber)
    .map((s) => {
      const file = scanFileKey(record.ref, s.scanNumber).split('/').pop()!;
      return { name: `${s.scanNumber}.1`, file, path: `/${s.scanNumber}.1` };
    });
  const fields: MasterFilePlan['fields'] = [];
  const groupPaths = new Set<string>();
  for (const name of Object.keys(record.metadata).sort()) {
    const field = findField(name);
    if (!field) continue;
    for (const path of field.paths) {
      const segments = path.split('/');
      for (let i = 1; i < segments.length; i++) groupPaths.add(segments.slice(0, i).join('/'));
      fields.push({
        path,
        value: typedValue(record.metadata[name]!, field.type),
        icatName: name,
        nexusType: field.type,
        ...(field.units ? { units: field.units } : {}),
      });
    }
  }
  const groups = [...groupPaths]
    .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))
    .map((path) => ({ path, nxClass: icatGroups[path]?.nx_class ?? 'NXcollection' }));
  return {
    fileTime: Date.parse(closedAt) / 1000,
    rootAttrs: {
      NX_class: 'NXroot',
      creator,
      file_name: masterFileKey(record.ref).split('/').pop()!,
      file_time: closedAt,
      default: links[0]?.name ?? METADATA_ENTRY,
      icat_definitions: `${icatSource.package} ${icatSource.version}`,
    },
    links,
    metadataEntry: METADATA_ENTRY,
    groups,
    fields,
  };
}
