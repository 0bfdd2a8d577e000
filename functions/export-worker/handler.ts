/**
 * export-worker: builds the exports asked for on the bus (src/core/exports/export-service.ts).
 *
 * Input: SQS batches (size 1) of Export Requested events, from the export API or any client. The
 * worker claims the build (one at a time per export, a lease so a crashed build is taken over),
 * publishes the files (.tmp → final once all are checked), records COMPLETED with provenance and
 * emits Export Completed; a request that cannot be built is recorded FAILED and announced with
 * Export Failed (its record succeeds: retrying cannot help). Transient trouble fails the record so
 * SQS redelivers it. An event that breaks the contract, or reuses a request id with other content,
 * is logged and parked in the DLQ at once, with the reason (ExportConflictError is a ConflictError:
 * `transient: false`).
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createLogger, type Logger } from '../../src/adapters/logger.js';
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { deadLetterQueueFromEnv, type DeadLetterSink } from '../../src/adapters/sqs-dead-letter-queue.js';
import { DetailType } from '../../src/core/contract/detail-types.js';
import { isEventOf, validateEvent } from '../../src/core/contract/validators.js';
import { ContractError, isPermanent } from '../../src/core/errors.js';
import type { ExportService } from '../../src/core/exports/export-service.js';
import { ExportConflictError } from '../../src/core/exports/service-errors.js';
import { parseRecordBody, runUidOfRecord, sqsBatchHandler, type SqsBatchHandler } from '../shared/sqs-batch.js';
import { buildExportWorkerService } from './compose.js';

export interface ExportWorkerDeps {
  service: ExportService;
  logger: Logger;
  /** Where records no retry can fix are parked at once (the function's DLQ); without it SQS retries them into the DLQ. */
  deadLetters?: DeadLetterSink | undefined;
}

export function createHandler(deps: ExportWorkerDeps): SqsBatchHandler {
  const { service, logger } = deps;

  const recordHandler = async (record: SQSRecord): Promise<void> => {
    let requestId: string | undefined;
    try {
      const event = validateEvent(parseRecordBody(record));
      if (!isEventOf(event, DetailType.ExportRequested)) {
        throw new ContractError(`export-worker takes Export Requested events, not ${event['detail-type']}`, {
          detailType: event['detail-type'],
        });
      }
      requestId = event.detail.request_id;
      const outcome = await service.handleRequested(event.detail, event.source);
      if (outcome.state === 'FAILED')
        logger.error('export recorded FAILED', { exportId: outcome.exportId, requestId, reason: outcome.reason });
      else logger.info('export handled', { exportId: outcome.exportId, requestId, state: outcome.state });
    } catch (error) {
      if (isPermanent(error) || error instanceof ExportConflictError) {
        logger.error('invalid Export Requested event, parked in the DLQ', {
          requestId,
          messageId: record.messageId,
          reason: (error as Error).message,
        });
      } else {
        logger.error('export not built, will be retried', { requestId, error: error as Error });
      }
      throw error;
    }
  };

  return sqsBatchHandler(recordHandler, { deadLetters: deps.deadLetters, functionName: 'export-worker', runUidOf: runUidOfRecord });
}

let built: Promise<SqsBatchHandler> | undefined;

async function build(): Promise<SqsBatchHandler> {
  const logger = createLogger(process.env.POWERTOOLS_SERVICE_NAME ?? 'export-worker');
  // The record names the function that built an export (or the task it was handed to: functions/archive-task).
  const engine = { kind: 'lambda' as const, ref: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'export-worker' };
  return createHandler({
    service: buildExportWorkerService(logger, engine),
    logger,
    deadLetters: deadLetterQueueFromEnv(createAwsClients(awsConnectionFromEnv()).sqs),
  });
}

/** The Lambda entry: clients and configuration are built once, on the first invocation. */
export const handler = async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  built ??= build();
  built.catch(() => {
    built = undefined;
  });
  return (await built)(event, context);
};
