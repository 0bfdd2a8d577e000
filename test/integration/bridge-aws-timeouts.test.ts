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
import { createBridgeAwsClients } from '../../src/adapters/aws-clients.js';
import { emulatorCredentials } from '../../local/aws-target.js';

describe('bridge AWS clients: a request that is never answered', () => {
  let server: Server;
  let endpoint: string;
  const sockets = new Set<Socket>();
  let requests = 0;

  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (d) => { if (/^(PUT|POST) /.test(d.toString('latin1'))) requests++; });
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
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
          send().then(() => 'answered', (error: unknown) => error as Error),
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
