/**
 * Provenance of everything the archive holds: which entities (runs, datasets, files, exports) an
 * entity was derived from, which files it used (with checksums), the code that made it, its
 * parameters, who and when. Entities are named by references `<kind>:<id>`:
 *
 *   run:<run uid>                                   raw scan or derived run
 *   dataset:<proposal>/<beamline>/<session>/<collection>/<dataset>
 *   file:s3://<bucket>/<key>                        scan file, analysis data file, master file …
 *   export:<export id>
 */
import { EntityRefError } from './errors.js';

export const EntityKind = {
  Run: 'run',
  Dataset: 'dataset',
  File: 'file',
  Export: 'export',
} as const;
export type EntityKind = (typeof EntityKind)[keyof typeof EntityKind];

export interface EntityRef {
  kind: EntityKind;
  id: string;
  /** `<kind>:<id>` */
  ref: string;
}

const ID_PATTERNS: Record<EntityKind, RegExp> = {
  run: /^[A-Za-z0-9._:-]{1,256}$/,
  dataset: /^[^/#\s]+\/[^/#\s]+\/[^/#\s]+\/[^/#\s]+\/[^/#\s]+$/,
  file: /^s3:\/\/[a-z0-9.-]{3,63}\/\S.*$/,
  export: /^[A-Za-z0-9._:/-]{1,256}$/,
};

const ID_HINTS: Record<EntityKind, string> = {
  run: 'run:<run uid>',
  dataset: 'dataset:<proposal>/<beamline>/<session>/<collection>/<dataset>',
  file: 'file:s3://<bucket>/<key>',
  export: 'export:<export id>',
};

export function isEntityKind(value: string): value is EntityKind {
  return Object.values(EntityKind).includes(value as EntityKind);
}

/** Parses `<kind>:<id>`; throws EntityRefError naming the accepted forms. */
export function parseEntityRef(text: string): EntityRef {
  const colon = typeof text === 'string' ? text.indexOf(':') : -1;
  const kind = colon > 0 ? text.slice(0, colon) : '';
  const id = colon > 0 ? text.slice(colon + 1) : '';
  if (!isEntityKind(kind)) {
    throw new EntityRefError(`${JSON.stringify(text)} is not an entity reference (${Object.values(ID_HINTS).join(', ')})`);
  }
  if (!ID_PATTERNS[kind].test(id) || id.length > 1024) throw new EntityRefError(`${JSON.stringify(text)} is not a valid ${ID_HINTS[kind]}`);
  return { kind, id, ref: `${kind}:${id}` };
}

export const runRef = (runUid: string): string => `${EntityKind.Run}:${runUid}`;
export const fileRef = (bucket: string, key: string): string => `${EntityKind.File}:s3://${bucket}/${key}`;

/** A file an activity read, identified by its content. */
export interface InputFile {
  uri: string;
  sha256: string;
  bytes?: number;
}

/** The code that made an entity: name, version and/or commit, where its source lives. */
export interface SoftwareRef {
  name: string;
  version?: string;
  commit?: string;
  repository: string;
}

/** Who ran it: a person's name and optionally an identifier (ORCID, e-mail, IAM principal). */
export interface AgentRef {
  name: string;
  identifier?: string;
}

/** What a producer states about an entity it made (required, validated by validateProvenanceInput). */
export interface ProvenanceInput {
  /** Entity references this entity was derived from; each must exist in the catalogue. */
  parents: string[];
  /** Files read, with their sha256. */
  inputs: InputFile[];
  software: SoftwareRef;
  /** The parameters of the activity (may be an empty object, never absent). */
  parameters: Record<string, unknown>;
  agent: AgentRef;
  /** When the activity started and ended (ISO 8601); ended_at defaults to the time of recording. */
  started_at: string;
  ended_at?: string;
  /** What the activity was (`azimuthal-integration`, `scan-file-writing` …). */
  activity?: string;
}

/** A stored provenance record: the input plus what the archive adds. */
export interface ProvenanceRecord extends ProvenanceInput {
  /** The entity this record is the provenance of. */
  entity: string;
  /** Uid of the activity that generated the entity. */
  activity_uid: string;
  ended_at: string;
  /** Files the activity generated (for a derived run: its data objects). */
  outputs: InputFile[];
  recorded_at: string;
  /** The authenticated caller (IAM principal) when the record came through the API. */
  caller?: string;
}
