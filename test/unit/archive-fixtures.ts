/** Builds the documents and staged chunks of a run exactly as the bridge emits and stages them (docs/architecture.md). */
import { createHash } from 'node:crypto';
import type { BusEvent } from '../../src/core/contract/validators.js';
import type { EventDescriptor, RunStart, RunStop, StreamDatum, StreamResource } from '../../src/core/contract/generated-types.js';
import { stagingChannelPrefix, stagingChunkKey, stagingScanInfoKey } from '../../src/core/object-keys.js';

export type Numeric = Float32Array | Float64Array | Int16Array | Int32Array | Uint32Array | Uint16Array | Uint8Array | Int8Array;

export interface FixtureChannel {
  name: string;
  dtype: string;
  pointShape?: number[];
  role?: 'positioner' | 'counter' | 'timer' | 'spectrum';
  units?: string;
  values: Numeric;
}

export interface FixtureOptions {
  runUid?: string;
  bucket?: string;
  scanId?: number;
  points: number;
  chunkPoints?: number;
  channels: FixtureChannel[];
  scanInfo?: Record<string, unknown>;
  stageScanInfo?: boolean;
  icat?: Record<string, string>;
  dataset?: string;
  /** Data-policy beamline and proposal (default id00, ihch123); the events come from that beamline's bridge. */
  beamline?: string;
  proposal?: string;
}

export interface FixtureRun {
  runUid: string;
  /** The data policy's beamline: the run's chunks are staged under staging/<beamline>/<run>/. */
  beamline: string;
  bucket: string;
  documents: BusEvent[];
  stop: BusEvent<'RunStop'>;
  chunks: { key: string; bytes: Uint8Array }[];
  scanInfo?: { key: string; bytes: Uint8Array } | undefined;
  /** All published bytes of each channel (what the file must hold). */
  channelBytes: Record<string, Uint8Array>;
}

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

function envelope<T extends BusEvent['detail-type']>(detailType: T, detail: unknown, beamline = 'id00'): BusEvent<T> {
  return {
    version: '0',
    id: `${detailType}-${sha(JSON.stringify(detail)).slice(0, 12)}`,
    source: `beamline-archive.bridge.${beamline}`,
    'detail-type': detailType,
    account: '123456789012',
    time: '2026-11-22T09:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail,
  } as BusEvent<T>;
}

