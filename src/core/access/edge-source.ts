/**
 * The edge's identity on the bus (issue 15 item 5, docs/access.md "The edge", docs/adr/0020): every
 * beamline's bridge has its own credential, and IAM lets that credential put events only with the
 * source `beamline-archive.bridge.<beamline>`. The source of a bridge event is therefore the one
 * thing about it the bus vouches for; this rule decides whether what the event says about its run
 * agrees with it. Pure: the functions (run-recorder, scan-writer, dataset-recorder) give it the
 * source, the beamline the event claims (a RunStart's data policy) and the beamline the catalogue
 * already holds for the run; they refuse what it refuses.
 */
import { EventSource } from '../contract/detail-types.js';
import { PermanentError, type ErrorContext } from '../errors.js';
import { BEAMLINE_NAME } from '../object-keys.js';

/** Every per-beamline bridge source starts with this (the bus rules match it as a prefix). */
export const BRIDGE_SOURCE_PREFIX = `${EventSource.Bridge}.`;

/** The beamline name pattern (src/core/object-keys.ts: staging keys use it too). */
export { BEAMLINE_NAME };

/** A beamline name as the edge uses it (lower case), or an error saying what is wrong with it. */
export function normaliseBeamline(beamline: string): string {
  const name = beamline.trim().toLowerCase();
  if (!BEAMLINE_NAME.test(name)) {
    throw new RangeError(
      `beamline ${JSON.stringify(beamline)} is not a beamline name: letters, digits, '-' and '_', starting with a letter or digit, at most 32 characters (e.g. id21)`,
    );
  }
  return name;
}

/** The event source of one beamline's bridge: `beamline-archive.bridge.<beamline>`. */
export function bridgeSourceOf(beamline: string): string {
  return `${BRIDGE_SOURCE_PREFIX}${normaliseBeamline(beamline)}`;
}

/** Whether a source belongs to the bridge family (the plain legacy source included): the sources this rule judges. */
export function isBridgeFamilySource(source: unknown): source is string {
  return typeof source === 'string' && source.startsWith(EventSource.Bridge);
}

/** The beamline a bridge source speaks for, or undefined when the source is not `beamline-archive.bridge.<beamline>`. */
export function beamlineOfSource(source: string): string | undefined {
  if (!source.startsWith(BRIDGE_SOURCE_PREFIX)) return undefined;
  const beamline = source.slice(BRIDGE_SOURCE_PREFIX.length);
  return BEAMLINE_NAME.test(beamline) ? beamline : undefined;
}

/** What the function knows about the run an event names. */
export interface RunBeamlines {
  /** The run the event names (for the reason). */
  runUid?: string | undefined;
  /** The beamline the event itself claims: a RunStart's data policy. */
  claimed?: string | undefined;
  /** The beamline the catalogue holds for the run (its recorded RunStart's data policy), when the run is known. */
  recorded?: string | undefined;
}

export type SourceDecision = { allowed: true; beamline: string } | { allowed: false; reason: string; beamline?: string | undefined };

/**
 * Accepts a bridge event only when its source names a beamline and every beamline known for its
 * run (claimed, recorded) is that beamline (compared without case). A document of a run the
 * catalogue does not know yet, that claims no beamline (a descriptor racing its RunStart), is
 * accepted on its source alone: the RunStart that creates the run is checked itself.
 */
export function decideBridgeSource(source: string, run: RunBeamlines = {}): SourceDecision {
  const what = run.runUid ? `run ${run.runUid}` : 'the run';
  if (source === EventSource.Bridge) {
    return {
      allowed: false,
      reason:
        `source ${source} names no beamline: bridges publish as ${BRIDGE_SOURCE_PREFIX}<beamline> with their beamline's credential ` +
        '(docs/access.md, "The edge"); upgrade this bridge and give it its beamline (--beamline) and that beamline\'s bridge role',
    };
  }
  const beamline = beamlineOfSource(source);
  if (!beamline) {
    return {
      allowed: false,
      reason: `source ${JSON.stringify(source.slice(0, 300))} is not a bridge source: expected ${BRIDGE_SOURCE_PREFIX}<beamline> with a beamline name like id21 (${BEAMLINE_NAME.source})`,
    };
  }
  for (const [known, origin] of [
    [run.claimed, 'its data policy names'],
    [run.recorded, 'the catalogue records it for'],
  ] as const) {
    if (known === undefined) continue;
    if (known.trim().toLowerCase() !== beamline) {
      return {
        allowed: false,
        beamline,
        reason:
          `source ${source} speaks for beamline ${beamline}, but ${what} belongs to beamline ${JSON.stringify(known.slice(0, 100))} (${origin} the run): ` +
          `a bridge publishes only its own beamline's runs. Refused as forged or misrouted; find which host holds the ${beamline} bridge credential and why it sent this (docs/access.md, "The edge")`,
      };
    }
  }
  return { allowed: true, beamline };
}

/**
 * A bridge event refused by decideBridgeSource. Permanent (retrying cannot change who sent it); the
 * functions park it in their dead-letter queue with the reason and never let it change the run it
 * names (no FAILED state for the victim run either).
 */
export class EventSourceRefusedError extends PermanentError {
  override name = 'EventSourceRefusedError';
  constructor(message: string, context: ErrorContext & { source: string }) {
    super(message, context);
  }
}
