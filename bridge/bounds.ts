/**
 * Bounds at the edge: what the scan writer could never take is refused by the bridge at once, with
 * Run Failed naming the stream, the index, the value and the limit, instead of passing through and
 * failing at the writer (or, worse, becoming a file of terabytes from one hostile count in Redis).
 *
 * - dtypes and byte orders are NOT refused here (issue 14 item 5, one bad channel never loses a
 *   scan): a stream of a dtype the writer cannot hold (`<f2`, `>f8`, complex) is carried like any
 *   other; the scan writer refuses that channel alone, lists it with the reason in the file
 *   (`notes/refused_channels`) and the run record, and archives the others. `checkNumericStream`
 *   says so (the bridge logs it) with the writer's own definition (parseElementType);
 * - a dimension of size 0 (declared, or in an entry's point shape): points of no data, whose counts
 *   no staged byte backs (`len` 10^8 of shape [0] made 101 staged objects from one entry);
 * - points claimed but never published (a seal beyond the points received, an entry id far ahead):
 *   a gap larger than `maxGapPoints`, or any index beyond `maxStreamPoints` (a 7-byte JSON entry
 *   sealed at 5·10^7, a numeric seal of 10^12).
 */
import { describeElementTypes, parseElementType } from '../src/core/nexus/dtypes.js';
import { RunFailure } from './errors.js';

export interface BridgeLimits {
  /** Points missing from Redis in one range (trimmed entries, a seal beyond the points received) above which the run fails. */
  maxGapPoints: number;
  /** Points of one stream (its seal, an entry's last index) above which the run fails. */
  maxStreamPoints: number;
}

export const DEFAULT_LIMITS: BridgeLimits = { maxGapPoints: 1_000_000, maxStreamPoints: 100_000_000 };

/** The reason of every refusal at the edge (Run Failed). */
export const REFUSED = 'stream refused by the bridge: the scan file could never hold it';

const refuse = (stream: string, message: string, index?: number): RunFailure =>
  new RunFailure(REFUSED, [{ stream, ...(index !== undefined ? { index } : {}), message }]);

/**
 * A numeric stream's dtype (as published) and declared shape, when the stream is set up. A size-0
 * dimension fails the run; a dtype the scan file cannot hold does not: the reason the writer will
 * refuse that channel (alone) is returned, for the bridge's log.
 */
export function checkNumericStream(stream: string, dtype: string, shape: readonly number[]): string | undefined {
  if (shape.includes(0))
    throw refuse(
      stream,
      `stream ${stream}: declared point shape [${shape.join(', ')}] has a dimension of size 0; points must hold at least one value`,
    );
  try {
    parseElementType(dtype, { stream });
    return undefined;
  } catch (error) {
    return `stream ${stream}: ${(error as Error).message}; the scan file holds ${describeElementTypes()}`;
  }
}

/** An entry's point shape (free dimensions). */
export function checkPointShape(stream: string, index: number, shape: readonly number[]): void {
  if (shape.includes(0))
    throw refuse(
      stream,
      `stream ${stream}: the entry at index ${index} has point shape [${shape.join(', ')}], a dimension of size 0; points must hold at least one value`,
      index,
    );
}

/** Points [expected, upTo) are missing: refused above the gap limit. `what` says where the count comes from. */
export function checkGap(stream: string, expected: number, upTo: number, what: string, limits: BridgeLimits): void {
  const gap = upTo - expected;
  if (gap > limits.maxGapPoints) {
    throw refuse(
      stream,
      `stream ${stream}: ${what} leaves points [${expected}, ${upTo}) missing, a gap of ${gap} points, above the limit of ${limits.maxGapPoints} (--max-gap-points)`,
      expected,
    );
  }
}

/** A stream's point count (a seal, or an entry's last index + 1): refused above the stream limit. */
export function checkStreamPoints(stream: string, points: number, what: string, limits: BridgeLimits, index: number): void {
  if (points > limits.maxStreamPoints) {
    throw refuse(
      stream,
      `stream ${stream}: ${what} claims ${points} points, above the limit of ${limits.maxStreamPoints} (--max-stream-points)`,
      index,
    );
  }
}
