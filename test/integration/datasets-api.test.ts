/**
 * The dataset lifecycle through the local environment: the app's templates provisioned in moto,
 * the runner playing the dataset-recorder, the gateway serving dataset-api's function URL (SigV4),
 * the CLI as a subprocess, and the lifecycle events caught on the bus by a rule of this test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import type { HttpGateway } from '../../local/http-gateway.js';
import { projectRoot } from '../../local/services.js';
import { signedRequest } from '../../src/adapters/signed-http.js';
import { loadJson, samplePath } from '../../src/core/contract/schema-files.js';
import { validateEvent } from '../../src/core/contract/validators.js';
import { safeSegment } from '../../src/core/object-keys.js';
import { eventually, receiveAll } from '../support/sqs-helpers.js';
import { bridgeSourceOf } from '../../src/core/access/edge-source.js';
import { credentialsEnvironment, emulatorCredentials } from '../../local/aws-target.js';

const credentials = emulatorCredentials();

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/beamline-archive.mjs', 'dataset', ...args], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', ...credentialsEnvironment(), AWS_REGION: 'eu-west-1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

describe('datasets through the bus, the API (function URL) and the CLI', () => {
  let env: LocalEnvironment;
  let gateway: HttpGateway;
  let url: string;
  let watchQueue: string;
  const id = 'ihch999/id00/20261122/sample1/0001';

  before(async () => {
    env = await startLocalEnvironment({ redis: false });
    await env.startRunner({ log: () => undefined });
    gateway = await env.startHttpGateway();
    url = gateway.urlOf('dataset-api').replace(/\/$/, '');
    // A rule of the test: every dataset event on the bus lands in a queue we read.
    const queue = await env.clients.sqs.send(new CreateQueueCommand({ QueueName: `${env.resources.bus.name}-watch` }));
    watchQueue = queue.QueueUrl!;
    const arn = (await env.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: watchQueue, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    await env.clients.events.send(
      new PutRuleCommand({
        Name: 'watch-datasets',
        EventBusName: env.resources.bus.name,
        EventPattern: JSON.stringify({ source: ['beamline-archive.datasets'] }),
      }),
    );
    await env.clients.events.send(
      new PutTargetsCommand({ Rule: 'watch-datasets', EventBusName: env.resources.bus.name, Targets: [{ Id: 'q', Arn: arn }] }),
    );
  });
  after(async () => {
    await env?.stop();
  });

  const api = (path: string, method = 'GET', body?: unknown) =>
    signedRequest({ url: `${url}${path}`, method, ...(body !== undefined ? { body } : {}) }, { region: env.region, credentials });

  it('CLI: open, add-technique, set, get, missing, close, list — with clear errors', async () => {
    const cliEnv = { DATASET_API_URL: url };
    const opened = await cli(['open', id, '--technique', 'FLUO', '--set', 'Sample_description=gold foil'], cliEnv);
    assert.equal(opened.code, 0, opened.stderr);
    assert.equal(JSON.parse(opened.stdout).state, 'OPEN');
    assert.equal((await cli(['add-technique', id, 'SAXS'], cliEnv)).code, 0);
    const set = await cli(['set', id, 'FLUO_i0=1.5e5', 'scanNumber=3'], cliEnv);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).FLUO_i0, '1.5e5');
    assert.equal(JSON.parse((await cli(['get', id, 'Sample_description'], cliEnv)).stdout), 'gold foil');
    const missing = JSON.parse((await cli(['missing', id], cliEnv)).stdout) as {
      mandatory: string[];
      techniques: Record<string, string[]>;
    };
    assert.deepEqual(missing.mandatory, ['endDate']);
    assert.ok(missing.techniques.FLUO!.includes('FLUO_it'));

    const typo = await cli(['set', id, 'FLUO_dweltime=0.1'], cliEnv);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /unknown ICAT field "FLUO_dweltime".*did you mean FLUO_dwellTime\? \(HTTP 400\)/);
    // A hostile name is keyed by the one naming rule (the scan writer's folder), never refused (ADR 0013).
    const hostile = await cli(['open', 'ihch998/id00/20261122/sample1/..'], cliEnv);
    assert.equal(hostile.code, 0, hostile.stderr);
    assert.ok(hostile.stdout.includes(`ihch998/id00/20261122/sample1/${safeSegment('..')}`), hostile.stdout);
    const empty = await cli(['open', 'ihch998/id00/20261122//d'], cliEnv);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /collection is missing/);
    const usage = await cli(['set', id], cliEnv);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /set needs at least one NAME=VALUE/);
    const noUrl = await cli(['missing', id], {});
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /--url \(or DATASET_API_URL\) is required/);
    const help = await cli(['--help'], {});
    assert.equal(help.code, 0);
    assert.match(help.stdout, /add-technique <id> <TECHNIQUE>/);

    const closed = await cli(['close', id], cliEnv);
    assert.equal(closed.code, 0, closed.stderr);
    const record = JSON.parse(closed.stdout) as { state: string; master_file: { key: string }; missing: { mandatory: string[] } };
    assert.equal(record.state, 'CLOSED');
    assert.deepEqual(record.missing.mandatory, []);
    assert.equal(record.master_file.key, 'archive/ihch999/id00/20261122/sample1/sample1_0001/sample1_0001.h5');
    const again = await cli(['set', id, 'FLUO_it=1'], cliEnv);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is closed since .*: it takes no new techniques or metadata \(HTTP 409\)/);
    const listed = JSON.parse((await cli(['list', '--proposal', 'ihch999'], cliEnv)).stdout) as { id: string }[];
    assert.deepEqual(
      listed.map((d) => d.id),
      [id],
    );
  });

  it('API: refuses unsigned requests (401: anonymous, sign in), maps errors to 400/404/409 without internals', async () => {
    assert.equal((await fetch(`${url}/datasets/${id}`)).status, 401);
    // An unsigned list is anonymous: public datasets only (none here).
    assert.deepEqual(await (await fetch(`${url}/datasets?open=true`)).json(), { datasets: [] });
    const nonString = await api('/datasets', 'POST', {
      dataset: { proposal: 'ihch999', beamline: 'id00', session: 's1', collection: 'c', dataset: 'd' },
      metadata: { Sample_name: 42 },
    });
    assert.equal(nonString.status, 400);
    assert.match((nonString.json as { error: string }).error, /Sample_name: ICAT values are strings, got number/);
    const unknown = await api(`/datasets/${id}/techniques`, 'POST', { technique: 'FLOU' });
    assert.equal(unknown.status, 400);
    assert.deepEqual((unknown.json as { suggestions: string[] }).suggestions, ['FLUO']);
    assert.equal((await api('/datasets/ihch999/id00/20261122/sample1/nope')).status, 404);
    assert.equal((await api(`/datasets/${id}/close`, 'POST')).status, 409);
    assert.equal((await api('/nothing')).status, 404);
  });

  it('puts Dataset Opened / Metadata Updated / Closed on the bus, each valid against events/', async () => {
    await eventually(async () => (await receiveAll(env.clients.sqs, watchQueue)).length >= 4, 20_000, 'dataset events');
    const messages = await receiveAll(env.clients.sqs, watchQueue, { consume: true });
    const events = messages.map((m) => validateEvent(JSON.parse(m.Body!)));
    const types = events.map((e) => e['detail-type']);
    assert.ok(types.includes('Dataset Opened'));
    assert.ok(types.filter((t) => t === 'Dataset Metadata Updated').length >= 2);
    assert.ok(types.includes('Dataset Closed'));
  });

  it('a RunStart on the bus makes the scan join its dataset (opened from the bridge snapshot)', async () => {
    const sample = loadJson(samplePath('run-start')) as { detail: { data_policy: Record<string, string>; uid: string } };
    const policy: Record<string, string> = { ...sample.detail.data_policy, proposal: 'ihch999', dataset: '0002' };
    const detail = { ...sample.detail, data_policy: policy };
    await env.clients.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: env.resources.bus.name,
            Source: bridgeSourceOf(detail.data_policy.beamline!),
            DetailType: 'RunStart',
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    );
    const path = `/datasets/ihch999/${detail.data_policy.beamline}/${detail.data_policy.session}/${detail.data_policy.collection}/0002`;
    await eventually(async () => (await api(path)).status === 200, 20_000, 'dataset opened by the recorder');
    const record = (await api(path)).json as { origin: string; state: string };
    assert.equal(record.origin, 'bridge');
    const scans = (await api(`${path}/scans`)).json as { scans: { runUid: string }[] };
    assert.deepEqual(
      scans.scans.map((s) => s.runUid),
      [detail.uid],
    );
  });
});
