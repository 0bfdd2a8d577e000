// The authorisation policy (src/core/access/policy.ts), table-tested: every kind of caller × action × scope.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANONYMOUS,
  callerFromClaims,
  callerFromIam,
  iamPrincipalKey,
  parseIamCallerGrants,
  type Caller,
} from '../../src/core/access/caller.js';
import {
  Action,
  authorizeProposal,
  canReadExport,
  decide,
  decideProposal,
  embargoEnd,
  type AccessScope,
} from '../../src/core/access/policy.js';
import { archiveKeyScope, datasetScope, runScope } from '../../src/core/access/scopes.js';

const ISS = 'http://issuer';
const alice = callerFromClaims({ sub: 'a', preferred_username: 'alice', proposals: ['P1'] }, ISS);
const bob = callerFromClaims({ sub: 'b', preferred_username: 'bob', proposals: ['p2'] }, ISS);
const staff = callerFromClaims({ sub: 's', preferred_username: 'staff', beamlines: ['ID21'] }, ISS);
const admin = callerFromClaims({ sub: 'r', preferred_username: 'admin', roles: ['archive-admin', 'other'] }, ISS);
// IAM callers get their rights from the IAM_CALLERS mapping (review defect: every IAM caller used to be an administrator).
const GRANTS = parseIamCallerGrants(
  JSON.stringify([
    { principal: 'arn:aws:iam::123456789012:role/ops/operators', roles: ['archive-admin'] },
    { principal: 'arn:aws:iam::123456789012:role/bridge-id21', beamlines: ['ID21'] },
  ]),
);
const service = callerFromIam('arn:aws:sts::123456789012:assumed-role/operators/cli-session', GRANTS);
const bridgeRole = callerFromIam('arn:aws:sts::123456789012:assumed-role/bridge-id21/host', GRANTS);
const unmapped = callerFromIam('arn:aws:iam::123456789012:role/something-else', GRANTS);

const NOW = new Date('2026-12-06T12:00:00Z');
const p1 = { proposal: 'p1', beamline: 'id21' } satisfies AccessScope; // open or unfinished: never public
const p2 = { proposal: 'p2', beamline: 'id00' } satisfies AccessScope;
const p2Old: AccessScope = { ...p2, publicFrom: '2025-01-01T00:00:00.000Z' }; // embargo over
const p2Recent: AccessScope = { ...p2, publicFrom: '2027-01-01T00:00:00.000Z' }; // still embargoed

type Row = [string, Caller, Action, AccessScope | undefined, boolean];
const TABLE: Row[] = [
  ['member reads own proposal', alice, Action.Read, p1, true],
  ['member reads other proposal', alice, Action.Read, p2, false],
  ['member cannot manage own proposal', alice, Action.Manage, p1, false],
  ['member reads public proposal', alice, Action.Read, p2Old, true],
  ['member cannot read embargoed proposal', alice, Action.Read, p2Recent, false],
  ['bob reads p2', bob, Action.Read, p2, true],
  ['bob reads p1', bob, Action.Read, p1, false],
  ['staff reads own beamline', staff, Action.Read, p1, true],
  ['staff manages own beamline', staff, Action.Manage, p1, true],
  ['staff cannot read other beamline', staff, Action.Read, p2, false],
  ['staff cannot manage other beamline', staff, Action.Manage, p2Old, false],
  ['staff cannot administer', staff, Action.Administer, p1, false],
  ['admin reads anything', admin, Action.Read, p2Recent, true],
  ['admin manages anything', admin, Action.Manage, p2, true],
  ['admin administers', admin, Action.Administer, undefined, true],
  ['mapped admin service (IAM) manages anything', service, Action.Manage, p2, true],
  ['bridge role (IAM, staff of id21) reads id21', bridgeRole, Action.Read, p1, true],
  ['bridge role (IAM) cannot read another beamline', bridgeRole, Action.Read, p2, false],
  ['bridge role (IAM) cannot administer', bridgeRole, Action.Administer, undefined, false],
  ['unmapped IAM principal cannot manage', unmapped, Action.Manage, p2, false],
  ['unmapped IAM principal cannot read embargoed data', unmapped, Action.Read, p1, false],
  ['unmapped IAM principal reads public data', unmapped, Action.Read, p2Old, true],
  ['anonymous reads public', ANONYMOUS, Action.Read, p2Old, true],
  ['anonymous cannot read embargoed', ANONYMOUS, Action.Read, p2Recent, false],
  ['anonymous cannot read unpublished', ANONYMOUS, Action.Read, p1, false],
  ['anonymous cannot manage public', ANONYMOUS, Action.Manage, p2Old, false],
  ['no scope: only admins', alice, Action.Read, undefined, false],
];

