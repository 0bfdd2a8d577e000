/**
 * scan-writer: turns a complete run into its NeXus scan file in S3 (see src/core/archive/archive-run.ts).
 *
 * Input: SQS batches (size 1) of RunStop events, and Rearchive Requested events (an operator's
 * explicit request to write an ARCHIVED run again: its recorded RunStop is archived with If-Match on
 * the final object's ETag; the old version stays in the versioned bucket and the record keeps why). A run whose documents are still in flight fails
 * its record (NotReadyError) so SQS redelivers it after the visibility timeout. A run that can
 * never be archived (bad dtype, chunks that do not tile the points, corrupt chunk, final key
 * owned by another run, a staged object deleted before it was read, a RangeError from a hostile
 * count) is recorded FAILED and announced with Run Failed in that same delivery; its record
 * succeeds (retrying cannot help, the catalogue and the bus say what went wrong). A RunStop whose
 * documents never complete is dropped once the run is FAILED or STALLED (the watchdog says what is
 * missing; `beamline-archive runs retry` sends it again). An invalid RunStop event is parked in the
 * DLQ at once, with the reason.
 */
import { parseRecordBody, runUidOfRecord, sqsBatchHandler, type SqsBatchHandler } from '../shared/sqs-batch.js';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createLogger, type Logger } from '../../src/adapters/logger.js';
import { archiveRun, type ArchiveRunDeps } from '../../src/core/archive/archive-run.js';
import type { CapacityConfig } from '../../src/core/archive/capacity.js';
import { composeArchive, CREATOR, freeTempBytes } from './compose.js';
import type { RunCatalogue, ScanFileIndexer, ScanFileWriter } from '../../src/core/archive/ports.js';
import { h5wasmFileIndexer } from '../../src/adapters/h5wasm-file-indexer.js';
import { DetailType } from '../../src/core/contract/detail-types.js';
import { isEventOf, validateDetail, validateEvent } from '../../src/core/contract/validators.js';
import type { RunStop } from '../../src/core/contract/generated-types.js';
import { ContractError, isPermanent, NotReadyError } from '../../src/core/errors.js';
import { RunState } from '../../src/core/archive/ports.js';
import { deadLetterQueueFromEnv, type DeadLetterSink } from '../../src/adapters/sqs-dead-letter-queue.js';
import { S3StagingTagger } from '../../src/adapters/s3-staging-tagger.js';
import { createMetrics, MetricName, MetricUnit, type Metrics } from '../../src/adapters/metrics.js';
import type { StagingTagger } from '../../src/core/archive/staging-lifecycle.js';
import type { EventPublisher, ObjectStore } from '../../src/core/ports.js';
import type { StorageOptions } from '../../src/core/nexus/writers/channel-writer.js';
import { SqsVisibilityHeartbeat } from '../../src/adapters/sqs-visibility-heartbeat.js';
import { heartbeatConfigFromEnv } from '../shared/heartbeat-config.js';
import { cachedRecordedBeamline, checkEdgeSource } from '../shared/edge-source.js';
import { EventSourceRefusedError } from '../../src/core/access/edge-source.js';

