/**
 * The one authorisation policy of the archive (docs/access.md). Pure: the caller, the scope of what
 * is asked for and the time decide; every API handler asks here.
 *
 * - archive administrators (and IAM services): everything;
 * - beamline staff: read everything of their beamline, and manage it (open datasets, techniques,
 *   metadata, close);
 * - proposal members: read their proposal (datasets, scans, files, exports, lineage), request
 *   exports of it, save derived data from it; they do not change the archive's records;
 * - anyone, signed in or not: read a proposal's data once its embargo ended (the dataset's end date
 *   plus the embargo period, 3 years by default); an open dataset is never public.
 */
import { AccessDeniedError } from './errors.js';
import type { Caller } from './caller.js';

export const Action = {
  /** Datasets, metadata, scans, files, exports, lineage. */
  Read: 'read',
  /** Open a dataset, add techniques, write metadata, close. */
  Manage: 'manage',
  /** Anything else an administrator does (audit of every proposal, re-archive). */
  Administer: 'administer',
} as const;
export type Action = (typeof Action)[keyof typeof Action];

/** What a decision is about: a proposal's data at a beamline, public from a date (or not yet). */
export interface AccessScope {
  proposal: string;
  beamline: string;
  /** ISO time the embargo ends; undefined: not public (e.g. a dataset still open). */
  publicFrom?: string | undefined;
}

export const DEFAULT_EMBARGO_YEARS = 3;

export interface Decision {
  allowed: boolean;
  /** Why, in words (logged and sent with a refusal). */
  reason: string;
}

const norm = (s: string) => s.trim().toLowerCase();

/** The end of the embargo of data whose dataset ended at `end` (ISO), `years` later; undefined without an end. */
export function embargoEnd(end: string | undefined, years = DEFAULT_EMBARGO_YEARS): string | undefined {
  if (!end) return undefined;
  const date = new Date(end);
  if (Number.isNaN(date.getTime())) return undefined;
  date.setUTCFullYear(date.getUTCFullYear() + years);
  return date.toISOString();
}

export function isMember(caller: Caller, proposal: string): boolean {
  return caller.proposals.includes(norm(proposal));
}

export function isStaff(caller: Caller, beamline: string): boolean {
  return caller.beamlines.includes(norm(beamline));
}

export function isPublic(scope: AccessScope, now: Date): boolean {
  return scope.publicFrom !== undefined && scope.publicFrom <= now.toISOString();
}

export function decide(caller: Caller, action: Action, scope: AccessScope | undefined, now: Date): Decision {
  if (caller.admin) return { allowed: true, reason: `${caller.name} is an archive administrator` };
  if (action === Action.Administer || scope === undefined) return { allowed: false, reason: 'only archive administrators may do this' };
  const what = `proposal ${scope.proposal} at beamline ${scope.beamline}`;
  if (isStaff(caller, scope.beamline)) return { allowed: true, reason: `${caller.name} is staff of beamline ${scope.beamline}` };
  if (action === Action.Manage)
    return { allowed: false, reason: `only staff of beamline ${scope.beamline} and administrators may change ${what}` };
  if (isMember(caller, scope.proposal)) return { allowed: true, reason: `${caller.name} is a member of proposal ${scope.proposal}` };
  if (isPublic(scope, now)) return { allowed: true, reason: `the embargo of ${what} ended ${scope.publicFrom}` };
  return {
    allowed: false,
    reason: `${caller.name} may not read ${what}: not a member, not staff of the beamline${scope.publicFrom ? `, embargoed until ${scope.publicFrom}` : ', not public'}`,
  };
}

export function allows(caller: Caller, action: Action, scope: AccessScope | undefined, now: Date): boolean {
  return decide(caller, action, scope, now).allowed;
}

/** Throws AccessDeniedError (HTTP 401/403 at the edge) unless allowed. */
export function authorize(caller: Caller, action: Action, scope: AccessScope | undefined, now: Date): void {
  const decision = decide(caller, action, scope, now);
  if (!decision.allowed) throw new AccessDeniedError(decision.reason, { proposal: scope?.proposal, beamline: scope?.beamline });
}

/** An export: its requester, and the scopes of the runs it was made from. */
export interface ExportAccess {
  requester?: string | undefined;
  runs: (AccessScope | undefined)[];
}

/** The requester sees their export; others when they may read every run it was made from. */
export function canReadExport(caller: Caller, access: ExportAccess, now: Date): boolean {
  if (caller.admin) return true;
  if (access.requester !== undefined && access.requester === caller.id) return true;
  return access.runs.length > 0 && access.runs.every((scope) => allows(caller, Action.Read, scope, now));
}

/** How a caller may read a proposal as a whole (the portal's proposal view, dataset-api `GET /proposals/<p>`). */
export type ProposalAccess = 'administrator' | 'member' | 'staff';

/**
 * Whether the caller may read a proposal as a whole, in words: administrators and members read all
 * of it, beamline staff its datasets at their beamlines; anyone else only its datasets whose embargo
 * ended (what `decide` allows dataset by dataset), which is no access to the proposal.
 */
export function decideProposal(caller: Caller, proposal: string): Decision & { access?: ProposalAccess } {
  if (caller.admin) return { allowed: true, access: 'administrator', reason: `${caller.name} is an archive administrator` };
  if (isMember(caller, proposal)) return { allowed: true, access: 'member', reason: `${caller.name} is a member of proposal ${proposal}` };
  if (caller.beamlines.length > 0) {
    return {
      allowed: true,
      access: 'staff',
      reason: `${caller.name} is staff of beamline ${caller.beamlines.join(', ')}: the datasets of proposal ${proposal} at that beamline`,
    };
  }
  return {
    allowed: false,
    reason: `You have no access to proposal ${proposal}: ${caller.name} is not a member of it, nor beamline staff, nor an administrator (only its datasets whose embargo ended are public)`,
  };
}

/** Throws AccessDeniedError (HTTP 401/403 at the edge) unless the caller may read the proposal; else how. */
export function authorizeProposal(caller: Caller, proposal: string): { access: ProposalAccess; reason: string } {
  const decision = decideProposal(caller, proposal);
  if (!decision.allowed || !decision.access) throw new AccessDeniedError(decision.reason, { proposal });
  return { access: decision.access, reason: decision.reason };
}