describe('access policy', () => {
  for (const [name, caller, action, scope, expected] of TABLE) {
    it(`${name} → ${expected ? 'allowed' : 'denied'}`, () => {
      const decision = decide(caller, action, scope, NOW);
      assert.equal(decision.allowed, expected, decision.reason);
      assert.ok(decision.reason.length > 0);
    });
  }

  it('claims: proposals and beamlines compared case-insensitively, admin only from the archive-admin role', () => {
    assert.deepEqual(alice.proposals, ['p1']);
    assert.deepEqual(staff.beamlines, ['id21']);
    assert.equal(callerFromClaims({ sub: 'x', roles: ['admin'] }, ISS).admin, false);
    assert.throws(() => callerFromClaims({ sub: 'x', proposals: 'p1' }, ISS), /proposals must be an array of strings/);
    assert.throws(() => callerFromClaims({ proposals: ['p1'] }, ISS), /no sub/);
    assert.equal(alice.id, 'oidc:a@http://issuer');
  });

  it('embargo: the end date plus the period; an open dataset is never public', () => {
    assert.equal(embargoEnd('2023-05-01T10:00:00.000Z'), '2026-05-01T10:00:00.000Z');
    assert.equal(embargoEnd('2023-05-01T10:00:00.000Z', 5), '2028-05-01T10:00:00.000Z');
    assert.equal(embargoEnd(undefined), undefined);
    const closed = datasetScope({ ref: { proposal: 'p2', beamline: 'id00' }, endDate: '2023-01-01T00:00:00.000Z' }, 3);
    assert.equal(decide(ANONYMOUS, Action.Read, closed, NOW).allowed, true);
    assert.equal(
      decide(
        ANONYMOUS,
        Action.Read,
        datasetScope({ ref: { proposal: 'p2', beamline: 'id00' }, endDate: '2023-01-01T00:00:00.000Z' }, 4),
        NOW,
      ).allowed,
      false,
    );
    assert.equal(decide(ANONYMOUS, Action.Read, datasetScope({ ref: { proposal: 'p2', beamline: 'id00' } }, 0), NOW).allowed, false);
  });

  it('scopes of runs and archive keys', () => {
    assert.deepEqual(runScope({ dataPolicy: { proposal: 'p1', beamline: 'id21' }, startTime: '2020-01-01T00:00:00.000Z' }, 3), {
      proposal: 'p1',
      beamline: 'id21',
      publicFrom: '2023-01-01T00:00:00.000Z',
    });
    assert.equal(runScope({}, 3), undefined);
    assert.deepEqual(archiveKeyScope('archive/p1/id21/20261122/s/s_0001/s_0001.h5'), { proposal: 'p1', beamline: 'id21' });
    assert.equal(archiveKeyScope('exports/exp-1/a.csv'), undefined);
  });

  it('exports: the requester, admins, or whoever may read every run', () => {
    const access = { requester: alice.id, runs: [p1, p2] };
    assert.equal(canReadExport(alice, access, NOW), true);
    assert.equal(canReadExport(bob, access, NOW), false, 'bob reads p2 but not p1');
    assert.equal(canReadExport(admin, access, NOW), true);
    assert.equal(canReadExport(bob, { requester: alice.id, runs: [p2] }, NOW), true, 'a member of the proposal sees its exports');
    assert.equal(canReadExport(bob, { requester: alice.id, runs: [] }, NOW), false);
    assert.equal(canReadExport(bob, { requester: alice.id, runs: [undefined] }, NOW), false);
  });

  it('a proposal as a whole (GET /proposals/<p>): administrators, members, beamline staff; anyone else is told why not', () => {
    assert.equal(decideProposal(admin, 'p2').access, 'administrator');
    assert.equal(decideProposal(service, 'p2').access, 'administrator');
    assert.equal(decideProposal(alice, 'P1').access, 'member', 'proposal names compared case-insensitively');
    assert.equal(decideProposal(staff, 'p2').access, 'staff');
    assert.match(decideProposal(staff, 'p2').reason, /staff of beamline id21/);
    const refused = decideProposal(bob, 'p1');
    assert.equal(refused.allowed, false);
    assert.equal(refused.access, undefined);
    assert.match(refused.reason, /^You have no access to proposal p1: bob is not a member of it/);
    assert.equal(decideProposal(ANONYMOUS, 'p1').allowed, false);
    assert.throws(() => authorizeProposal(bob, 'p1'), { name: 'AccessDeniedError', message: /You have no access to proposal p1/ });
    assert.deepEqual(authorizeProposal(alice, 'p1'), { access: 'member', reason: 'alice is a member of proposal p1' });
  });
});

describe('IAM callers: the IAM_CALLERS mapping', () => {
  it('matches a role by account and name: its sessions and its path-qualified ARN alike', () => {
    assert.equal(iamPrincipalKey('arn:aws:sts::123456789012:assumed-role/operators/alice@site'), 'aws:123456789012:role/operators');
    assert.equal(iamPrincipalKey('arn:aws:iam::123456789012:role/ops/operators'), 'aws:123456789012:role/operators');
    assert.equal(iamPrincipalKey('arn:aws:iam::123456789012:user/ci'), 'aws:123456789012:user/ci');
    assert.equal(iamPrincipalKey('not-an-arn'), undefined);
    assert.equal(callerFromIam('arn:aws:sts::999999999999:assumed-role/operators/x', GRANTS).admin, false, 'same role name, other account');
    assert.deepEqual(
      [service.kind, service.admin, service.id],
      ['service', true, 'iam:arn:aws:sts::123456789012:assumed-role/operators/cli-session'],
    );
    assert.deepEqual([unmapped.admin, unmapped.beamlines, unmapped.proposals], [false, [], []]);
  });
  it('refuses a malformed mapping with the entry named', () => {
    assert.deepEqual(parseIamCallerGrants(undefined), []);
    assert.throws(() => parseIamCallerGrants('{'), /IAM_CALLERS must be JSON/);
    assert.throws(() => parseIamCallerGrants('{}'), /array/);
    assert.throws(() => parseIamCallerGrants('[{"principal":"*"}]'), /IAM_CALLERS\[0\]: principal must be an IAM role or user ARN/);
    assert.throws(
      () => parseIamCallerGrants('[{"principal":"arn:aws:iam::123456789012:role/x","roles":"archive-admin"}]'),
      /roles must be an array/,
    );
  });
});