export interface ScanWriterDeps {
  catalogue: RunCatalogue;
  store: ObjectStore;
  writer: ScanFileWriter;
  publisher: EventPublisher;
  logger: Logger;
  /** Writes `<file>.index.json` beside each scan file (the portal's range reads); the Lambda uses h5wasmFileIndexer. */
  indexer?: ScanFileIndexer;
  now?: () => Date;
  verifyDownloadMaxBytes?: number;
  /** Chunking and compression of channel datasets (storage-config.ts); default DEFAULT_STORAGE. */
  storage?: StorageOptions;
  /**
   * How long to wait, inside one invocation, for run documents still in flight before giving the
   * RunStop back to SQS. They usually trail the RunStop by milliseconds, while a redelivery costs
   * the queue's visibility timeout (90 min for this function). @default 30_000
   */
  notReadyWaitMs?: number;
  /** Capacity before writing (src/core/archive/capacity.ts); absent: no estimate. */
  capacity?: CapacityConfig;
  /** Free bytes of the folder the writer writes in; default os.tmpdir()'s. */
  freeBytes?: () => Promise<number>;
  /** Where runs too big for this function go. */
  taskEngine?: ArchiveRunDeps['taskEngine'];
  /** Keeps the RunStop's message invisible while its file is written (src/adapters/sqs-visibility-heartbeat.ts). */
  heartbeat?: { start(record: SQSRecord): { stop(): Promise<void> } };
  /** Tags the staged objects of runs that ended (run-state=archived|failed). */
  staging?: StagingTagger | undefined;
  /** Scans archived/failed, bytes, close→visible latency (EMF). */
  metrics?: Metrics | undefined;
  /** Where an invalid RunStop is parked at once (the function's DLQ); without it SQS retries it into the DLQ. */
  deadLetters?: DeadLetterSink | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type { SqsBatchHandler };

export { CREATOR };

/** ScansArchived / ScansFailed, ArchivedBytes and CloseToVisibleSeconds (the scan's end to its file at the final key). */
function countOutcome(metrics: Metrics | undefined, outcome: Awaited<ReturnType<typeof archiveRun>>, stop: RunStop): void {
  if (!metrics) return;
  if (outcome.status === 'archived') {
    metrics.addMetric(MetricName.ScansArchived, MetricUnit.Count, 1);
    metrics.addMetric(MetricName.ArchivedBytes, MetricUnit.Bytes, outcome.detail.file.bytes);
    const closed = stop.bliss.end_time !== undefined ? Date.parse(stop.bliss.end_time) : stop.time * 1000;
    const visible = Date.parse(outcome.detail.archived_at);
    if (Number.isFinite(closed) && Number.isFinite(visible))
      metrics.addMetric(MetricName.CloseToVisibleSeconds, MetricUnit.Seconds, Math.max(0, (visible - closed) / 1000));
    if (outcome.indexMissing) metrics.addMetric(MetricName.IndexesMissing, MetricUnit.Count, 1);
  } else if (outcome.status === 'failed') {
    metrics.addMetric(MetricName.ScansFailed, MetricUnit.Count, 1);
  } else {
    return; // handed over to the task engine: counted where it ends
  }
  metrics.publishStoredMetrics();
}

export function createHandler(deps: ScanWriterDeps): SqsBatchHandler {
  const { logger } = deps;
  const edge = { logger, metrics: deps.metrics, recordedBeamline: cachedRecordedBeamline((runUid) => deps.catalogue.getRun(runUid)) };

  const recordHandler = async (record: SQSRecord, context?: Context): Promise<void> => {
    let runUid: string | undefined;
    try {
      const body = parseRecordBody(record);
      // A RunStop of another beamline's bridge never archives (or fails) the run it names (docs/access.md, "The edge").
      await checkEdgeSource(body, edge);
      const event = validateEvent(body);
      let stop: RunStop;
      let rearchive: { reason: string; requestedBy: string } | undefined;
      if (isEventOf(event, DetailType.RunStop)) {
        stop = event.detail;
      } else if (isEventOf(event, DetailType.RearchiveRequested)) {
        // An explicit re-archive: the run's own RunStop, as the catalogue recorded it, written again.
        runUid = event.detail.run_uid;
        const recorded = (await deps.catalogue.listDocuments(runUid)).find((d) => d.detailType === DetailType.RunStop);
        if (!recorded)
          throw new ContractError(`run ${runUid} has no recorded RunStop: only an archived run can be re-archived`, {
            runUid,
            detailType: event['detail-type'],
          });
        stop = validateDetail(DetailType.RunStop, recorded.body);
        rearchive = { reason: event.detail.reason, requestedBy: event.detail.requested_by };
        logger.info('re-archive requested', { runUid, reason: rearchive.reason, requestedBy: rearchive.requestedBy });
      } else {
        throw new ContractError(`scan-writer takes RunStop and Rearchive Requested events, not ${event['detail-type']}`, {
          detailType: event['detail-type'],
        });
      }
      runUid = stop.run_start;
      const archive = () =>
        archiveRun(stop, {
          catalogue: deps.catalogue,
          store: deps.store,
          writer: deps.writer,
          publisher: deps.publisher,
          creator: CREATOR,
          now: deps.now ?? (() => new Date()),
          ...(deps.verifyDownloadMaxBytes !== undefined ? { verifyDownloadMaxBytes: deps.verifyDownloadMaxBytes } : {}),
          ...(deps.storage ? { storage: deps.storage } : {}),
          ...(deps.indexer ? { indexer: deps.indexer } : {}),
          ...(deps.capacity
            ? {
                capacity: {
                  config: deps.capacity,
                  here: async () => ({
                    kind: 'lambda' as const,
                    freeBytes: await (deps.freeBytes ?? freeTempBytes)(),
                    remainingMs: context?.getRemainingTimeInMillis() ?? 15 * 60_000,
                  }),
                },
              }
            : {}),
          ...(deps.taskEngine ? { taskEngine: deps.taskEngine } : {}),
          engine: { kind: 'lambda', ref: context ? `${context.functionName}/${context.awsRequestId}` : 'scan-writer' },
          ...(rearchive ? { rearchive } : {}),
          ...(deps.staging ? { staging: deps.staging } : {}),
          log: (message, fields) => logger.info(message, fields),
        });
      const waitUntil = Date.now() + (deps.notReadyWaitMs ?? 30_000);
      let outcome: Awaited<ReturnType<typeof archiveRun>>;
      const heartbeat = deps.heartbeat?.start(record);
      try {
        for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
          try {
            outcome = await archive();
            break;
          } catch (error) {
            if (!(error instanceof NotReadyError) || Date.now() + delay > waitUntil) throw error;
            await sleep(delay);
          }
        }
      } finally {
        await heartbeat?.stop();
      }
      if (outcome.status === 'archived' && outcome.indexMissing)
        logger.error('run ARCHIVED without its index: the portal reads the file whole', { runUid, reason: outcome.indexMissing });
      if (outcome.status === 'failed')
        logger.error('run recorded FAILED', { runUid, reason: outcome.detail.reason, errors: outcome.detail.errors });
      if (outcome.status === 'handed-over')
        logger.info('run handed over to the task engine', {
          runUid,
          task: outcome.detail.engine.ref,
          already: outcome.detail.already,
          reason: outcome.detail.reason,
        });
      countOutcome(deps.metrics, outcome, stop);
    } catch (error) {
      if (error instanceof NotReadyError && runUid !== undefined) {
        // Documents that never come: once the run has ended otherwise (FAILED by the bridge or the
        // run-recorder, STALLED by the watchdog), redelivering the RunStop cannot help.
        const state = (await deps.catalogue.getRun(runUid))?.state;
        if (state === RunState.Failed || state === RunState.Stalled) {
          logger.warn(
            `run is ${state}: its documents are incomplete, the RunStop is dropped (beamline-archive runs retry sends it again)`,
            { runUid, reason: error.message },
          );
          return;
        }
        logger.info('run not complete yet; SQS will redeliver the RunStop', { runUid, reason: error.message });
      } else if (error instanceof EventSourceRefusedError) {
        // Logged and counted by checkEdgeSource; parked with the reason, the run untouched.
      } else if (isPermanent(error))
        logger.error('invalid RunStop event, parked in the DLQ', { runUid, messageId: record.messageId, reason: (error as Error).message });
      else logger.error('scan file not archived, will be retried', { runUid, error: error as Error });
      throw error;
    }
  };

