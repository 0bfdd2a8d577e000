/** The notifier (functions/notifier): one message per Run Failed / Run Stalled, heartbeats counted, not sent. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { SQSEvent } from 'aws-lambda';
import { createHandler } from '../../functions/notifier/handler.js';
import { createLogger } from '../../src/adapters/logger.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import type { Notification } from '../../src/core/archive/notifications.js';
import { samplePath } from '../../src/core/contract/schema-files.js';

const event = (...slugs: string[]): SQSEvent => ({
  Records: slugs.map((slug, i) => ({
    messageId: `m${i}`,
    receiptHandle: `r${i}`,
    body: readFileSync(samplePath(slug), 'utf8'),
    md5OfBody: '',
    messageAttributes: {},
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:q',
    awsRegion: 'eu-west-1',
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
  })),
});

describe('notifier', () => {
  it('tells people about failed and stalled runs, with the reason and the first command to run', async () => {
    const sent: Notification[] = [];
    const metrics = createMetrics('notifier');
    const added: string[] = [];
    metrics.addMetric = ((name: string) => {
      added.push(name);
      return metrics;
    }) as unknown as typeof metrics.addMetric;
    metrics.publishStoredMetrics = (() => undefined) as unknown as typeof metrics.publishStoredMetrics;
    const handler = createHandler({
      notifier: {
        notify: async (n) => {
          sent.push(n);
        },
      },
      logger: createLogger('notifier', 'ERROR'),
      metrics,
    });
    const out = await handler(event('run-failed', 'run-stalled', 'bridge-heartbeat'));
    assert.deepEqual(out.batchItemFailures, []);
    assert.deepEqual(
      sent.map((n) => n.subject),
      ['[beamline-archive] run 01M80JDTHSB2YF8F4WA7YZ6EZT FAILED (bridge)', '[beamline-archive] run 01M80JDTHSB2YF8F4WA7YZ6EZT STALLED'],
    );
    assert.match(sent[0]!.message, /Reason: stream payload could not be decoded/);
    assert.match(sent[0]!.message, /simulation_diode_sampling_controller:diode1\[4\]: payload of 3 bytes/);
    assert.match(sent[0]!.message, /What to do: beamline-archive runs show 01M80JDTHSB2YF8F4WA7YZ6EZT/);
    assert.match(sent[1]!.message, /points \[100, 200\) of simulation_diode_sampling_controller:diode1 have no StreamDatum/);
    assert.match(sent[1]!.message, /Dataset: ihch123\/id00\/20261122\/sample1\/0001/);
    assert.deepEqual(added, ['BridgeHeartbeats', 'BridgeLagSeconds'], 'a heartbeat is counted (the bridge alarm reads it), not mailed');
    for (const n of sent) assert.ok(n.subject.length <= 100 && /^[\x20-\x7e]+$/.test(n.subject));
  });
});
