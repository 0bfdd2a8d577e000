/**
 * dataset-recorder: scans join their dataset. Input: SQS batches of RunStart (bridge: the scan's
 * data policy and ICAT snapshot; the dataset is opened on its first scan) and Run Archived
 * (scan-writer: the scan file's key). A scan for a closed dataset is refused: logged as an error
 * with the dataset and run, and the record is done (retrying cannot reopen the dataset); the scan
 * file itself is still archived by the scan-writer. Events no retry can fix (invalid events,
 * names the dataset service refuses) are parked in the DLQ at once, with the reason.
 */
import { parseRecordBody, runUidOfRecord, sqsBatchHandler, type SqsBatchHandler } from '../shared/sqs-batch.js';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '../../src/adapters/logger.js';
import type { DeadLetterSink } from '../../src/adapters/sqs-dead-letter-queue.js';
import { DetailType } from '../../src/core/contract/detail-types.js';
import { isEventOf, validateEvent } from '../../src/core/contract/validators.js';
import type { DatasetService } from '../../src/core/datasets/dataset-service.js';
import { DatasetClosedError } from '../../src/core/datasets/errors.js';
import { ContractError, isPermanent } from '../../src/core/errors.js';
import { composeDatasetRecorder } from './compose.js';
import { checkEdgeSource } from '../shared/edge-source.js';
import type { Metrics } from '../../src/adapters/metrics.js';

export interface DatasetRecorderDeps {
  service: DatasetService;
  logger: Logger;
  /** Where records no retry can fix are parked at once (the function's DLQ); without it SQS retries them into the DLQ. */
  deadLetters?: DeadLetterSink | undefined;
  /** Counts bridge events refused for their source (BridgeEventsRefused). */
  metrics?: Metrics | undefined;
}

export type { SqsBatchHandler };

export function createHandler(deps: DatasetRecorderDeps): SqsBatchHandler {
  const { service, logger } = deps;

  const recordHandler = async (record: SQSRecord): Promise<void> => {
    const body = parseRecordBody(record);
    try {
      // A RunStart joins a dataset only when its bridge speaks for the beamline its data policy names (docs/access.md, "The edge").
      await checkEdgeSource(body, { logger, metrics: deps.metrics });
      const event = validateEvent(body);
      if (isEventOf(event, DetailType.RunStart)) {
        try {
          const joined = await service.scanStarted(event.detail);
          logger.info('scan joined its dataset', { runUid: event.detail.uid, ...joined });
        } catch (error) {
          if (!(error instanceof DatasetClosedError)) throw error;
          logger.error('scan refused: its dataset is closed', {
            runUid: event.detail.uid,
            dataset: error.context.dataset,
            reason: error.message,
          });
        }
      } else if (isEventOf(event, DetailType.RunArchived)) {
        await service.scanArchived(event.detail);
        logger.info('scan file recorded in its dataset', { runUid: event.detail.run_uid, key: event.detail.file.key });
      } else {
        throw new ContractError(`dataset-recorder takes RunStart and Run Archived, not ${event['detail-type']}`, {
          detailType: event['detail-type'],
        });
      }
    } catch (error) {
      const context = { messageId: record.messageId, detailType: String((body as { 'detail-type'?: unknown } | null)?.['detail-type']) };
      if (isPermanent(error)) logger.error('event cannot be recorded: parked in the DLQ', { ...context, reason: (error as Error).message });
      else logger.warn('not recorded yet, will be retried', { ...context, error: error as Error });
      throw error;
    }
  };

  return sqsBatchHandler(recordHandler, { deadLetters: deps.deadLetters, functionName: 'dataset-recorder', runUidOf: runUidOfRecord });
}

let built: SqsBatchHandler | undefined;

/** The Lambda entry: clients and configuration are built once (compose.ts), on the first invocation. */
export const handler = async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  built ??= createHandler(composeDatasetRecorder(process.env));
  return built(event, context);
};
