/**
 * Staged data lives until its run is terminal (docs/operations.md, "Staged data"): when a run ends,
 * its staged objects get the tag `run-state=<archived|failed|stalled>`, and the bucket's lifecycle
 * rules expire tagged objects after a time per state (longer for FAILED and STALLED, so they can
 * be retried). Untagged staged objects only expire after a long safety time.
 */
import type { RunState } from './ports.js';

/** The tag on staged objects of a terminal run (the lifecycle rules of infra/stacks/storage-stack.ts filter on it). */
export const RUN_STATE_TAG = 'run-state';
export type TerminalTagValue = 'archived' | 'failed' | 'stalled';

export function terminalTagValue(state: RunState): TerminalTagValue | undefined {
  switch (state) {
    case 'ARCHIVED':
      return 'archived';
    case 'FAILED':
      return 'failed';
    case 'STALLED':
      return 'stalled';
    default:
      return undefined;
  }
}

/** A run whose staged objects are tagged: its uid and its data policy's beamline (its staging folder, `staging/<beamline>/<run>/`). */
export interface StagedRun {
  runUid: string;
  /** Undefined when the run has no recorded RunStart: its staging folder is then unknown and nothing is tagged. */
  beamline: string | undefined;
}

/** Tags every staged object of a run (adapter: src/adapters/s3-staging-tagger.ts). */
export interface StagingTagger {
  /** Sets `run-state=<value>` on every object under `staging/<beamline>/<run>/`; returns how many. */
  tagRun(run: { runUid: string; beamline: string }, value: TerminalTagValue): Promise<number>;
}

/**
 * Tags a run's staged objects, never failing the caller: an untagged object only lives until the
 * safety expiry, which is the situation before this step. Returns the count, or undefined on failure.
 */
export async function tagStagedRun(
  tagger: StagingTagger | undefined,
  run: StagedRun,
  state: RunState,
  log?: (message: string, context: Record<string, unknown>) => void,
): Promise<number | undefined> {
  const value = terminalTagValue(state);
  const { runUid, beamline } = run;
  if (!tagger || !value) return undefined;
  if (beamline === undefined) {
    log?.(
      'staged objects not tagged: the run has no recorded data policy, so its staging folder (staging/<beamline>/<run>/) is unknown; they expire after the safety time only',
      { runUid, tag: `${RUN_STATE_TAG}=${value}` },
    );
    return undefined;
  }
  try {
    const tagged = await tagger.tagRun({ runUid, beamline }, value);
    log?.('staged objects tagged', { runUid, tag: `${RUN_STATE_TAG}=${value}`, objects: tagged });
    return tagged;
  } catch (error) {
    log?.('staged objects not tagged: they expire after the safety time only', {
      runUid,
      tag: `${RUN_STATE_TAG}=${value}`,
      error: String(error),
    });
    return undefined;
  }
}
