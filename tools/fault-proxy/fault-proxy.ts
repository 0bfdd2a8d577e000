#!/usr/bin/env node
/**
 * A small HTTP proxy on loopback in front of the AWS emulator that injects AWS faults with a
 * seeded random generator, for the bridge's fault-injection suite (test/faults/):
 *
 * - PutEvents: a share of the entries fail (ThrottlingException or InternalFailure, as AWS reports
 *   partial failures: HTTP 200, FailedEntryCount, ErrorCode per entry); only the other entries are
 *   forwarded. A share of whole requests fail with HTTP 500 or a 400 ThrottlingException.
 * - S3: a share of requests fail with 500 InternalError, half of them before reaching the
 *   emulator, half after it stored the object (the client sees a failure for a write that
 *   happened); a share are delayed by `s3DelayMs`.
 *
 *   npx tsx tools/fault-proxy/fault-proxy.ts --target http://127.0.0.1:5000 --port 5001 --seed 7 --s3-fail 0.1 --events-fail 0.1
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

export interface FaultRates {
  /** Share of PutEvents entries that fail (per entry). */
  putEventsEntryFail: number;
  /** Share of PutEvents requests that fail as a whole. */
  putEventsRequestFail: number;
  /** Share of S3 requests answered 500. */
  s3Fail: number;
  /** Share of S3 requests delayed by `s3DelayMs`. */
  s3Delay: number;
  s3DelayMs: number;
}

export interface FaultStats {
  requests: number;
  putEventsEntriesFailed: number;
  putEventsRequestsFailed: number;
  s3Failed: number;
  s3FailedAfterWrite: number;
  s3Delayed: number;
}

export interface FaultProxy {
  url: string;
  port: number;
  stats: FaultStats;
  rates: FaultRates;
  stop(): Promise<void>;
}

export const noFaults: FaultRates = { putEventsEntryFail: 0, putEventsRequestFail: 0, s3Fail: 0, s3Delay: 0, s3DelayMs: 0 };

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.once('end', () => resolve(Buffer.concat(parts)));
    req.once('error', reject);
  });
}

interface Forwarded {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function forward(target: URL, req: IncomingMessage, body: Buffer): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    delete headers.expect;
    const out = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.once('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(parts) }));
        res.once('error', reject);
      },
    );
    out.once('error', reject);
    out.end(body);
  });
}

function reply(res: ServerResponse, status: number, headers: Record<string, string | string[] | undefined>, body: Buffer | string): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const clean: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || ['content-length', 'transfer-encoding', 'connection'].includes(k.toLowerCase())) continue;
    clean[k] = v;
  }
  res.writeHead(status, { ...clean, 'content-length': String(bytes.length) });
  res.end(bytes);
}

const S3_500 = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by fault-proxy</Message></Error>';

export async function startFaultProxy(options: {
  target: string;
  seed: number;
  rates?: Partial<FaultRates>;
  port?: number;
}): Promise<FaultProxy> {
  const target = new URL(options.target);
  const random = seededRandom(options.seed);
  const rates: FaultRates = { ...noFaults, ...options.rates };
  const stats: FaultStats = {
    requests: 0,
    putEventsEntriesFailed: 0,
    putEventsRequestsFailed: 0,
    s3Failed: 0,
    s3FailedAfterWrite: 0,
    s3Delayed: 0,
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const body = await readBody(req);
    const amzTarget = String(req.headers['x-amz-target'] ?? '');
    if (amzTarget === 'AWSEvents.PutEvents') return putEvents(req, res, body);
    if (amzTarget) {
      const out = await forward(target, req, body);
      return reply(res, out.status, out.headers, out.body);
    }
    // S3 (the only other service the bridge talks to).
    if (random() < rates.s3Delay) {
      stats.s3Delayed++;
      await new Promise((r) => setTimeout(r, rates.s3DelayMs));
    }
    if (random() < rates.s3Fail) {
      stats.s3Failed++;
      if (random() < 0.5) {
        stats.s3FailedAfterWrite++;
        await forward(target, req, body);
      }
      return reply(res, 500, { 'content-type': 'application/xml' }, S3_500);
    }
    const out = await forward(target, req, body);
    return reply(res, out.status, out.headers, out.body);
  }

  async function putEvents(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const json = { 'content-type': 'application/x-amz-json-1.1' };
    if (random() < rates.putEventsRequestFail) {
      stats.putEventsRequestsFailed++;
      if (random() < 0.5) return reply(res, 500, json, JSON.stringify({ __type: 'InternalException', message: 'injected by fault-proxy' }));
      return reply(res, 400, json, JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded (injected by fault-proxy)' }));
    }
    const request = JSON.parse(body.toString('utf8')) as { Entries: unknown[] };
    const fails = request.Entries.map(() => random() < rates.putEventsEntryFail);
    const kept = request.Entries.filter((_, i) => !fails[i]);
    let results: { EventId?: string; ErrorCode?: string; ErrorMessage?: string }[] = [];
    if (kept.length > 0) {
      const out = await forward(target, req, Buffer.from(JSON.stringify({ ...request, Entries: kept })));
      if (out.status !== 200) return reply(res, out.status, out.headers, out.body);
      results = (JSON.parse(out.body.toString('utf8')) as { Entries: typeof results }).Entries;
    }
    let next = 0;
    const entries = fails.map((fail) => {
      if (!fail) return results[next++] ?? { ErrorCode: 'InternalFailure', ErrorMessage: 'no result from the emulator' };
      stats.putEventsEntriesFailed++;
      return random() < 0.5
        ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded (injected by fault-proxy)' }
        : { ErrorCode: 'InternalFailure', ErrorMessage: 'injected by fault-proxy' };
    });
    const failed = entries.filter((e) => e.ErrorCode).length;
    return reply(res, 200, json, JSON.stringify({ FailedEntryCount: failed, Entries: entries }));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 502, { 'content-type': 'text/plain' }, `fault-proxy: ${String(error)}`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 1_000;
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    rates,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      port: { type: 'string' },
      seed: { type: 'string' },
      's3-fail': { type: 'string' },
      'events-fail': { type: 'string' },
      'events-request-fail': { type: 'string' },
    },
  });
  if (!values.target) {
    process.stderr.write(
      'usage: fault-proxy.ts --target URL [--port N] [--seed N] [--s3-fail 0.1] [--events-fail 0.1] [--events-request-fail 0.02]\n',
    );
    process.exit(2);
  }
  const proxy = await startFaultProxy({
    target: values.target,
    seed: Number(values.seed ?? 1),
    ...(values.port ? { port: Number(values.port) } : {}),
    rates: {
      s3Fail: Number(values['s3-fail'] ?? 0.1),
      putEventsEntryFail: Number(values['events-fail'] ?? 0.1),
      putEventsRequestFail: Number(values['events-request-fail'] ?? 0.02),
    },
  });
  process.stdout.write(`fault-proxy on ${proxy.url} → ${values.target}\n`);
  process.once('SIGTERM', () => void proxy.stop().then(() => process.exit(0)));
  process.once('SIGINT', () => void proxy.stop().then(() => process.exit(0)));
}
