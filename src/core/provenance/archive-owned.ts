/**
 * Entities the archive owns: it records their provenance itself when it writes them (scan and
 * master files under archive/, exports and their files under exports/). The analysis store can
 * neither record their provenance nor name them as outputs (issue 15: a pre-recorded provenance
 * made the archive's own write fail).
 */
import { parseEntityRef } from './model.js';

const OWNED_PREFIXES = ['archive/', 'exports/'];

/** Whether `entity` (`<kind>:<id>`) is the archive's own; `export:` entities always are. */
export function isArchiveOwned(entity: string): boolean {
  const ref = parseEntityRef(entity);
  if (ref.kind === 'export') return true;
  if (ref.kind !== 'file') return false;
  return isArchiveOwnedUri(ref.id);
}

/** `s3://<any bucket>/<key>` whose key, with empty and `.` segments dropped, starts with an owned prefix. */
export function isArchiveOwnedUri(uri: string): boolean {
  const match = /^s3:\/\/[^/]*\/(.*)$/i.exec(uri);
  if (!match) return false;
  const segments = match[1]!.split('/').filter((s) => s !== '' && s !== '.');
  const key = `${segments.join('/')}/`;
  return OWNED_PREFIXES.some((p) => key.toLowerCase().startsWith(p));
}
