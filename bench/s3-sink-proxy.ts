/**
 * A loopback endpoint for benchmarks that answers S3 object writes itself and forwards everything
 * else (EventBridge, identified by its X-Amz-Target header) to the AWS emulator. The body of each
 * PUT is read to its end and counted, then dropped: the bridge does all its own work (cutting,
 * hashing, signing, sending) but no emulator bounds its rate. Only for measuring the bridge's own
 * throughput next to bench/bridge-throughput.ts's emulator figures; never for correctness.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface S3Sink {
  url: string;
  /** Object PUTs answered and the body bytes they carried. */
  stats: { puts: number; bytes: number };
  stop(): Promise<void>;
}

export async function startS3Sink(emulatorUrl: string): Promise<S3Sink> {
  const target = new URL(emulatorUrl);
  const stats = { puts: 0, bytes: 0 };
  const server: Server = createServer((req, res) => {
    if (req.headers['x-amz-target'] === undefined && req.method === 'PUT') {
      req.on('data', (chunk: Buffer) => { stats.bytes += chunk.length; });
      req.on('end', () => {
        stats.puts += 1;
        res.writeHead(200, { ETag: `"${(stats.puts).toString(16).padStart(32, '0')}"`, 'Content-Length': '0' });
        res.end();
      });
      return;
    }
    const forwarded = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    });
    forwarded.on('error', (error) => { res.writeHead(502); res.end(String(error)); });
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
