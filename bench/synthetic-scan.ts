/**
 * The documents of a synthetic ascan (one motor, counters, optional 2D image channel) and its
 * staged chunks generated in memory, for the writer benchmarks. The chunks are cut the way the
 * bridge cuts them (at most `chunkBytes` per chunk, bridge default 1 MiB) and one buffer per
 * channel is reused for every chunk, so the benchmark measures the writer, not data generation.
 */
import type { EventDescriptor, RunStart, RunStop, StreamResource } from '../src/core/contract/generated-types.js';
import { buildScanLayout } from '../src/core/nexus/scan-layouts.js';
import { type NexusPlan, type PlanChannel } from '../src/core/nexus/layout.js';
import type { ChannelSlice } from '../src/core/archive/ports.js';
import type { StorageOptions } from '../src/core/nexus/writers/channel-writer.js';

export interface SyntheticScanOptions {
  points: number;
  /** Scalar float64 channels, the motor included. */
  channels: number;
  /** 2D uint32 frames [height, width] per point: one image channel instead of the counters. */
  image?: readonly [number, number] | undefined;
  chunkBytes: number;
  storage?: StorageOptions | undefined;
  hdf5Version: string;
  /**
   * Values published by a real scan (e.g. publish_scan.py --dump-values), channel by channel, instead
   * of generated ones: the same scan another writer (blisswriter) wrote. `points` and `channels` are then ignored.
   */
  published?: readonly PublishedChannel[] | undefined;
}

/** One channel's published values: little-endian, C order, `shape` = [points, ...point shape]. */
export interface PublishedChannel {
  name: string;
  dtype: string;
  shape: readonly number[];
  bytes: Uint8Array;
}

export interface SyntheticScan {
  plan: NexusPlan;
  /** Points per staged chunk, per channel. */
  chunkPoints: Record<string, number>;
  slices(channel: PlanChannel): AsyncGenerator<ChannelSlice>;
}

const RUN = '01M80JDTHSB2YF8F4WA7YZ6EZT';

export function syntheticScan(options: SyntheticScanOptions): SyntheticScan {
  const published = options.published ? new Map(options.published.map((c) => [c.name, c] as const)) : undefined;
  const o = published ? { ...options, points: Math.min(...[...published.values()].map((c) => c.shape[0]!)) } : options;
  const keys: { name: string; dtype: string; shape: number[]; role: 'positioner' | 'counter' | 'image' | 'spectrum' }[] = [];
  if (published) {
    for (const c of published.values()) {
      keys.push({
        name: c.name,
        dtype: c.dtype,
        shape: c.shape.slice(1),
        role: c.name.startsWith('axis:') ? 'positioner' : c.shape.length === 2 ? 'spectrum' : c.shape.length > 2 ? 'image' : 'counter',
      });
    }
  } else {
    keys.push({ name: 'axis:sy', dtype: '<f8', shape: [], role: 'positioner' });
    if (o.image) keys.push({ name: 'lima_simulator:image', dtype: '<u4', shape: [...o.image], role: 'image' });
    else
      for (let i = 1; i < o.channels; i += 1)
        keys.push({ name: `simulation_counter_controller:c${String(i).padStart(2, '0')}`, dtype: '<f8', shape: [], role: 'counter' });
  }
  const title = `ascan sy 0 1 ${o.points - 1} 0.1`;
  const start: RunStart = {
    uid: RUN,
    time: 1795315657.285,
    scan_id: 1,
    plan_name: 'ascan',
    sample: 'sample1',
    data_policy: { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' },
    bliss: {
      scan_key: `esrf:scan:${RUN}`,
      identity: { name: 'ascan', number: 1, session: 'demo_session', proposal: 'ihch123', collection: 'sample1', dataset: '0001' },
      title,
      type: 'ascan',
      npoints: o.points,
      count_time: 0.1,
      start_time: '2026-11-22T10:00:00.000000+01:00',
      scan_info: { title, type: 'ascan', npoints: o.points, count_time: 0.1 },
    },
    icat: { Sample_name: 'sample1' },
  };
  const descriptor: EventDescriptor = {
    uid: `${RUN}/descriptor/primary`,
    run_start: RUN,
    time: 1795315657.3,
    name: 'primary',
    data_keys: Object.fromEntries(
      keys.map((k) => [
        k.name,
        {
          dtype: k.shape.length ? 'array' : 'number',
          dtype_numpy: k.dtype,
          shape: k.shape,
          source: `bliss:esrf:stream:${k.name}`,
          external: 'STREAM:',
          object_name: k.name.split(':').pop()!,
          bliss_role: k.role,
        },
      ]),
    ),
    object_keys: {},
    hints: {},
  };
  const resources: StreamResource[] = keys.map((k) => ({
    uid: `${RUN}/resource/${k.name}`,
    run_start: RUN,
    data_key: k.name,
    mimetype: 'application/x-beamline-archive-chunks',
    uri: `s3://bench/staging/${RUN}/${k.name}/`,
    parameters: { dtype_numpy: k.dtype, point_shape: k.shape },
  }));
  const stop: RunStop = {
    uid: `${RUN}/stop`,
    run_start: RUN,
    time: 1795315659.0,
    exit_status: 'success',
    reason: 'SUCCESS',
    num_events: { primary: o.points },
    bliss: {
      end_reason: 'SUCCESS',
      end_time: '2026-11-22T10:00:02.000000+01:00',
      points: Object.fromEntries(keys.map((k) => [k.name, o.points])),
      documents: { descriptor: 1, stream_resource: keys.length, stream_datum: 0 },
    },
  };
  const plan = buildScanLayout({
    start,
    stop,
    descriptors: [descriptor],
    resources,
    points: stop.bliss.points as Record<string, number>,
    fileName: 'bench_0001.h5',
    creator: 'beamline-archive bench',
    hdf5Version: o.hdf5Version,
    storage: o.storage,
  });
  const chunkPoints: Record<string, number> = {};
  for (const k of keys) {
    const rowBytes = Number(k.dtype.slice(2)) * k.shape.reduce((a, b) => a * b, 1);
    chunkPoints[k.name] = Math.max(1, Math.min(o.points, Math.floor(o.chunkBytes / rowBytes)));
  }
  return {
    plan,
    chunkPoints,
    async *slices(channel) {
      const per = chunkPoints[channel.channel]!;
      const values = published?.get(channel.channel);
      if (values) {
        const row = values.bytes.byteLength / values.shape[0]!;
        for (let s = 0; s < o.points; s += per) {
          const e = Math.min(o.points, s + per);
          yield { start: s, stop: e, bytes: values.bytes.subarray(s * row, e * row) };
        }
        return;
      }
      const buffer = chunkBuffer(channel, per);
      for (let s = 0; s < o.points; s += per) {
        const e = Math.min(o.points, s + per);
        yield { start: s, stop: e, bytes: buffer.subarray(0, (e - s) * (buffer.byteLength / per)) };
      }
    },
  };
}

/** The bytes of one staged chunk of a channel: values the h5py reference (bench/h5py_writer_reference.py) regenerates identically. */
function chunkBuffer(channel: PlanChannel, points: number): Uint8Array {
  const size = channel.pointShape.reduce((a, b) => a * b, 1);
  const n = points * size;
  if (channel.type.kind === 'float') {
    const values = new Float64Array(n);
    for (let i = 0; i < n; i += 1) values[i] = i * 0.001;
    return new Uint8Array(values.buffer);
  }
  const values = new Uint32Array(n);
  for (let i = 0; i < n; i += 1) values[i] = i % 65536;
  return new Uint8Array(values.buffer);
}
