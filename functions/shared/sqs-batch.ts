/**
 * What every SQS-fed handler shares: the batch handler shape, the JSON body of a record, and
 * Powertools' partial batch processing (failed records are reported, the others deleted).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ContractError } from '../../src/core/errors.js';

export type SqsBatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** The JSON body of an SQS record (an EventBridge event); a ContractError when it is not JSON. */
export function parseRecordBody(record: SQSRecord): unknown {
  try {
    return JSON.parse(record.body) as unknown;
  } catch (error) {
    throw new ContractError(`SQS message ${record.messageId} is not JSON`, {}, { cause: error });
  }
}

/** Runs `recordHandler` on every record; the records it throws on come back as batchItemFailures. */
export function sqsBatchHandler(recordHandler: (record: SQSRecord) => Promise<void>): SqsBatchHandler {
  return async (event, context) => processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), {
    ...(context ? { context } : {}),
    throwOnFullBatchFailure: false,
  });
}
