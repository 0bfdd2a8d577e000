/**
 * A connection that accepts and never answers (a stuck proxy, a half-dead NAT) must not hold a
 * bridge request for ever: the bridge's S3 and EventBridge clients abandon it after the request
 * timeout, and the SDK retries it like a 5xx. Loopback only: a TCP server that reads and never writes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { awsConnectionFromEnv, createAwsClients, createBridgeAwsClients, FUNCTION_AWS_TIMEOUTS } from '../../src/adapters/aws-clients.js';
import { emulatorCredentials } from '../../local/aws-target.js';

describe('bridge AWS clients: a request that is never answered', () => {
  let server: Server;
  let endpoint: string;
  const sockets = new Set<Socket>();
  let requests = 0;

  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (d) => {
        if (/^(PUT|POST) /.test(d.toString('latin1'))) requests++;
      });
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  // Issue 15 item 6: the functions' clients (every composition root builds them with createAwsClients(awsConnectionFromEnv())).
  it("the functions' clients (S3, DynamoDB, EventBridge, SQS) are abandoned after their request timeout too", async () => {
    assert.deepEqual(awsConnectionFromEnv({}).timeouts, FUNCTION_AWS_TIMEOUTS);
    assert.throws(() => awsConnectionFromEnv({ AWS_REQUEST_TIMEOUT_MS: 'soon' }), /AWS_REQUEST_TIMEOUT_MS must be a positive number/);
    const conn = {
      ...awsConnectionFromEnv({
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: 'eu-west-1',
        AWS_REQUEST_TIMEOUT_MS: '300',
        AWS_CONNECT_TIMEOUT_MS: '1000',
      }),
      credentials: emulatorCredentials(),
    };
    assert.deepEqual(conn.timeouts, { requestMs: 300, connectMs: 1000 });
    const clients = createAwsClients(conn);
    try {
      for (const [name, send] of [
        ['s3', () => clients.s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'archive/x.tmp', Body: Buffer.alloc(10) }))],
        ['dynamodb', () => clients.dynamo.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }))],
        [
          'events',
          () =>
            clients.events.send(new PutEventsCommand({ Entries: [{ Source: 's', DetailType: 'd', Detail: '{}', EventBusName: 'bus' }] })),
        ],
        ['sqs', () => clients.sqs.send(new SendMessageCommand({ QueueUrl: `${endpoint}/123456789012/q`, MessageBody: 'x' }))],
      ] as const) {
        const t0 = Date.now();
        const outcome = await Promise.race([
          send().then(
            () => 'answered',
            (error: unknown) => error as Error,
          ),
          new Promise<string>((r) => setTimeout(() => r('still waiting after 15 s'), 15_000)),
        ]);
        assert.ok(outcome instanceof Error, `${name}: expected a timeout error, got ${String(outcome)}`);
        assert.match(`${outcome.name} ${outcome.message}`, /timeout|timed out/i, name);
        assert.ok(Date.now() - t0 < 15_000, name);
      }
    } finally {
      for (const client of [clients.s3, clients.dynamo, clients.events, clients.sqs, clients.sns]) client.destroy();
    }
  });

  it('is abandoned after the request timeout and retried, S3 and EventBridge alike', async () => {
    const conn = { region: 'eu-west-1', endpoint, credentials: emulatorCredentials() };
    const { s3, events } = createBridgeAwsClients(conn, { requestMs: 300, connectMs: 1_000 });
    try {
      for (const send of [
        () => s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'staging/run/ch/0-10', Body: Buffer.alloc(100) })),
        () => events.send(new PutEventsCommand({ Entries: [{ Source: 's', DetailType: 'd', Detail: '{}', EventBusName: 'bus' }] })),
      ]) {
        const before = requests;
        const t0 = Date.now();
        // Without throwOnRequestTimeout the SDK only warns at the timeout and the promise never settles.
        const outcome = await Promise.race([
          send().then(
            () => 'answered',
            (error: unknown) => error as Error,
          ),
          new Promise<string>((r) => setTimeout(() => r('still waiting after 10 s'), 10_000)),
        ]);
        assert.ok(outcome instanceof Error, `expected a timeout error, got ${String(outcome)}`);
        assert.match(`${outcome.name} ${outcome.message}`, /timeout|timed out/i);
        assert.ok(requests - before >= 2, `retried: ${requests - before} requests`);
        assert.ok(Date.now() - t0 < 10_000);
      }
    } finally {
      s3.destroy();
      events.destroy();
    }
  });
});
