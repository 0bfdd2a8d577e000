import { Redis } from 'ioredis';
import { InvalidInputError } from '../core/errors.js';
import { parseScanJson, type BlissScan } from '../core/bliss/scan-model.js';
import type { HistoryEntry, ScanSource, StreamEntry, StreamReader } from '../core/bliss/scan-source.js';

/** blissdata's stream of scan creations. */
export const SCAN_HISTORY_KEY = '_SCAN_HISTORY_';
/** Scans whose key expires within this many seconds are being deleted by blissdata: skip them. */
const DYING_TTL_SECONDS = 10;

type RawEntry = [Buffer, Buffer[]];
type RawXread = [Buffer, RawEntry[]][] | null;

function fieldsOf(flat: Buffer[]): Map<string, Buffer> {
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!.toString('utf8'), flat[i + 1]!);
  return fields;
}

/** XREAD on the binary-safe path (payloads stay Buffers). */
async function xread(
  redis: Redis,
  cursors: ReadonlyMap<string, string>,
  count: number,
  blockMs: number | undefined,
): Promise<Map<string, StreamEntry[]>> {
  const keys = [...cursors.keys()];
  const args: (string | number)[] = ['COUNT', count];
  if (blockMs !== undefined) args.push('BLOCK', Math.max(1, Math.round(blockMs)));
  args.push('STREAMS', ...keys, ...keys.map((k) => cursors.get(k)!));
  const raw = (await redis.callBuffer('XREAD', ...args)) as RawXread;
  const out = new Map<string, StreamEntry[]>();
  for (const [key, entries] of raw ?? []) {
    out.set(
      key.toString('utf8'),
      entries.map(([id, flat]) => ({ id: id.toString('latin1'), fields: fieldsOf(flat ?? []) })),
    );
  }
  return out;
}

class RedisStreamReader implements StreamReader {
  constructor(private readonly redis: Redis) {}

  read(cursors: ReadonlyMap<string, string>, count: number, blockMs?: number): Promise<Map<string, StreamEntry[]>> {
    return xread(this.redis, cursors, count, blockMs);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** Connection trouble, for logs and the status view. */
export interface RedisSourceEvents {
  onError?(role: string, error: Error): void;
  onReconnecting?(role: string): void;
}

/**
 * ScanSource on blissdata's Redis: `_SCAN_HISTORY_` is followed on a connection of its own (XREAD
 * BLOCK), scan JSON is read with JSON.GET on a shared connection, and each followed scan gets a
 * dedicated connection for its blocking reads.
 */
export class RedisScanSource implements ScanSource {
  private readonly commands: Redis;
  private readonly history: Redis;
  private readonly readers = new Set<Redis>();

  /** Reconnection attempts so far, every connection counted. */
  reconnects = 0;

  constructor(
    private readonly url: string,
    private readonly events: RedisSourceEvents = {},
  ) {
    this.commands = this.connect('commands');
    this.history = this.connect('history');
  }

  private connect(role: string): Redis {
    // RESP2: XREAD replies keep their documented [[key, entries], …] shape. Commands wait while
    // disconnected (no retry limit) and are resent after the reconnection, which backs off
    // exponentially from 100 ms to 5 s.
    const redis = new Redis(this.url, {
      connectionName: `beamline-archive-bridge-${role}`,
      maxRetriesPerRequest: null,
      protocol: 2,
      retryStrategy: (times) => Math.min(5_000, 100 * 2 ** Math.min(times - 1, 6)),
    });
    redis.on('error', (error: Error) => this.events.onError?.(role, error));
    redis.on('reconnecting', () => {
      this.reconnects++;
      this.events.onReconnecting?.(role);
    });
    return redis;
  }

  async resolveHistoryId(id: string): Promise<string> {
    if (id !== '$') return id;
    const last = (await this.commands.callBuffer('XREVRANGE', SCAN_HISTORY_KEY, '+', '-', 'COUNT', 1)) as RawEntry[];
    return last[0]?.[0].toString('latin1') ?? '0-0';
  }

  async readHistory(afterId: string, count: number, blockMs: number): Promise<HistoryEntry[]> {
    const read = await xread(this.history, new Map([[SCAN_HISTORY_KEY, afterId]]), count, blockMs);
    return (read.get(SCAN_HISTORY_KEY) ?? []).map((e) => ({ id: e.id, scanKey: e.fields.get('key')?.toString('utf8') ?? '' }));
  }

  async isGone(scanKey: string): Promise<boolean> {
    const ttl = await this.commands.ttl(scanKey);
    return ttl === -2 || (ttl >= 0 && ttl <= DYING_TTL_SECONDS);
  }

  async readScan(scanKey: string): Promise<BlissScan | undefined> {
    const text = (await this.commands.call('JSON.GET', scanKey)) as string | null;
    if (text === null) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new InvalidInputError(`scan ${scanKey}: the scan JSON does not parse`, { scanKey }, { cause: error });
    }
    return parseScanJson(scanKey, parsed);
  }

  async cursorForIndex(streamKey: string, index: number): Promise<string> {
    if (index <= 0) return '0-0';
    const raw = (await this.commands.callBuffer('XREVRANGE', streamKey, `${index}-1`, '-', 'COUNT', 1)) as RawEntry[];
    const id = raw[0]?.[0].toString('latin1');
    if (!id) return '0-0';
    const start = BigInt(id.split('-')[0] ?? '0');
    return `${start}-0`;
  }

  async lastState(stateStreamKey: string): Promise<number | undefined> {
    const raw = (await this.commands.callBuffer('XREVRANGE', stateStreamKey, '+', '-', 'COUNT', 1)) as RawEntry[];
    const entry = raw[0];
    if (!entry) return undefined;
    const state = fieldsOf(entry[1] ?? [])
      .get('state')
      ?.toString('latin1');
    return state === undefined ? undefined : Number(state);
  }

  openReader(): StreamReader {
    const redis = this.connect('scan');
    this.readers.add(redis);
    redis.once('end', () => this.readers.delete(redis));
    return new RedisStreamReader(redis);
  }

  async close(): Promise<void> {
    for (const redis of this.readers) redis.disconnect();
    this.history.disconnect();
    await this.commands.quit().catch(() => undefined);
  }
}
