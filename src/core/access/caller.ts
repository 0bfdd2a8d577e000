/**
 * Who is calling: a person signed in with the facility's OIDC identity (claims below), a machine
 * authenticated by IAM (a SigV4-signed request to an AWS_IAM function URL), or nobody.
 *
 * Token claims (docs/access.md, docs/adr/0008): besides the standard `iss`, `aud`, `exp`, `sub`,
 *
 * | claim | type | meaning |
 * | --- | --- | --- |
 * | `preferred_username` | string | the name shown in audit records (else `sub`) |
 * | `proposals` | string[] | proposals the person is a member of (`ihch123`; compared case-insensitively) |
 * | `beamlines` | string[] | beamlines the person is staff of (`id21`) |
 * | `roles` | string[] | `archive-admin` makes the person an archive administrator |
 *
 * Pure: no I/O, no environment.
 */
import { InvalidInputError } from '../errors.js';

export const CallerKind = {
  Person: 'person',
  Service: 'service',
  Anonymous: 'anonymous',
} as const;
export type CallerKind = (typeof CallerKind)[keyof typeof CallerKind];

/** The role claim value that makes a person an archive administrator. */
export const ADMIN_ROLE = 'archive-admin';

/** The claims this archive reads from an access token (after the signature, issuer, audience and expiry are verified). */
export const Claim = {
  Subject: 'sub',
  Name: 'preferred_username',
  Proposals: 'proposals',
  Beamlines: 'beamlines',
  Roles: 'roles',
} as const;

export interface Caller {
  kind: CallerKind;
  /** Stable id, written into audit records and export ownership: `oidc:<sub>@<issuer>`, `iam:<arn>`, `anonymous`. */
  id: string;
  /** A readable name (preferred_username, the IAM ARN). */
  name: string;
  /** Proposals the caller is a member of, lower case. */
  proposals: readonly string[];
  /** Beamlines the caller is staff of, lower case. */
  beamlines: readonly string[];
  admin: boolean;
}

export const ANONYMOUS: Caller = Object.freeze({
  kind: CallerKind.Anonymous,
  id: 'anonymous',
  name: 'anonymous',
  proposals: [],
  beamlines: [],
  admin: false,
});

function stringList(claims: Record<string, unknown>, name: string): string[] {
  const value = claims[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InvalidInputError(`token claim ${name} must be an array of strings`);
  }
  return [...new Set((value as string[]).map((v) => v.trim().toLowerCase()).filter(Boolean))];
}

/** The caller named by verified token claims. */
export function callerFromClaims(claims: Record<string, unknown>, issuer: string): Caller {
  const sub = claims[Claim.Subject];
  if (typeof sub !== 'string' || sub === '') throw new InvalidInputError('token has no sub claim');
  const name = typeof claims[Claim.Name] === 'string' && claims[Claim.Name] !== '' ? (claims[Claim.Name] as string) : sub;
  return {
    kind: CallerKind.Person,
    id: `oidc:${sub}@${issuer}`,
    name,
    proposals: stringList(claims, Claim.Proposals),
    beamlines: stringList(claims, Claim.Beamlines),
    admin: stringList(claims, Claim.Roles).includes(ADMIN_ROLE),
  };
}

/**
 * What an IAM principal may do in the archive: IAM proves who a machine is, this mapping (a
 * deployment setting, `IAM_CALLERS`, docs/access.md) says what it is. A principal not in it is
 * authenticated but has no rights beyond public data: holding `lambda:InvokeFunctionUrl` is no
 * longer an administrator grant (an operator role and a bridge role differ).
 */
export interface IamCallerGrant {
  /** A role or user ARN (`arn:aws:iam::<account>:role/<name>`); a role's sessions match it, paths are ignored. */
  principal: string;
  /** Proposals the machine reads (and exports), like a member. */
  proposals?: string[];
  /** Beamlines the machine is staff of (reads and manages their datasets). */
  beamlines?: string[];
  /** `archive-admin`: everything. */
  roles?: string[];
}

/**
 * The identity of an IAM principal, comparable across its forms: an assumed-role session
 * (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`) and its role (`arn:aws:iam::<acct>:role/<path>/<role>`)
 * are both `<partition>:<acct>:role/<role>`; a user `<partition>:<acct>:user/<name>`. Undefined when not an IAM ARN.
 */
export function iamPrincipalKey(arn: string): string | undefined {
  const assumed = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[^/]+$/.exec(arn);
  if (assumed) return `${assumed[1]}:${assumed[2]}:role/${assumed[3]}`;
  const iam = /^arn:([\w-]+):iam::(\d{12}):(role|user)\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]+)$/.exec(arn);
  return iam ? `${iam[1]}:${iam[2]}:${iam[3]}/${iam[4]}` : undefined;
}

/** Reads and checks the mapping (JSON, from IAM_CALLERS): throws with the faulty entry named. */
export function parseIamCallerGrants(json: string | undefined): IamCallerGrant[] {
  if (json === undefined || json.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new Error(
      'IAM_CALLERS must be JSON: [{"principal": "<role or user ARN>", "roles"?: [...], "beamlines"?: [...], "proposals"?: [...]}]',
      { cause: error },
    );
  }
  if (!Array.isArray(value)) throw new Error('IAM_CALLERS must be a JSON array of {principal, roles?, beamlines?, proposals?}');
  return value.map((entry: unknown, i) => {
    const e = entry as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || typeof e.principal !== 'string' || !iamPrincipalKey(e.principal)) {
      throw new Error(`IAM_CALLERS[${i}]: principal must be an IAM role or user ARN, got ${JSON.stringify(e?.principal)}`);
    }
    const list = (name: string) => {
      if (e[name] === undefined) return undefined;
      if (!Array.isArray(e[name]) || (e[name] as unknown[]).some((v) => typeof v !== 'string'))
        throw new Error(`IAM_CALLERS[${i}].${name} must be an array of strings`);
      return e[name] as string[];
    };
    const [proposals, beamlines, roles] = [list('proposals'), list('beamlines'), list('roles')];
    return {
      principal: e.principal,
      ...(proposals ? { proposals } : {}),
      ...(beamlines ? { beamlines } : {}),
      ...(roles ? { roles } : {}),
    };
  });
}

/**
 * A machine authenticated by IAM (a SigV4-signed request to an AWS_IAM function URL), with the
 * rights its entry of `grants` gives it; without an entry, none (public data only).
 */
export function callerFromIam(userArn: string, grants: readonly IamCallerGrant[] = []): Caller {
  const key = iamPrincipalKey(userArn);
  const grant = key === undefined ? undefined : grants.find((g) => iamPrincipalKey(g.principal) === key);
  const norm = (list: string[] | undefined) => [...new Set((list ?? []).map((v) => v.trim().toLowerCase()).filter(Boolean))];
  return {
    kind: CallerKind.Service,
    id: `iam:${userArn}`,
    name: userArn,
    proposals: norm(grant?.proposals),
    beamlines: norm(grant?.beamlines),
    admin: norm(grant?.roles).includes(ADMIN_ROLE),
  };
}
