/**
 * What every SQS-fed handler shares: the batch handler shape, the JSON body of a record, and
 * Powertools' partial batch processing (failed records are reported, the others deleted).
 *
 * Errors are classified at once (src/core/errors.ts): a transient error fails its record, so SQS
 * redelivers it; a permanent one (`transient: false`, RangeError) is never retried: the record is
 * parked in the function's dead-letter queue with the reason (when the function has one) and
 * counts as done. The handlers end the run FAILED before they give up on a record that has one.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ContractError, isPermanent } from '../../src/core/errors.js';
import type { DeadLetterSink } from '../../src/adapters/sqs-dead-letter-queue.js';

export type SqsBatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** The JSON body of an SQS record (an EventBridge event); a ContractError when it is not JSON. */
export function parseRecordBody(record: SQSRecord): unknown {
  try {
    return JSON.parse(record.body) as unknown;
  } catch (error) {
    throw new ContractError(`SQS message ${record.messageId} is not JSON`, {}, { cause: error });
  }
}

export interface SqsBatchOptions {
  /** Where records failing with a permanent error go at once; without it they are retried into the DLQ by SQS. */
  deadLetters?: DeadLetterSink | undefined;
  /** The function's name, written on parked messages. */
  functionName: string;
  /** Best-effort run uid of a record (for the parked message). */
  runUidOf?: (record: SQSRecord) => string | undefined;
  /**
   * Records one after the other, in the batch's order, instead of all at once (Powertools' default).
   * The run-recorder uses it: a run's documents arrive in order in one batch, and each record's
   * catalogue updates then finish before the next record's start.
   */
  inOrder?: boolean;
}

/** Runs `recordHandler` on every record; the records it throws on come back as batchItemFailures, except permanent failures, which are parked. */
export function sqsBatchHandler(
  recordHandler: (record: SQSRecord, context?: Context) => Promise<void>,
  options?: SqsBatchOptions,
): SqsBatchHandler {
  const handle = async (record: SQSRecord, context?: Context): Promise<void> => {
    try {
      await recordHandler(record, context);
    } catch (error) {
      const sink = options?.deadLetters;
      if (!sink || !isPermanent(error)) throw error;
      await sink.park({
        body: record.body,
        error: error instanceof Error ? error.name : 'Error',
        reason: error instanceof Error ? error.message : String(error),
        functionName: options.functionName,
        runUid: options.runUidOf?.(record),
      });
    }
  };
  return async (event, context) =>
    processPartialResponse(event, handle, new BatchProcessor(EventType.SQS), {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
      processInParallel: options?.inOrder !== true,
    });
}

/** Best-effort run uid of an event body that may be invalid (for logs and parked messages). */
export function runUidOfBody(body: unknown): string | undefined {
  const detail = (body as { detail?: Record<string, unknown> } | null)?.detail;
  if (!detail || typeof detail !== 'object') return undefined;
  for (const field of ['run_start', 'run_uid', 'uid', 'descriptor']) {
    const value = detail[field];
    if (typeof value === 'string' && value.length > 0) return value.split('/')[0];
  }
  return undefined;
}

/** runUidOfBody of a record's JSON body (undefined when it is not JSON). */
export function runUidOfRecord(record: SQSRecord): string | undefined {
  try {
    return runUidOfBody(JSON.parse(record.body));
  } catch {
    return undefined;
  }
}