export function buildRun(o: FixtureOptions): FixtureRun {
  const runUid = o.runUid ?? '01M80JDTHSB2YF8F4WA7YZ6EZT';
  const bucket = o.bucket ?? 'beamline-archive-data';
  const scanId = o.scanId ?? 3;
  const chunkPoints = o.chunkPoints ?? Math.max(1, o.points);
  const policy = {
    proposal: o.proposal ?? 'ihch123',
    beamline: o.beamline ?? 'id00',
    session: '20261122',
    collection: 'sample1',
    dataset: o.dataset ?? '0001',
  };
  const title = `ascan sy 0 1 ${o.points - 1} 0.1`;
  const start: RunStart = {
    uid: runUid,
    time: 1795315657.285,
    scan_id: scanId,
    plan_name: 'ascan',
    sample: 'sample1',
    data_policy: policy,
    bliss: {
      scan_key: `esrf:scan:${runUid}`,
      identity: {
        name: 'ascan',
        number: scanId,
        session: 'demo_session',
        proposal: 'ihch123',
        collection: 'sample1',
        dataset: policy.dataset,
      },
      title,
      type: 'ascan',
      npoints: o.points,
      count_time: 0.1,
      start_time: '2026-11-22T10:00:00.000000+01:00',
      scan_info: { title, type: 'ascan', npoints: o.points, count_time: 0.1 },
    },
    icat: o.icat ?? { Sample_name: 'sample1', Sample_description: 'gold foil', InstrumentSource_mode: '7/8 multibunch' },
  };
  const descriptor: EventDescriptor = {
    uid: `${runUid}/descriptor/primary`,
    run_start: runUid,
    time: 1795315657.3,
    name: 'primary',
    data_keys: Object.fromEntries(
      o.channels.map((c) => [
        c.name,
        {
          dtype: (c.pointShape ?? []).length > 0 ? 'array' : 'number',
          dtype_numpy: c.dtype,
          shape: c.pointShape ?? [],
          source: `bliss:esrf:stream:${c.name}`,
          external: 'STREAM:',
          ...(c.units ? { units: c.units } : {}),
          object_name: c.name.split(':').pop()!,
          bliss_role: c.role ?? (c.name.startsWith('axis:') ? 'positioner' : 'counter'),
        },
      ]),
    ),
    object_keys: {},
    hints: {},
  };
  const documents: BusEvent[] = [envelope('RunStart', start, policy.beamline), envelope('EventDescriptor', descriptor, policy.beamline)];
  const chunks: FixtureRun['chunks'] = [];
  const channelBytes: Record<string, Uint8Array> = {};
  let datumCount = 0;
  for (const c of o.channels) {
    const pointShape = c.pointShape ?? [];
    const all = new Uint8Array(c.values.buffer, c.values.byteOffset, c.values.byteLength);
    channelBytes[c.name] = all;
    const rowBytes = all.byteLength / o.points;
    const resource: StreamResource = {
      uid: `${runUid}/resource/${c.name}`,
      run_start: runUid,
      data_key: c.name,
      mimetype: 'application/x-beamline-archive-chunks',
      uri: `s3://${bucket}/${stagingChannelPrefix(policy.beamline, runUid, c.name)}`,
      parameters: { dtype_numpy: c.dtype, point_shape: pointShape },
    };
    documents.push(envelope('StreamResource', resource, policy.beamline));
    for (let s = 0; s < o.points; s += chunkPoints) {
      const e = Math.min(o.points, s + chunkPoints);
      const bytes = all.slice(s * rowBytes, e * rowBytes);
      const key = stagingChunkKey(policy.beamline, runUid, c.name, s, e);
      chunks.push({ key, bytes });
      const datum: StreamDatum = {
        uid: `${resource.uid}/${s}-${e}`,
        stream_resource: resource.uid,
        descriptor: descriptor.uid,
        indices: { start: s, stop: e },
        seq_nums: { start: s + 1, stop: e + 1 },
        chunk: { bucket, key, bytes: bytes.byteLength, sha256: sha(bytes) },
      };
      documents.push(envelope('StreamDatum', datum, policy.beamline));
      datumCount += 1;
    }
  }
  let scanInfo: FixtureRun['scanInfo'];
  const stopDetail: RunStop = {
    uid: `${runUid}/stop`,
    run_start: runUid,
    time: 1795315659.0,
    exit_status: 'success',
    reason: 'SUCCESS',
    num_events: { primary: o.points },
    bliss: {
      end_reason: 'SUCCESS',
      end_time: '2026-11-22T10:00:02.000000+01:00',
      points: Object.fromEntries(o.channels.map((c) => [c.name, o.points])),
      documents: { descriptor: 1, stream_resource: o.channels.length, stream_datum: datumCount },
    },
  };
  if (o.stageScanInfo !== false) {
    const info = o.scanInfo ?? { ...start.bliss?.scan_info, end_reason: 'SUCCESS' };
    const bytes = new TextEncoder().encode(JSON.stringify(info));
    scanInfo = { key: stagingScanInfoKey(policy.beamline, runUid), bytes };
    stopDetail.bliss.scan_info_ref = { bucket, key: scanInfo.key, bytes: bytes.byteLength, sha256: sha(bytes) };
  }
  return {
    runUid,
    beamline: policy.beamline,
    bucket,
    documents,
    stop: envelope('RunStop', stopDetail, policy.beamline),
    chunks,
    scanInfo,
    channelBytes,
  };
}

/** A 1D ascan: one float64 motor, a float32 diode, an int16 counter and a 2D uint32 spectrum channel. */
export function sampleScan(points = 10, options: Partial<FixtureOptions> = {}): FixtureRun {
  const sy = new Float64Array(points).map((_, i) => i / Math.max(1, points - 1));
  const diode = new Float32Array(points).map((_, i) => Math.fround(Math.sin(i) * 1e3 + 0.1));
  const counts = new Int16Array(points).map((_, i) => ((i * 37) % 30000) - 15000);
  const spectrum = new Uint32Array(points * 16).map((_, i) => (i * 2654435761) >>> 0);
  return buildRun({
    points,
    chunkPoints: Math.max(1, Math.ceil(points / 3)),
    channels: [
      { name: 'axis:sy', dtype: '<f8', units: 'mm', values: sy },
      { name: 'simulation_diode_sampling_controller:diode1', dtype: '<f4', values: diode },
      { name: 'simulation_counter_controller:counts', dtype: '<i2', units: 'cts', values: counts },
      { name: 'mca1:spectrum', dtype: '<u4', pointShape: [16], role: 'spectrum', values: spectrum },
    ],
    ...options,
  });
}
