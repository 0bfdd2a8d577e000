/**
 * A RunStart comes from exactly one origin (the schema's oneOf): a BLISS scan (`bliss`) or a
 * Bluesky run (`bluesky`). These helpers read what every consumer needs without caring which.
 */
import type { RunStart } from '../contract/generated-types.js';

export const RunOrigin = {
  Bliss: 'bliss',
  Bluesky: 'bluesky',
} as const;
export type RunOrigin = (typeof RunOrigin)[keyof typeof RunOrigin];

export function runOriginOf(start: RunStart): RunOrigin {
  return start.bluesky ? RunOrigin.Bluesky : RunOrigin.Bliss;
}

/** The run's title: BLISS scan title, or the Bluesky title the bridge derived (md title, plan, motors, points). */
export function runTitleOf(start: RunStart): string {
  return start.bliss?.title ?? start.bluesky?.title ?? start.plan_name;
}

/** Where the run was read from: the BLISS scan key, or `<redis stream>#<entry id of the start document>`. */
export function runSourceKeyOf(start: RunStart): string {
  if (start.bliss) return start.bliss.scan_key;
  if (start.bluesky) return `${start.bluesky.stream}#${start.bluesky.start_entry}`;
  return start.uid;
}
