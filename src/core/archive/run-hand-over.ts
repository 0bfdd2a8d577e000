/**
 * A run too big for the function that received its RunStop goes to the task engine (docs/big-scans.md):
 * the task is started once per run (the hand-over claim on the run record), and the claim holds while
 * the task may run.
 */
import { DetailType } from '../contract/detail-types.js';
import { NotReadyError } from '../errors.js';
import { CapacityError, type CapacityConfig } from './capacity.js';
import type { HandOverStore, RunCatalogue, RunEngine, TaskEngine } from './ports.js';

/** A run handed to the task engine: where it runs, why, and whether an earlier delivery already started it. */
export interface HandOver {
  engine: RunEngine;
  reason: string;
  already: boolean;
}

/** What the hand-over needs of the archive use case's dependencies (archive-run.ts, ArchiveRunDeps). */
export interface HandOverDeps {
  catalogue: RunCatalogue;
  now: () => Date;
  /** The task engine a run too big for this function is handed to, and the record of hand-overs (Lambda only). */
  taskEngine?: { engine: TaskEngine; handOvers: HandOverStore };
  /** The limits (the task's longest run sets how long the hand-over holds). */
  capacity?: { config: CapacityConfig };
  /** A re-archive's request, carried to the task. */
  rearchive?: { reason: string; requestedBy: string };
  log?: (message: string, context: Record<string, unknown>) => void;
}

/**
 * Starts the task that writes a run too big for this function, once per run: the claim on the run
 * record makes a redelivered RunStop acknowledge instead of starting a second task. The task loads
 * the RunStop from the catalogue, so it must be recorded there first.
 */
export async function handOver(runUid: string, reason: string, deps: HandOverDeps): Promise<{ status: 'handed-over'; detail: HandOver }> {
  if (!deps.taskEngine)
    throw new CapacityError(`run ${runUid} cannot be archived here and no task engine is configured: ${reason}`, { runUid });
  const { engine, handOvers } = deps.taskEngine;
  const docs = await deps.catalogue.listDocuments(runUid);
  if (!docs.some((d) => d.detailType === DetailType.RunStop)) {
    throw new NotReadyError(`run ${runUid} goes to the task engine, which reads its RunStop from the catalogue: not recorded yet`, {
      runUid,
    });
  }
  const claim = await handOvers.claimHandOver(runUid, deps.now(), deps.rearchive ? { rearchive: true } : {});
  if (claim === 'taken') {
    const record = await deps.catalogue.getRun(runUid);
    deps.log?.('run already handed over to the task engine', {
      runUid,
      task: record?.engine?.ref,
      attempt: record?.handOver?.attempt,
      expiresAt: record?.handOver?.expiresAt,
    });
    return { status: 'handed-over', detail: { engine: record?.engine ?? { kind: 'task', ref: 'pending' }, reason, already: true } };
  }
  let ref: string;
  try {
    // The job carries its attempt (RunTask's client token is per attempt) and a re-archive's request.
    ({ ref } = await engine.start({
      kind: 'archive-run',
      runUid,
      attempt: claim.attempt,
      ...(deps.rearchive ? { rearchive: deps.rearchive } : {}),
    }));
  } catch (error) {
    await handOvers.releaseHandOver(runUid);
    throw error;
  }
  const taskEngine: RunEngine = { kind: 'task', ref };
  // The claim holds while the task may run (its longest run and a margin); after that the watchdog treats it as gone.
  await handOvers.recordHandOver(runUid, taskEngine, reason, handOverLeaseMs(deps.capacity?.config));
  deps.log?.('run handed over to the task engine', {
    runUid,
    task: ref,
    attempt: claim.attempt,
    reason,
    rearchive: deps.rearchive !== undefined,
  });
  return { status: 'handed-over', detail: { engine: taskEngine, reason, already: false } };
}

/** Slack on top of the task's longest run before its hand-over counts as expired (start-up, retries, the last upload). */
export const HANDOVER_LEASE_SLACK_MS = 15 * 60 * 1000;

/** How long a hand-over holds: the task's TASK_MAX_SECONDS and the slack (1 h when no limit is configured). */
export function handOverLeaseMs(config: CapacityConfig | undefined): number {
  return (config?.task?.maxSeconds ?? 3600) * 1000 + HANDOVER_LEASE_SLACK_MS;
}
