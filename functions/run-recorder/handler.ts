/**
 * run-recorder: stores every run document (RunStart, EventDescriptor, StreamResource,
 * StreamDatum, RunStop) and Run Failed in the catalogue and keeps the run record's state.
 *
 * Input: SQS batches whose bodies are whole EventBridge events. Partial failures (Powertools
 * batch): a record that fails is reported in batchItemFailures and only it is retried.
 * Invalid events (ContractError: not JSON, unknown detail-type, schema mismatch) are logged with
 * the run uid and the reason and reported as failures, so after maxReceiveCount they sit in the
 * DLQ with the original body for inspection and redrive — nothing invalid enters the catalogue.
 */
import { parseRecordBody, sqsBatchHandler, type SqsBatchHandler } from '../shared/sqs-batch.js';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { createLogger, type Logger } from '../../src/adapters/logger.js';
import type { RunCatalogue } from '../../src/core/archive/ports.js';
import { recordDocument } from '../../src/core/archive/record-document.js';
import { validateEvent } from '../../src/core/contract/validators.js';
import { isPermanent } from '../../src/core/errors.js';

export interface RunRecorderDeps {
  catalogue: RunCatalogue;
  logger: Logger;
}

export type { SqsBatchHandler };

export function createHandler(deps: RunRecorderDeps): SqsBatchHandler {
  const { catalogue, logger } = deps;

  const recordHandler = async (record: SQSRecord): Promise<void> => {
    const body = parseRecordBody(record);    try {
      const event = validateEvent(body);
      const recorded = await recordDocument(event, catalogue);
      logger.info('document recorded', { ...recorded, messageId: record.messageId });
    } catch (error) {
      const context = { runUid: runUidOf(body), detailType: String((body as { 'detail-type'?: unknown } | null)?.['detail-type']), messageId: record.messageId };
      if (isPermanent(error)) logger.error('invalid event: not recorded, left for the DLQ', { ...context, reason: (error as Error).message });
      else logger.warn('document not recorded yet, will be retried', { ...context, error: error as Error });
      throw error;
    }
  };

  return sqsBatchHandler(recordHandler);
}

/** Best-effort run uid of an event that may be invalid, for the log line. */
function runUidOf(body: unknown): string | undefined {
  const detail = (body as { detail?: Record<string, unknown> } | null)?.detail;
  if (!detail || typeof detail !== 'object') return undefined;
  for (const field of ['run_start', 'run_uid', 'uid', 'descriptor']) {
    const value = detail[field];
    if (typeof value === 'string') return value.split('/')[0];
  }
  return undefined;
}

interface RunRecorderConfig { tableName: string }

function configFromEnv(env: NodeJS.ProcessEnv): RunRecorderConfig {
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new Error('run-recorder: environment variable TABLE_NAME is not set');
  return { tableName };
}

let built: SqsBatchHandler | undefined;

/** The Lambda entry: clients and configuration are built once, on the first invocation. */
export const handler = async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  if (!built) {
    const config = configFromEnv(process.env);
    const clients = createAwsClients(awsConnectionFromEnv());
    built = createHandler({
      catalogue: new DynamoDbRunCatalogue(clients.dynamo, config.tableName),
      logger: createLogger(process.env.POWERTOOLS_SERVICE_NAME ?? 'run-recorder'),
    });
  }
  return built(event, context);
};
