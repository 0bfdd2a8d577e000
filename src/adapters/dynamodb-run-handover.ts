/**
 * The run catalogue's hand-over claim (dynamodb-run-catalogue.ts, HandOverStore): `handover` on the
 * run record, claimed, recorded, ended and released by the scan-writer's hand-over to a task.
 */
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RunState, type RunEngine } from '../core/archive/ports.js';
import { isConditionFailure } from './dynamodb-conditions.js';
import { HANDOVER_CLAIM_STALE_MS, runPk, RUN_SK } from './dynamodb-run-items.js';

/**
 * The hand-over claim (`handover` on the run record): taken once per attempt. It holds while its
 * task may still run: until `expires_at` (the claim's `leaseMs` from now; an unanswered claim is
 * stale after HANDOVER_CLAIM_STALE_MS until recordHandOver extends it), then it can be taken again
 * and the watchdog treats its task as gone. Never for an ARCHIVED run unless `rearchive`.
 * Each claim is a new attempt (`handover_attempts`, kept across retries): the RunTask client token
 * is per attempt, so a new attempt never gets the dead task of the last one back.
 */
export async function claimHandOver(
  db: DynamoDBDocumentClient,
  tableName: string,
  runUid: string,
  at: Date,
  options: { rearchive?: boolean } = {},
): Promise<{ attempt: number } | 'taken'> {
  const stale = new Date(at.getTime() - HANDOVER_CLAIM_STALE_MS).toISOString();
  try {
    const out = await db.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: runPk(runUid), sk: RUN_SK },
        UpdateExpression: 'SET #h = :claim, #run = :uid ADD #attempts :one',
        ConditionExpression: `${options.rearchive ? '#state = :archived' : '(attribute_not_exists(#state) OR #state <> :archived)'} AND (attribute_not_exists(#h) OR #h.#exp < :now OR (attribute_not_exists(#h.#exp) AND attribute_not_exists(#h.#ref) AND #h.#at < :stale))`,
        ExpressionAttributeNames: {
          '#h': 'handover',
          '#state': 'state',
          '#ref': 'ref',
          '#at': 'claimed_at',
          '#exp': 'expires_at',
          '#run': 'run_uid',
          '#attempts': 'handover_attempts',
        },
        ExpressionAttributeValues: {
          ':claim': {
            claimed_at: at.toISOString(),
            expires_at: new Date(at.getTime() + HANDOVER_CLAIM_STALE_MS).toISOString(),
            ...(options.rearchive ? { rearchive: true } : {}),
          },
          ':uid': runUid,
          ':archived': RunState.Archived,
          ':now': at.toISOString(),
          ':stale': stale,
          ':one': 1,
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const attempt = Number((out.Attributes as { handover_attempts?: number } | undefined)?.handover_attempts ?? 1);
    return { attempt };
  } catch (error) {
    if (isConditionFailure(error)) return 'taken';
    throw error;
  }
}

/** Where the task of this attempt runs; the claim now holds for `leaseMs` (the task's longest run and a margin). */
export async function recordHandOver(
  db: DynamoDBDocumentClient,
  tableName: string,
  runUid: string,
  engine: RunEngine,
  reason: string,
  leaseMs: number = HANDOVER_CLAIM_STALE_MS,
): Promise<void> {
  await db.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk: runPk(runUid), sk: RUN_SK },
      UpdateExpression: 'SET #h.#ref = :ref, #h.#reason = :reason, #h.#exp = :exp, #engine = :engine',
      ExpressionAttributeNames: { '#h': 'handover', '#ref': 'ref', '#reason': 'reason', '#exp': 'expires_at', '#engine': 'engine' },
      ExpressionAttributeValues: {
        ':ref': engine.ref,
        ':reason': reason,
        ':engine': engine,
        ':exp': new Date(Date.now() + leaseMs).toISOString(),
      },
    }),
  );
}

/** The task `ref` ended: its claim goes (only its own: a later attempt's claim is left alone). */
export async function endHandOver(db: DynamoDBDocumentClient, tableName: string, runUid: string, ref?: string): Promise<void> {
  await db
    .send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: runPk(runUid), sk: RUN_SK },
        UpdateExpression: 'REMOVE #h',
        ...(ref !== undefined ? { ConditionExpression: '#h.#ref = :ref', ExpressionAttributeValues: { ':ref': ref } } : {}),
        ExpressionAttributeNames: { '#h': 'handover', ...(ref !== undefined ? { '#ref': 'ref' } : {}) },
      }),
    )
    .catch((error: unknown) => {
      if (!isConditionFailure(error)) throw error;
    });
}

export async function releaseHandOver(db: DynamoDBDocumentClient, tableName: string, runUid: string): Promise<void> {
  await db
    .send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: runPk(runUid), sk: RUN_SK },
        UpdateExpression: 'REMOVE #h',
        ConditionExpression: 'attribute_exists(#h) AND attribute_not_exists(#h.#ref)',
        ExpressionAttributeNames: { '#h': 'handover', '#ref': 'ref' },
      }),
    )
    .catch((error: unknown) => {
      if (!isConditionFailure(error)) throw error;
    });
}
