/**
 * The run catalogue's items in the one DynamoDB table (dynamodb-run-catalogue.ts): keys, the stored
 * shapes of the run and its hand-over claim, and the update expressions the catalogue builds.
 */
import type { ArchivedFile, DataPolicy } from '../core/contract/generated-types.js';
import { datasetKeyOf } from '../core/object-keys.js';
import { RunState, type HandOver, type RunEngine, type RunRecord } from '../core/archive/ports.js';

/** A hand-over claimed but never recorded (the function died before RunTask answered) may be taken again after this long. */
export const HANDOVER_CLAIM_STALE_MS = 10 * 60 * 1000;

export const runPk = (runUid: string) => `RUN#${runUid}`;
export const RUN_SK = 'RUN';
export const DOC_PREFIX = 'DOC#';
export const docSk = (detailType: string, docUid: string) => `${DOC_PREFIX}${detailType}#${docUid}`;
export const filePk = (key: string) => `FILE#${key}`;
export const FILE_SK = 'FILE';
/** Index of the runs by state (storage stack): partition `RUNSTATE#<state>`, sort key the run's `since` time. */
export const RUN_STATE_INDEX = 'gsi4';
export const runStatePk = (state: RunState) => `RUNSTATE#${state}`;

export interface UpdateParts {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
}

/** `DATASET#<p>#<b>#<s>#<c>#<d>` of a run's data policy, each name a segment (the dataset record's pk). */
export function datasetGsiPkOf(policy: DataPolicy): string {
  const k = datasetKeyOf(policy);
  return `DATASET#${k.proposal}#${k.beamline}#${k.session}#${k.collection}#${k.dataset}`;
}

/**
 * `SET #f = :f` for every field (names always aliased: DynamoDB reserves words such as `file`,
 * `state`, `name`), `#f = if_not_exists(#f, :f)` for the fields set only once, then `REMOVE`.
 */
export function setFields(fields: Record<string, unknown>, once: Record<string, unknown> = {}, remove: string[] = []): UpdateParts {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  for (const [field, value] of Object.entries(once)) {
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    sets.push(`#${field} = if_not_exists(#${field}, :${field})`);
  }
  // `state` is set last. DynamoDB applies an update at once; the local emulator (moto) applies its
  // actions one by one while other requests read the item, and a reader polling for ARCHIVED once
  // saw the state before the `file` it goes with (CI, blisswriter-parity ct). State last: whoever
  // sees a state sees everything written with it.
  const ordered = Object.entries(fields).sort(([a], [b]) => Number(a === 'state') - Number(b === 'state'));
  for (const [field, value] of ordered) {
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  }
  for (const field of remove) names[`#${field}`] = field;
  const removal = remove.length > 0 ? ` REMOVE ${remove.map((f) => `#${f}`).join(', ')}` : '';
  return { UpdateExpression: `SET ${sets.join(', ')}${removal}`, ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

export function withCondition(
  parts: UpdateParts,
  condition: string,
  values: Record<string, unknown>,
): UpdateParts & { ConditionExpression: string } {
  return { ...parts, ConditionExpression: condition, ExpressionAttributeValues: { ...parts.ExpressionAttributeValues, ...values } };
}

/** The run item as stored (snake_case attributes). */
export interface RunItem {
  run_uid: string;
  state?: RunState;
  file?: ArchivedFile;
  points?: Record<string, number>;
  gaps?: Record<string, [number, number][]>;
  failure?: RunRecord['failure'];
  channel_paths?: Record<string, string>;
  refused_channels?: RunRecord['refusedChannels'];
  stalled?: RunRecord['stalled'];
  scan_id?: number;
  title?: string;
  plan_name?: string;
  scan_key?: string;
  data_policy?: RunRecord['dataPolicy'];
  start_time?: string;
  end_time?: string;
  end_reason?: string;
  archived_at?: string;
  sealed_points?: Record<string, number>;
  stopped?: boolean;
  engine?: RunEngine;
  object_version?: RunRecord['object'];
  rearchives?: RunRecord['rearchives'];
  retried_at?: string;
  handover?: HandOverItem;
  /** Hand-overs claimed so far (each one an attempt, with its own RunTask client token). */
  handover_attempts?: number;
  index_missing?: string;
}

/** The hand-over claim as stored on the run item. */
export interface HandOverItem {
  claimed_at: string;
  /** After this the claim is taken again, and the watchdog treats its task as gone. */
  expires_at?: string;
  ref?: string;
  reason?: string;
  rearchive?: boolean;
}

export function handOverOf(item: HandOverItem, attempts: number | undefined): HandOver {
  return {
    claimedAt: item.claimed_at,
    attempt: attempts ?? 1,
    // A claim from before expiries were recorded: stale after HANDOVER_CLAIM_STALE_MS like an unanswered one.
    expiresAt: item.expires_at ?? new Date(Date.parse(item.claimed_at) + HANDOVER_CLAIM_STALE_MS).toISOString(),
    ...(item.ref ? { ref: item.ref } : {}),
    ...(item.reason ? { reason: item.reason } : {}),
  };
}

/** A copy without undefined fields (DynamoDB's marshaller refuses them). */
export function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