  return sqsBatchHandler(recordHandler, { deadLetters: deps.deadLetters, functionName: 'scan-writer', runUidOf: runUidOfRecord });
}

let built: Promise<SqsBatchHandler> | undefined;

async function build(): Promise<SqsBatchHandler> {
  const composed = await composeArchive(process.env);
  const { config } = composed;
  const logger = createLogger(process.env.POWERTOOLS_SERVICE_NAME ?? 'scan-writer');
  return createHandler({
    catalogue: composed.catalogue,
    store: composed.store,
    writer: composed.writer,
    publisher: composed.publisher,
    indexer: h5wasmFileIndexer,
    notReadyWaitMs: config.notReadyWaitMs,
    storage: config.storage,
    capacity: config.capacity.capacity,
    ...(composed.taskEngine ? { taskEngine: { engine: composed.taskEngine, handOvers: composed.runs } } : {}),
    heartbeat: new SqsVisibilityHeartbeat(composed.clients.sqs, {
      ...heartbeatConfigFromEnv(process.env),
      onError: (error) => logger.warn('visibility heartbeat failed', { error: error as Error }),
    }),
    logger,
    deadLetters: deadLetterQueueFromEnv(composed.clients.sqs),
    staging: new S3StagingTagger(composed.clients.s3, config.bucketName),
    metrics: createMetrics(process.env.POWERTOOLS_SERVICE_NAME ?? 'scan-writer'),
  });
}

/** The Lambda entry: clients, the wasm module and configuration are built once, on the first invocation. */
export const handler = async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  built ??= build();
  built.catch(() => {
    built = undefined;
  });
  return (await built)(event, context);
};
