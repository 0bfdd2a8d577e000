/**
 * A loopback endpoint for benchmarks that answers S3 object writes and EventBridge PutEvents itself
 * and forwards everything else to the AWS emulator. The body of each PUT is read to its end and
 * counted, then dropped; a PutEvents request is parsed and every entry accepted. The bridge does all
 * its own work (cutting, hashing, validating, signing, sending) but no emulator bounds its rate.
 * Only for measuring the bridge's own throughput next to bench/bridge-throughput.ts's emulator
 * figures; never for correctness.
 */
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const STATS_PATH = '/__sink_stats';

export interface SinkStats {
  /** Object PUTs answered and the body bytes they carried. */
  puts: number;
  bytes: number;
  putEventsEntries: number;
  /** CPU time of the sink's process so far (s). */
  cpuSeconds: number;
}

export interface S3Sink {
  url: string;
  /** As of `stop` (or the last `read`). */
  stats: SinkStats;
  /** The sink's counters now. */
  read(): Promise<SinkStats>;
  stop(): Promise<void>;
}

/** The sink in this process (its HTTP parsing shares the caller's event loop). */
export async function startS3Sink(emulatorUrl: string): Promise<S3Sink> {
  const target = new URL(emulatorUrl);
  const stats: SinkStats = { puts: 0, bytes: 0, putEventsEntries: 0, cpuSeconds: 0 };
  const cpu = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  };
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === STATS_PATH) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ...stats, cpuSeconds: cpu() }));
      return;
    }
    if (req.headers['x-amz-target'] === undefined && req.method === 'PUT') {
      req.on('data', (chunk: Buffer) => {
        stats.bytes += chunk.length;
      });
      req.on('end', () => {
        stats.puts += 1;
        res.writeHead(200, { ETag: `"${stats.puts.toString(16).padStart(32, '0')}"`, 'Content-Length': '0' });
        res.end();
      });
      return;
    }
    if (req.headers['x-amz-target'] === 'AWSEvents.PutEvents') {
      const parts: Buffer[] = [];
      req.on('data', (chunk: Buffer) => parts.push(chunk));
      req.on('end', () => {
        const entries = (JSON.parse(Buffer.concat(parts).toString('utf8')) as { Entries?: unknown[] }).Entries ?? [];
        stats.putEventsEntries += entries.length;
        const body = JSON.stringify({
          FailedEntryCount: 0,
          Entries: entries.map((_, i) => ({ EventId: `sink-${stats.putEventsEntries}-${i}` })),
        });
        res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    const forwarded = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    forwarded.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    read: async () => Object.assign(stats, { cpuSeconds: cpu() }),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The sink in a process of its own, so that receiving the bodies costs the measured process
 * nothing (as an S3 endpoint would); `stats` is fetched from it when `stop` is called.
 */
export async function startS3SinkProcess(emulatorUrl: string): Promise<S3Sink> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), emulatorUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = /^(http:\/\/\S+)\n/.exec(out);
      if (line) resolve(line[1]!);
    });
    child.once('exit', (code) => reject(new Error(`sink process exited (${code}) before listening`)));
  });
  const stats: SinkStats = { puts: 0, bytes: 0, putEventsEntries: 0, cpuSeconds: 0 };
  const read = async () => Object.assign(stats, (await (await fetch(`${url}${STATS_PATH}`)).json()) as SinkStats);
  return {
    url,
    stats,
    read,
    async stop() {
      await read();
      child.kill();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!process.argv[2]) throw new Error('usage: s3-sink-proxy.ts <emulator endpoint URL>');
  const sink = await startS3Sink(process.argv[2]);
  process.stdout.write(`${sink.url}\n`);
}
