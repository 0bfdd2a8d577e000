/** Validation of the bridge's Bluesky options (--bluesky-stream, --bluesky-from, --bluesky-defaults). */
import type { BlueskyBridgeOptions } from './bluesky-bridge.js';

const DEFAULT_KEYS = ['proposal', 'session', 'collection', 'dataset'] as const;

/** Parses the options; appends every problem to `problems`; undefined when no stream is configured. */
export function parseBlueskyOptions(
  stream: string | undefined,
  from: string | undefined,
  defaults: string | undefined,
  problems: string[],
): BlueskyBridgeOptions | undefined {
  if (!stream) {
    if (from !== undefined || defaults !== undefined) problems.push('--bluesky-from and --bluesky-defaults need --bluesky-stream');
    return undefined;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f]/.test(stream) || stream.length > 256)
    problems.push(`--bluesky-stream must be a Redis key without spaces, got ${JSON.stringify(stream)}`);
  if (from !== undefined && !/^(0|\d+-\d+)$/.test(from))
    problems.push(`--bluesky-from must be 0 or a stream id like 1700000000000-0, got ${JSON.stringify(from)}`);
  const out: BlueskyBridgeOptions = { stream, ...(from !== undefined ? { from } : {}) };
  for (const part of (defaults ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1).trim();
    if (eq <= 0 || !(DEFAULT_KEYS as readonly string[]).includes(key) || !value) {
      problems.push(`--bluesky-defaults: ${JSON.stringify(part)} is not one of ${DEFAULT_KEYS.map((k) => `${k}=VALUE`).join(', ')}`);
      continue;
    }
    out[key as (typeof DEFAULT_KEYS)[number]] = value;
  }
  return out;
}
