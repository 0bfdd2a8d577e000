/**
 * Issue 15 item 5, the function side of the edge (docs/access.md, "The edge"): bridge events are
 * believed only for their own beamline. Against the local environment provisioned from the CDK
 * template (the AWS emulator, real bus rules, queues, DLQs; the real run-recorder, scan-writer and
 * dataset-recorder handlers), a genuine scan of beamline id21 and, from the id16b bridge's source
 * and from the old plain source, a forged RunStart claiming id21's proposal, a forged RunStop and a
 * forged Run Failed naming the genuine run: every forged event is refused with its reason (parked
 * in the function's DLQ), the forged runs are never created, the genuine run is neither stopped
 * nor failed by them and archives, and the victim's dataset holds the genuine scan only.
 *
 * The emulator does not enforce IAM: that the id16b credential cannot send as id21 is proven on the
 * policy JSON (test/infra/stacks.test.ts); here the functions' own check is proven.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import type { LocalLambdaRunner } from '../../local/runner.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { DynamoDbDatasetCatalogue } from '../../src/adapters/dynamodb-dataset-catalogue.js';
import { ParkedAttribute } from '../../src/adapters/sqs-dead-letter-queue.js';
import type { BusEvent } from '../../src/core/contract/validators.js';
import { receiveAll } from '../support/sqs-helpers.js';
import { sampleScan } from '../unit/archive-fixtures.js';

const ID21 = 'beamline-archive.bridge.id21';
const ID16B = 'beamline-archive.bridge.id16b';
const PLAIN = 'beamline-archive.bridge';

describe('forged bridge events (the edge, function side)', () => {
  let env: LocalEnvironment;
  let runner: LocalLambdaRunner;
  let runs: DynamoDbRunCatalogue;
  let datasets: DynamoDbDatasetCatalogue;
  const put = async (events: BusEvent[], source?: string) => {
    for (let i = 0; i < events.length; i += 10) {
      const out = await env.clients.events.send(
        new PutEventsCommand({
          Entries: events.slice(i, i + 10).map((e) => ({
            EventBusName: env.resources.bus.name,
            Source: source ?? e.source,
            DetailType: e['detail-type'],
            Detail: JSON.stringify(e.detail),
          })),
        }),
      );
      assert.equal(out.FailedEntryCount ?? 0, 0);
    }
  };
  const parked = async (fn: string) =>
    (await receiveAll(env.clients.sqs, env.resources.functions[fn]!.dlqUrl!, { consume: true })).map((m) => ({
      body: JSON.parse(m.Body!) as BusEvent,
      error: m.MessageAttributes?.[ParkedAttribute.Error]?.StringValue,
      reason: m.MessageAttributes?.[ParkedAttribute.Reason]?.StringValue ?? '',
    }));

  // The victim: proposal p1 at id21, dataset 0001.
  const bucketOf = () => env.resources.bucket.name;
  let genuine: ReturnType<typeof sampleScan>;
  let forged: ReturnType<typeof sampleScan>;
  let legacy: ReturnType<typeof sampleScan>;
  const policy = { proposal: 'p1', beamline: 'id21', session: '20261122', collection: 'sample1', dataset: '0001' };

  before(async () => {
    env = await startLocalEnvironment({ redis: false });
    runs = new DynamoDbRunCatalogue(env.clients.dynamo, env.resources.table.name);
    datasets = new DynamoDbDatasetCatalogue(env.clients.dynamo, env.resources.table.name);
    const bucket = bucketOf();
    genuine = sampleScan(6, { runUid: '01M80JDTHSB2YF8F4WA7YZ6G21', scanId: 1, beamline: 'id21', proposal: 'p1', bucket });
    forged = sampleScan(6, { runUid: '01M80JDTHSB2YF8F4WA7YZ6F16', scanId: 2, beamline: 'id21', proposal: 'p1', bucket });
    legacy = sampleScan(6, { runUid: '01M80JDTHSB2YF8F4WA7YZ6L00', scanId: 3, beamline: 'id21', proposal: 'p1', bucket });
    for (const o of [...genuine.chunks, ...(genuine.scanInfo ? [genuine.scanInfo] : [])]) {
      await env.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: o.key, Body: o.bytes }));
    }
    runner = await env.startRunner({
      functions: ['run-recorder', 'scan-writer', 'dataset-recorder'],
      retryVisibilityTimeoutSeconds: 0,
      log: () => undefined,
      environment: { LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' },
    });
  });

  after(async () => {
    await runner?.stop();
    await env?.stop();
  });

  it("refuses forged RunStart, RunStop and Run Failed from another beamline's source and from the plain source, with the reason", async () => {
    assert.equal(genuine.documents[0]!.source, ID21);
    // The genuine scan starts: every document but its RunStop.
    await put(genuine.documents);
    await runner.waitForIdle({ timeoutMs: 60_000 });
    assert.equal((await runs.getRun(genuine.runUid))?.state, 'RECORDING');

    // id16b's bridge claims a new run in id21's proposal p1; an old bridge does the same without a beamline;
    // id16b's bridge stops and fails id21's genuine run.
    await put([forged.documents[0]!], ID16B);
    await put([legacy.documents[0]!], PLAIN);
    await put([genuine.stop], ID16B);
    await put(
      [
        {
          ...genuine.stop,
          'detail-type': 'Run Failed',
          detail: { run_uid: genuine.runUid, stage: 'bridge', reason: 'forged', errors: [] },
        } as unknown as BusEvent,
      ],
      ID16B,
    );
    await runner.waitForIdle({ timeoutMs: 60_000 });

    // Neither forged run exists; the genuine run is as it was: RECORDING, not stopped, not failed.
    assert.equal(await runs.getRun(forged.runUid), undefined);
    assert.equal(await runs.getRun(legacy.runUid), undefined);
    const victim = await runs.getRun(genuine.runUid);
    assert.equal(victim?.state, 'RECORDING');
    assert.equal(victim?.failure, undefined);
    assert.equal(victim?.endTime, undefined, 'the forged RunStop was not recorded');
    assert.deepEqual(victim?.dataPolicy, policy);

    // Each refusal parked with a reason a person can act on, in the function that refused it.
    const recorder = await parked('run-recorder');
    const byRun = (list: typeof recorder, runUid: string, type: string) =>
      list.find((p) => JSON.stringify(p.body.detail).includes(runUid) && p.body['detail-type'] === type);
    assert.match(
      byRun(recorder, forged.runUid, 'RunStart')?.reason ?? '',
      /source beamline-archive\.bridge\.id16b speaks for beamline id16b, but run 01M80JDTHSB2YF8F4WA7YZ6F16 belongs to beamline "id21" \(its data policy names the run\)/,
    );
    assert.match(byRun(recorder, legacy.runUid, 'RunStart')?.reason ?? '', /source beamline-archive\.bridge names no beamline/);
    assert.match(
      byRun(recorder, genuine.runUid, 'RunStop')?.reason ?? '',
      /belongs to beamline "id21" \(the catalogue records it for the run\)/,
    );
    assert.match(
      byRun(recorder, genuine.runUid, 'Run Failed')?.reason ?? '',
      /speaks for beamline id16b, but run 01M80JDTHSB2YF8F4WA7YZ6G21 belongs to beamline "id21"/,
    );
    assert.ok(
      recorder.every((p) => p.error === 'EventSourceRefusedError'),
      JSON.stringify(recorder.map((p) => p.error)),
    );
    assert.equal(recorder.length, 4);
    const writer = await parked('scan-writer');
    assert.deepEqual(
      writer.map((p) => [p.body['detail-type'], p.body.source, p.error]),
      [['RunStop', ID16B, 'EventSourceRefusedError']],
    );
    assert.match(writer[0]!.reason, /run 01M80JDTHSB2YF8F4WA7YZ6G21 belongs to beamline "id21"/);
    const joiner = await parked('dataset-recorder');
    assert.deepEqual(
      joiner.map((p) => [p.body.source, (p.body.detail as { uid: string }).uid]).sort(),
      [
        [PLAIN, legacy.runUid],
        [ID16B, forged.runUid],
      ].sort(),
    );

    // The victim dataset was opened by the genuine scan alone.
    assert.deepEqual(
      (await datasets.listScans(policy)).map((s) => s.runUid),
      [genuine.runUid],
    );
  });

  it('archives the genuine scan, and the victim dataset holds it alone', async () => {
    await put([genuine.stop]);
    await runner.waitForIdle({ timeoutMs: 120_000 });
    const run = await runs.getRun(genuine.runUid);
    assert.equal(run?.state, 'ARCHIVED', JSON.stringify(run?.failure));
    assert.match(run!.file!.key, /^archive\/p1\/id21\/20261122\//);
    const scans = await datasets.listScans(policy);
    assert.deepEqual(
      scans.map((s) => [s.runUid, s.fileKey]),
      [[genuine.runUid, run!.file!.key]],
    );
    for (const fn of ['run-recorder', 'scan-writer', 'dataset-recorder'])
      assert.deepEqual(await parked(fn), [], `${fn} parked nothing of the genuine scan`);
  });
});
