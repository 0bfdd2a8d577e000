/** What the function-URL APIs share when reading a request: path segments, configuration. */
import { InvalidInputError } from '../../src/core/errors.js';
import { DEFAULT_EMBARGO_YEARS } from '../../src/core/access/policy.js';

/** A percent-encoded path segment decoded; malformed encoding (`%E0%A4%A`) is a 400, not a 500. */
export function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (error) {
    throw new InvalidInputError(`the path has malformed percent-encoding: ${JSON.stringify(segment.slice(0, 200))}`, {}, { cause: error });
  }
}

/** EMBARGO_YEARS (a non-negative integer), default 3. */
export function embargoYearsFromEnv(env: NodeJS.ProcessEnv): number {
  const value = env.EMBARGO_YEARS?.trim();
  if (value === undefined || value === '') return DEFAULT_EMBARGO_YEARS;
  if (!/^\d+$/.test(value)) throw new Error(`EMBARGO_YEARS must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
