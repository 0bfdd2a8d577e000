import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The events/ folder: the contract shipped with the project. */
export const eventsDir = fileURLToPath(new URL('../../../events/', import.meta.url));

export function schemaPath(slug: string): string {
  return join(eventsDir, 'schemas', `${slug}.schema.json`);
}

export function samplePath(slug: string): string {
  return join(eventsDir, 'samples', `${slug}.json`);
}

export function loadJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}
