/**
 * Lifecycle by state for runs the bridge fails (issue 14 item 4): a blissdata scan whose counter
 * turns corrupt after 40 points is failed by a real bridge (Run Failed, stage bridge) after it staged
 * the chunks before the corruption; the run-recorder, run by the local runner from the CDK template
 * (moto), records the run FAILED and tags every staged object of it `run-state=failed`, as the
 * scan-writer does for the runs it fails. A good scan followed beside it is left untagged (its
 * writer has not run: it is not terminal).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectTaggingCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import type { LocalLambdaRunner } from '../../local/runner.js';
import { venvPython } from '../../local/services.js';
import { initBlissDataStore, PUBLISHER, run } from '../../local/pipeline.js';
import { connectionTo } from '../../local/aws-target.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { stagingRunPrefix } from '../../src/core/object-keys.js';
import { startBridge, type RunningBridge } from '../../bridge/bridge.js';

async function publish(redisUrl: string, args: string[]): Promise<{ run_uid: string }> {
  const out = await run(venvPython, [PUBLISHER, '--redis', redisUrl, ...args]);
  if (out.code !== 0) throw new Error(`publish_scan.py exited ${out.code}: ${out.stderr.slice(-2000)}`);
  return JSON.parse(out.stdout) as { run_uid: string };
}

describe('staged data of runs the bridge fails: tagged run-state=failed when the run is recorded FAILED', () => {
  let env: LocalEnvironment;
  let runner: LocalLambdaRunner;
  let bridge: RunningBridge | undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'bridge-failed-staging-'));

  before(async () => {
    env = await startLocalEnvironment({ redis: true });
    runner = await env.startRunner({
      functions: ['run-recorder'],
      log: () => undefined,
      retryVisibilityTimeoutSeconds: 0,
      environment: { LOG_LEVEL: 'ERROR' },
    });
    await initBlissDataStore(env.redisUrl!);
  });

  after(async () => {
    await bridge?.stop();
    await env?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('tags every staged chunk of the failed run, and none of the good one', async () => {
    const bucket = env.resources.bucket.name;
    bridge = await startBridge({
      limaRoots: [tmp],
      redisUrl: env.redisUrl!,
      bucket,
      eventBusName: env.resources.bus.name,
      beamline: 'id00',
      aws: connectionTo(env.awsEndpoint),
      from: '0',
      chunkPoints: 8,
      flushIntervalMs: 200,
      logLevel: 'ERROR',
      heartbeatSeconds: 0,
    });
    const [bad, good] = await Promise.all([
      publish(env.redisUrl!, [
        '--type',
        'ascan',
        '--points',
        '100',
        '--counters',
        '2',
        '--batch',
        '10',
        '--number',
        '3',
        '--corrupt',
        'truncated',
        '--corrupt-index',
        '40',
      ]),
      publish(env.redisUrl!, ['--type', 'ascan', '--points', '60', '--counters', '2', '--batch', '10', '--number', '4']),
    ]);
    const status = await bridge.idle(120_000);
    assert.deepEqual([status.failed, status.stopped], [1, 1], JSON.stringify(status));
    await bridge.stop();
    bridge = undefined;
    await runner.waitForIdle({ timeoutMs: 60_000 });

    const catalogue = new DynamoDbRunCatalogue(env.clients.dynamo, env.resources.table.name);
    const failed = await catalogue.getRun(bad.run_uid);
    assert.equal(failed?.state, 'FAILED', JSON.stringify(failed));
    const keysOf = async (runUid: string) =>
      (
        (await env.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: stagingRunPrefix('id00', runUid) }))).Contents ?? []
      ).map((o) => o.Key!);
    const tagsOf = async (key: string) =>
      (await env.clients.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet ?? [];

    const staged = await keysOf(bad.run_uid);
    // The points before the corrupt entry (40, in chunks of 8) were staged before the bridge failed the run.
    assert.ok(staged.length >= 5, `chunks staged before the failure: ${staged.join(', ')}`);
    for (const key of staged)
      assert.deepEqual(await tagsOf(key), [{ Key: 'run-state', Value: 'failed' }], `${key} follows the FAILED lifecycle`);

    const goodKeys = await keysOf(good.run_uid);
    assert.ok(goodKeys.length > 0);
    assert.notEqual((await catalogue.getRun(good.run_uid))?.state, 'FAILED');
    for (const key of goodKeys) assert.deepEqual(await tagsOf(key), [], `${key}: its run is not terminal, untagged`);
  });
});
