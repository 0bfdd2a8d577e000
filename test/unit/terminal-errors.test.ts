/**
 * Error classification (src/core/errors.ts) and what the SQS-fed functions do with it
 * (functions/shared/sqs-batch.ts): transient errors are retried, permanent ones parked at once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSEvent } from 'aws-lambda';
import {
  ArchiveError,
  ConflictError,
  ContractError,
  InvalidInputError,
  isPermanent,
  MissingInputError,
  NotReadyError,
  ObjectNotFoundError,
  PermanentError,
} from '../../src/core/errors.js';
import { FileKeyConflictError, VerificationError } from '../../src/core/archive/errors.js';
import { ProvenanceConflictError } from '../../src/core/provenance/errors.js';
import { ExportConflictError } from '../../src/core/exports/service-errors.js';
import { DatasetClosedError, DatasetNotFoundError } from '../../src/core/datasets/errors.js';
import { getStagedObject } from '../../src/core/archive/staged-objects.js';
import { runUidOfBody, sqsBatchHandler } from '../../functions/shared/sqs-batch.js';
import type { ParkedMessage } from '../../src/adapters/sqs-dead-letter-queue.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';

function event(...bodies: string[]): SQSEvent {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `m${i}`,
      receiptHandle: `r${i}`,
      body,
      md5OfBody: '',
      messageAttributes: {},
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:q',
      awsRegion: 'eu-west-1',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
    })),
  };
}

describe('error classification', () => {
  it('says which errors retrying cannot fix', () => {
    const permanent = [
      new ContractError('x'),
      new InvalidInputError('x'),
      new MissingInputError('x'),
      new ConflictError('x'),
      new PermanentError('x'),
      new FileKeyConflictError('x'),
      new ProvenanceConflictError('x'),
      new ExportConflictError('x'),
      new DatasetClosedError('x'),
      new RangeError('Invalid typed array length: 8000000000000'),
    ];
    const transient = [
      new ArchiveError('x'),
      new NotReadyError('x'),
      new VerificationError('x'),
      new ObjectNotFoundError('x'),
      new DatasetNotFoundError('x'),
      new Error('socket hang up'),
      new TypeError('x'),
      'a string',
    ];
    for (const e of permanent) assert.equal(isPermanent(e), true, `${(e as Error).name} is permanent`);
    for (const e of transient) assert.equal(isPermanent(e), false, `${String((e as Error).name ?? e)} is transient`);
    for (const e of permanent.filter((x) => x instanceof ArchiveError)) assert.equal((e as ArchiveError).transient, false);
  });

  it('turns a staged object missing behind a RunStop into a MissingInputError naming the key', async () => {
    const store = new MemoryObjectStore('b');
    await assert.rejects(
      getStagedObject(store, 'staging/run/diode/000-010.bin', 'points [0, 10) of diode', { runUid: 'run' }),
      (e: unknown) =>
        e instanceof MissingInputError &&
        !e.transient &&
        e.context.key === 'staging/run/diode/000-010.bin' &&
        e.context.runUid === 'run' &&
        e.message.includes('s3://b/staging/run/diode/000-010.bin') &&
        e.message.includes('points [0, 10) of diode'),
    );
    const throttled = new MemoryObjectStore('b', { fail: (operation) => (operation === 'get' ? new Error('SlowDown') : undefined) });
    await assert.rejects(
      getStagedObject(throttled, 'k', 'x'),
      (e: unknown) => !(e instanceof MissingInputError) && (e as Error).message === 'SlowDown',
    );
  });
});

describe('SQS batches', () => {
  it('parks permanent failures in one delivery, retries transient ones, and keeps the others', async () => {
    const parked: ParkedMessage[] = [];
    const handler = sqsBatchHandler(
      async (record) => {
        if (record.body === 'range') throw new RangeError('Array buffer allocation failed');
        if (record.body === 'contract') throw new ContractError('not a RunStop');
        if (record.body === 'throttled') throw new Error('ThrottlingException');
      },
      {
        deadLetters: {
          park: async (m) => {
            parked.push(m);
          },
        },
        functionName: 'scan-writer',
        runUidOf: () => 'RUN1',
      },
    );
    const out = await handler(event('range', 'ok', 'contract', 'throttled'));
    assert.deepEqual(out.batchItemFailures, [{ itemIdentifier: 'm3' }], 'only the transient failure is retried');
    assert.deepEqual(
      parked.map((m) => [m.body, m.error, m.functionName, m.runUid]),
      [
        ['range', 'RangeError', 'scan-writer', 'RUN1'],
        ['contract', 'ContractError', 'scan-writer', 'RUN1'],
      ],
    );
    assert.equal(parked[0]!.reason, 'Array buffer allocation failed');
  });

  it('runs the records of a batch one after the other, in order, when asked (the run-recorder), and all at once otherwise', async () => {
    const trace = (log: string[]) => async (record: { body: string }) => {
      log.push(`start ${record.body}`);
      await new Promise((resolve) => setTimeout(resolve, record.body === 'a' ? 30 : 1));
      log.push(`end ${record.body}`);
    };
    const inOrder: string[] = [];
    await sqsBatchHandler(trace(inOrder), { functionName: 'run-recorder', inOrder: true })(event('a', 'b', 'c'));
    assert.deepEqual(inOrder, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    const together: string[] = [];
    await sqsBatchHandler(trace(together), { functionName: 'scan-writer' })(event('a', 'b', 'c'));
    assert.deepEqual(together.slice(0, 3), ['start a', 'start b', 'start c']);
  });

  it('retries a permanent failure when the sink cannot take it (nothing is dropped), and without a sink', async () => {
    const failing = sqsBatchHandler(
      async () => {
        throw new ContractError('bad');
      },
      {
        deadLetters: { park: () => Promise.reject(new Error('SQS unavailable')) },
        functionName: 'run-recorder',
      },
    );
    assert.deepEqual((await failing(event('x'))).batchItemFailures, [{ itemIdentifier: 'm0' }]);
    const sinkless = sqsBatchHandler(async () => {
      throw new ContractError('bad');
    });
    assert.deepEqual((await sinkless(event('x'))).batchItemFailures, [{ itemIdentifier: 'm0' }]);
  });

  it('finds the run of an event that may be invalid', () => {
    assert.equal(runUidOfBody({ detail: { run_start: 'R1' } }), 'R1');
    assert.equal(runUidOfBody({ detail: { descriptor: 'R2/descriptor/primary' } }), 'R2');
    assert.equal(runUidOfBody({ detail: { run_uid: '' } }), undefined);
    assert.equal(runUidOfBody('garbage'), undefined);
  });
});
