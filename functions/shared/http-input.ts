/**
 * What the function-URL APIs share when reading their configuration. (Path parameters are decoded
 * by the router, malformed encoding answered 400 there: functions/shared/http-router.ts.)
 */
import { DEFAULT_EMBARGO_YEARS } from '../../src/core/access/policy.js';

/** EMBARGO_YEARS (a non-negative integer), default 3. */
export function embargoYearsFromEnv(env: NodeJS.ProcessEnv): number {
  const value = env.EMBARGO_YEARS?.trim();
  if (value === undefined || value === '') return DEFAULT_EMBARGO_YEARS;
  if (!/^\d+$/.test(value)) throw new Error(`EMBARGO_YEARS must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
