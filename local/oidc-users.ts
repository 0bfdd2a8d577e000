/** The local issuer's users (its own module so the issuer and its authorization-code flow share it without an import cycle). */
export interface LocalUser {
  /** preferred_username; `sub` is `user-<name>`. */
  name: string;
  proposals?: string[];
  beamlines?: string[];
  roles?: string[];
}

/** The test users: alice (member of p1), bob (member of p2), staff (staff of beamline id21), admin (archive administrator). */
export const LOCAL_USERS: Record<string, LocalUser> = {
  alice: { name: 'alice', proposals: ['p1'] },
  bob: { name: 'bob', proposals: ['p2'] },
  staff: { name: 'staff', beamlines: ['id21'] },
  admin: { name: 'admin', roles: ['archive-admin'] },
};
