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

export const ANONYMOUS: Caller = Object.freeze({ kind: CallerKind.Anonymous, id: 'anonymous', name: 'anonymous', proposals: [], beamlines: [], admin: false });

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
 * A machine authenticated by IAM. Whoever IAM lets invoke the AWS_IAM function URLs is a facility
 * service (operators' roles, beamline control software, the CI): it acts as an administrator.
 * The IAM policy granting `lambda:InvokeFunctionUrl` is that grant (docs/access.md).
 */
export function callerFromIam(userArn: string): Caller {
  return { kind: CallerKind.Service, id: `iam:${userArn}`, name: userArn, proposals: [], beamlines: [], admin: true };
}
