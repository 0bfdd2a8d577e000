/**
 * The audit trail: every write through the APIs (dataset open, technique, metadata, close; export
 * request; derived data saved, provenance recorded) records who did it and when, under the
 * proposal it concerns; queryable by proposal (dataset-api `GET /audit?proposal=`, CLI
 * `beamline-archive dataset audit`). Pure: the entry and its port; the adapter is
 * src/adapters/dynamodb-audit-log.ts.
 */
import type { Caller } from './caller.js';

export const AuditAction = {
  DatasetOpened: 'dataset.open',
  TechniqueAdded: 'dataset.technique',
  MetadataWritten: 'dataset.metadata',
  DatasetClosed: 'dataset.close',
  ExportRequested: 'export.request',
  DerivedRunSaved: 'analysis.save',
  ProvenanceRecorded: 'analysis.provenance',
} as const;
export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction];

/** Entries of writes whose proposal could not be told (derived data with no raw parent) are kept here. */
export const UNSCOPED_PROPOSAL = '_unscoped';

export interface AuditEntry {
  proposal: string;
  beamline?: string | undefined;
  /** ISO time. */
  at: string;
  /** Caller id (`oidc:…`, `iam:…`). */
  who: string;
  /** Readable name. */
  name: string;
  action: AuditAction;
  /** What was changed: a dataset id, an export id, an entity reference. */
  target: string;
  details?: Record<string, unknown>;
}

export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  list(proposal: string, options?: { limit?: number }): Promise<AuditEntry[]>;
}

export function auditEntry(
  caller: Caller,
  action: AuditAction,
  scope: { proposal: string; beamline?: string | undefined },
  target: string,
  now: Date,
  details?: Record<string, unknown>,
): AuditEntry {
  return {
    proposal: scope.proposal.trim().toLowerCase(),
    ...(scope.beamline ? { beamline: scope.beamline.trim().toLowerCase() } : {}),
    at: now.toISOString(),
    who: caller.id,
    name: caller.name,
    action,
    target,
    ...(details ? { details } : {}),
  };
}
