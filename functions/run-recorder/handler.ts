/**
 * run-recorder: stores every run document (RunStart, EventDescriptor, StreamResource,
 * StreamDatum, RunStop) and Run Failed in the catalogue and keeps the run record's state.
 *
 * Input: SQS batches whose bodies are whole EventBridge events. Partial failures (Powertools
 * batch): a record that fails with a transient error is reported in batchItemFailures and only it
 * is retried. A record no retry can fix (ContractError: not JSON, unknown detail-type, schema
 * mismatch) is dealt with in its first delivery: when it names a run, the run is recorded FAILED
 * (stage run-recorder, the reason) and Run Failed is announced, since the run can never be
 * complete without that document; the event itself is parked in the DLQ with the reason, for
 * inspection and redrive — nothing invalid enters the catalogue.
 *
 * A run recorded FAILED by a Run Failed of the bridge or of the run-recorder itself gets its staged
 * objects tagged `run-state=failed` (src/core/archive/staging-lifecycle.ts), as the scan-writer does
 * for the runs it fails: staged data then follows the FAILED lifecycle (kept for a retry, then
 * expired), not only the long safety expiry of untagged objects (docs/adr/0015).
 */
import { parseRecordBody, runUidOfBody, runUidOfRecord, sqsBatchHandler, type SqsBatchHandler } from '../shared/sqs-batch.js';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '../../src/adapters/logger.js';
import type { DeadLetterSink } from '../../src/adapters/sqs-dead-letter-queue.js';
import { RunState, type RunCatalogue } from '../../src/core/archive/ports.js';
import { tagStagedRun, type StagingTagger } from '../../src/core/archive/staging-lifecycle.js';
import { recordDocument } from '../../src/core/archive/record-document.js';
import { DetailType, EventSource } from '../../src/core/contract/detail-types.js';
import type { RunFailed } from '../../src/core/contract/generated-types.js';
import { isEventOf, validateDetail, validateEvent } from '../../src/core/contract/validators.js';
import { isPermanent } from '../../src/core/errors.js';
import type { EventPublisher } from '../../src/core/ports.js';
import { composeRunRecorder } from './compose.js';
import { cachedRecordedBeamline, checkEdgeSource } from '../shared/edge-source.js';
import { EventSourceRefusedError } from '../../src/core/access/edge-source.js';
import type { Metrics } from '../../src/adapters/metrics.js';

export interface RunRecorderDeps {
  catalogue: RunCatalogue;
  logger: Logger;
  /** Announces Run Failed for a run whose document can never be recorded; without it the run is only recorded FAILED. */
  publisher?: EventPublisher | undefined;
  /** Where records no retry can fix are parked at once (the function's DLQ); without it SQS retries them into the DLQ. */
  deadLetters?: DeadLetterSink | undefined;
  /** Tags the staged objects of runs failed by the bridge or the run-recorder (the scan-writer tags its own). */
  staging?: StagingTagger | undefined;
  /** Counts bridge events refused for their source (BridgeEventsRefused). */
  metrics?: Metrics | undefined;
}

export type { SqsBatchHandler };

const RUN_UID = /^[A-Za-z0-9._:-]{1,256}$/;

export function createHandler(deps: RunRecorderDeps): SqsBatchHandler {
  const { catalogue, logger } = deps;
  const edge = { logger, metrics: deps.metrics, recordedBeamline: cachedRecordedBeamline((runUid) => catalogue.getRun(runUid)) };

  const recordHandler = async (record: SQSRecord): Promise<void> => {
    const body = parseRecordBody(record);
    try {
      // A bridge may speak only for its own beamline's runs (docs/access.md, "The edge"); first, so nothing below sees a forged event.
      await checkEdgeSource(body, edge);
      const event = validateEvent(body);
      const recorded = await recordDocument(event, catalogue);
      logger.info('document recorded', { ...recorded, messageId: record.messageId });
      if (isEventOf(event, DetailType.RunFailed) && event.detail.stage !== 'scan-writer') await tagFailedRun(event.detail.run_uid);
    } catch (error) {
      const detailType = String((body as { 'detail-type'?: unknown } | null)?.['detail-type']);
      const context = { runUid: runUidOfBody(body), detailType, messageId: record.messageId };
      // Refused for its source: parked with the reason; the run it names is left exactly as it was.
      if (error instanceof EventSourceRefusedError) throw error;
      if (!isPermanent(error)) {
        logger.warn('document not recorded yet, will be retried', { ...context, error: error as Error });
        throw error;
      }
      logger.error('invalid event: not recorded', { ...context, reason: (error as Error).message });
      const runUid = context.runUid;
      // Run Failed itself is not failed again: a bad failure report is only parked.
      if (runUid && RUN_UID.test(runUid) && detailType !== DetailType.RunFailed) await failRun(runUid, detailType, error as Error);
      throw error;
    }
  };

  /** The run can never be complete without this document: FAILED at once, announced, never over ARCHIVED. */
  async function failRun(runUid: string, detailType: string, error: Error): Promise<void> {
    const detail = validateDetail(
      DetailType.RunFailed,
      {
        run_uid: runUid,
        stage: 'run-recorder',
        reason: `a ${detailType.slice(0, 100)} document of the run cannot be recorded: ${error.message}`.slice(0, 1000),
        errors: [{ message: error.message.slice(0, 1000) || error.name }],
      } satisfies RunFailed,
      EventSource.RunRecorder,
    );
    if ((await catalogue.runFailed(detail)) === 'already-archived') {
      logger.warn('run is ARCHIVED: the invalid document is parked, the run left alone', { runUid, detailType });
      return;
    }
    logger.error('run recorded FAILED: one of its documents is invalid', { runUid, detailType, reason: detail.reason });
    await tagFailedRun(runUid);
    if (!deps.publisher) return;
    const outcome = await deps.publisher.publish([{ detailType: DetailType.RunFailed, source: EventSource.RunRecorder, detail }]);
    // The catalogue says FAILED already; a refused announcement is retried with the record.
    if (outcome.rejected.length > 0)
      throw new Error(`the bus refused Run Failed for run ${runUid}: ${outcome.rejected.map((r) => r.reason).join('; ')}`);
  }

  /** Staged objects of a run that is FAILED now (not of one ARCHIVED meanwhile) tagged for the FAILED lifecycle; never fails the record. */
  async function tagFailedRun(runUid: string): Promise<void> {
    if (!deps.staging) return;
    const run = await catalogue.getRun(runUid);
    if (run?.state !== RunState.Failed) return;
    await tagStagedRun(deps.staging, { runUid, beamline: run.dataPolicy?.beamline }, RunState.Failed, (message, context) =>
      logger.info(message, context),
    );
  }

  // In order: a batch holding a RunStart and a later document of the same run updates the run record in that
  // order (moto applies concurrent UpdateItems on one item non-atomically; CI saw RECORDING over FAILED once).
  return sqsBatchHandler(recordHandler, {
    deadLetters: deps.deadLetters,
    functionName: 'run-recorder',
    runUidOf: runUidOfRecord,
    inOrder: true,
  });
}

let built: SqsBatchHandler | undefined;

/** The Lambda entry: clients and configuration are built once (compose.ts), on the first invocation. */
export const handler = async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  built ??= createHandler(composeRunRecorder(process.env));
  return built(event, context);
};
