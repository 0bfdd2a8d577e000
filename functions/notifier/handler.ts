/**
 * notifier: tells people. Input: SQS batches of Run Failed (any stage) and Run Stalled events (a
 * bus rule); each becomes one message on the alarm topic (SNS, ALARM_TOPIC_ARN), written for a
 * person: which run, why, the first command to run (src/core/archive/notifications.ts). The
 * CloudWatch alarms (DLQ depth, stalled runs, bridge heartbeat) notify the same topic directly.
 * Bridge Heartbeat events are counted here (EMF metric BridgeHeartbeats, the bridge alarm's input;
 * BridgeLagSeconds) and logged, not sent to people.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '../../src/adapters/logger.js';
import { MetricName, MetricUnit, type Metrics } from '../../src/adapters/metrics.js';
import type { DeadLetterSink } from '../../src/adapters/sqs-dead-letter-queue.js';
import { runFailedNotification, runStalledNotification, type Notifier } from '../../src/core/archive/notifications.js';
import { DetailType } from '../../src/core/contract/detail-types.js';
import { isEventOf, validateEvent } from '../../src/core/contract/validators.js';
import { ContractError } from '../../src/core/errors.js';
import { parseRecordBody, runUidOfRecord, sqsBatchHandler, type SqsBatchHandler } from '../shared/sqs-batch.js';
import { composeNotifier } from './compose.js';
import { beamlineOfSource } from '../../src/core/access/edge-source.js';

export interface NotifierDeps {
  notifier: Notifier;
  logger: Logger;
  /** Bridge Heartbeat → BridgeHeartbeats (the bridge alarm's metric) and BridgeLagSeconds. */
  metrics?: Metrics | undefined;
  deadLetters?: DeadLetterSink | undefined;
}

export function createHandler(deps: NotifierDeps): SqsBatchHandler {
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    const event = validateEvent(parseRecordBody(record));
    if (isEventOf(event, DetailType.BridgeHeartbeat)) {
      const beat = event.detail;
      deps.metrics?.addMetric(MetricName.BridgeHeartbeats, MetricUnit.Count, 1);
      // Again per beamline, the beamline of the source (what IAM lets only that beamline's bridge send), for its own alarm.
      const beamline = beamlineOfSource(event.source);
      if (beamline && deps.metrics) {
        const perBeamline = deps.metrics.singleMetric();
        perBeamline.addDimension('beamline', beamline);
        perBeamline.addMetric(MetricName.BridgeHeartbeats, MetricUnit.Count, 1);
      }
      deps.metrics?.addMetric(MetricName.BridgeLagSeconds, MetricUnit.Seconds, beat.lag.behind_seconds ?? 0);
      deps.metrics?.publishStoredMetrics();
      const log = beat.healthy ? deps.logger.info.bind(deps.logger) : deps.logger.warn.bind(deps.logger);
      log('bridge heartbeat', {
        beamline: beat.beamline,
        bridgeId: beat.bridge_id,
        healthy: beat.healthy,
        reason: beat.reason,
        lag: beat.lag,
      });
      return;
    }
    let notification;
    if (isEventOf(event, DetailType.RunFailed)) notification = runFailedNotification(event.detail);
    else if (isEventOf(event, DetailType.RunStalled)) notification = runStalledNotification(event.detail);
    else
      throw new ContractError(`notifier takes Run Failed and Run Stalled, not ${event['detail-type']}`, {
        detailType: event['detail-type'],
      });
    await deps.notifier.notify(notification);
    deps.logger.info('notified', { subject: notification.subject, detailType: event['detail-type'] });
  };
  return sqsBatchHandler(recordHandler, { deadLetters: deps.deadLetters, functionName: 'notifier', runUidOf: runUidOfRecord });
}

let built: SqsBatchHandler | undefined;

/** The Lambda entry: clients and configuration are built once (compose.ts), on the first invocation. */
export const handler = async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  built ??= createHandler(composeNotifier(process.env));
  return built(event, context);
};
