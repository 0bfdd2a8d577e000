// Capacity before writing (src/core/archive/capacity.ts): the estimate from a plan's datasets and
// the choice of engine, with the sizes in every reason.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseEngine, estimateScanFile, formatBytes, type CapacityConfig } from '../../src/core/archive/capacity.js';
import { parseElementType } from '../../src/core/nexus/dtypes.js';
import type { PlanNode } from '../../src/core/nexus/plan.js';

const GiB = 1024 ** 3;
const MB = 1e6;
const config: CapacityConfig = {
  rates: {
    fetchBytesPerSecond: 100 * MB,
    writeBytesPerSecond: 200 * MB,
    uploadBytesPerSecond: 100 * MB,
    readBackBytesPerSecond: 50 * MB,
    indexBytesPerSecond: 400 * MB,
  },
  margin: 0.25,
  overheadBytes: 1_000_000,
  task: { maxBytes: 190 * GiB, maxSeconds: 12 * 3600 },
};

function channel(points: number, pointShape: number[], dtype: string, gzip?: number): PlanNode {
  return {
    kind: 'channel',
    path: `/1.1/instrument/c${points}/data`,
    channel: `c${points}`,
    resourceUid: 'r',
    type: parseElementType(dtype),
    shape: [points, ...pointShape],
    pointShape,
    chunkRows: 1,
    sliceRows: 1,
    attrs: {},
    ...(gzip ? { gzip } : {}),
  } as PlanNode;
}

/** Rates of a deployment with compression: gzip writes 10× slower than plain ones, its read-back slower too. */
const gzipConfig: CapacityConfig = {
  ...config,
  rates: { ...config.rates, compressedWriteBytesPerSecond: 20 * MB, compressedReadBackBytesPerSecond: 40 * MB },
};

describe('capacity before writing', () => {
  it('estimates a file from its datasets: an XRF map of 1000×1000 points × 4096 uint32 channels is ~16 GB', () => {
    const estimate = estimateScanFile({ nodes: [channel(1_000_000, [4096], '<u4'), channel(1_000_000, [], '<f8')] }, config);
    assert.equal(estimate.dataBytes, 1_000_000 * 4096 * 4 + 8_000_000);
    assert.equal(estimate.fileBytes, estimate.dataBytes + 1_000_000);
    // Every pass: fetch the staged data; write and read back the datasets; upload and index the file.
    const expected =
      estimate.dataBytes / (100 * MB) +
      estimate.dataBytes / (200 * MB) +
      estimate.dataBytes / (50 * MB) +
      estimate.fileBytes / (100 * MB) +
      estimate.fileBytes / (400 * MB);
    assert.ok(Math.abs(estimate.seconds - expected) < 1e-9, `${estimate.seconds} s, expected ${expected} s (read-back and index included)`);
  });

  it('grid signals (maps) count as file bytes, not as staged bytes', () => {
    const grid = {
      kind: 'grid-signal',
      path: '/1.1/map/c',
      channel: 'c',
      type: parseElementType('<f4'),
      shape: [100, 100],
      attrs: {},
    } as PlanNode;
    const estimate = estimateScanFile({ nodes: [channel(10_000, [], '<f4'), grid] }, config);
    assert.equal(estimate.dataBytes, 40_000);
    assert.equal(estimate.fileBytes, 80_000 + 1_000_000);
  });

  it('keeps a file that fits the function there, sends a bigger one to the task, refuses one too big for both', () => {
    const lambda = { kind: 'lambda' as const, freeBytes: 10 * GiB, remainingMs: 900_000 };
    const small = estimateScanFile({ nodes: [channel(1_000_000, [256], '<f8')] }, config); // ~2 GB
    assert.equal(chooseEngine(small, lambda, config).engine, 'lambda');
    const big = estimateScanFile({ nodes: [channel(1_000_000, [4096], '<u4')] }, config); // ~16 GB
    const toTask = chooseEngine(big, lambda, config);
    assert.equal(toTask.engine, 'task');
    assert.match(
      toTask.reason,
      /the file needs ~15\.3 GiB .* the function has 10\.0 GiB of temp space and 900 s; the task engine takes up to 190 GiB/,
    );
    const huge = estimateScanFile({ nodes: [channel(10_000_000, [4096], '<u4')] }, config); // ~164 GB, × 1.25 > 190 GiB
    const refused = chooseEngine(huge, lambda, config);
    assert.equal(refused.engine, 'none');
    assert.match(refused.reason, /more than any engine takes/);
  });

  it('time counts as much as space: a file that fits /tmp but not the remaining time goes to the task', () => {
    const estimate = estimateScanFile({ nodes: [channel(1_000_000, [256], '<f8')] }, config);
    const choice = chooseEngine(estimate, { kind: 'lambda', freeBytes: 10 * GiB, remainingMs: 30_000 }, config);
    assert.equal(choice.engine, 'task');
    assert.match(choice.reason, /and 30 s/);
  });

  it('without a task engine, or inside the task, what does not fit fails; lambdaMaxBytes caps the free space', () => {
    const estimate = estimateScanFile({ nodes: [channel(1000, [16], '<u4')] }, config);
    const { task: _task, ...noTask } = config;
    assert.equal(
      chooseEngine(estimate, { kind: 'lambda', freeBytes: 10 * GiB, remainingMs: 900_000 }, { ...noTask, lambdaMaxBytes: 1024 }).engine,
      'none',
    );
    assert.match(
      chooseEngine(estimate, { kind: 'lambda', freeBytes: 10 * GiB, remainingMs: 900_000 }, { ...noTask, lambdaMaxBytes: 1024 }).reason,
      /no task engine is configured/,
    );
    assert.equal(chooseEngine(estimate, { kind: 'task', freeBytes: 1024, remainingMs: 1e9 }, config).engine, 'none');
    assert.equal(chooseEngine(estimate, { kind: 'task', freeBytes: GiB, remainingMs: 1e9 }, config).engine, 'task');
  });

  it('compressed datasets: written and read back at the compressed rates, their bytes at the configured ratio (default 1)', () => {
    const plan = { nodes: [channel(1_000_000, [1000], '<f8', 4), channel(1_000_000, [], '<f8')] }; // 8 GB compressed + 8 MB plain
    const gz = 8e9;
    const plain = 8e6;
    const estimate = estimateScanFile(plan, gzipConfig);
    assert.equal(estimate.dataBytes, gz + plain);
    assert.equal(estimate.compressedDataBytes, gz);
    assert.equal(estimate.fileBytes, gz + plain + 1_000_000, 'ratio 1 by default: noise does not compress');
    const expect = {
      fetch: (gz + plain) / (100 * MB),
      write: plain / (200 * MB) + gz / (20 * MB),
      readBack: plain / (50 * MB) + gz / (40 * MB),
      upload: (gz + plain + 1_000_000) / (100 * MB),
      index: (gz + plain + 1_000_000) / (400 * MB),
    };
    for (const [pass, seconds] of Object.entries(expect))
      assert.ok(
        Math.abs(estimate.passes[pass as keyof typeof expect] - seconds) < 1e-9,
        `${pass}: ${estimate.passes[pass as keyof typeof expect]} s, expected ${seconds} s`,
      );
    assert.ok(Math.abs(estimate.seconds - Object.values(expect).reduce((a, b) => a + b, 0)) < 1e-9);
    const measured = estimateScanFile(plan, { ...gzipConfig, compressionRatio: 0.3 });
    assert.equal(measured.fileBytes, 0.3 * gz + plain + 1_000_000);
    assert.ok(
      measured.passes.upload < estimate.passes.upload && measured.passes.write === estimate.passes.write,
      'only the bytes on disk shrink: writing and reading back cost the same',
    );
    // Without compressed rates configured, compressed datasets take the plain ones (the previous estimate).
    assert.ok(Math.abs(estimateScanFile(plan, config).passes.write - (gz + plain) / (200 * MB)) < 1e-9);
  });

  // The hand-over decision, both ways: the function's 10 GiB /tmp and 900 s (unless said), margin 1.25,
  // gzip 20 MB/s against 200 MB/s plain. Datasets of [1000] float64 per point: 8 kB a point.
  const decisions: {
    case: string;
    gb: number;
    gzip: boolean;
    ratio?: number;
    free?: number;
    engine: 'lambda' | 'task' | 'none';
    why: RegExp;
  }[] = [
    { case: '2 GB plain', gb: 2, gzip: false, engine: 'lambda', why: /the file needs ~1\.9 GiB and ~96 s/ },
    {
      case: '2 GB gzip: slower, still fits',
      gb: 2,
      gzip: true,
      engine: 'lambda',
      why: /needs ~1\.9 GiB \(1\.9 GiB of its data compressed\) and ~196 s/,
    },
    {
      case: '8 GB plain: fits /tmp and 900 s',
      gb: 8,
      gzip: false,
      engine: 'lambda',
      why: /and ~381 s \(× 1\.25 margin: 9\.3 GiB, 476 s\)/,
    },
    {
      case: '8 GB gzip: fits /tmp, not the time',
      gb: 8,
      gzip: true,
      engine: 'task',
      why: /and ~781 s \(× 1\.25 margin: 9\.3 GiB, 976 s\); the function has 10\.0 GiB of temp space and 900 s/,
    },
    {
      case: '9.5 GB plain: time fits, /tmp does not',
      gb: 9.5,
      gzip: false,
      engine: 'task',
      why: /margin: 11\.1 GiB, 565 s\); the function has 10\.0 GiB/,
    },
    {
      case: '10 GB gzip at a measured 0.3: small file, still too slow',
      gb: 10,
      gzip: true,
      ratio: 0.3,
      engine: 'task',
      why: /needs ~2\.8 GiB .* and ~906 s/,
    },
    {
      case: '3 GB gzip, 2 GiB free, ratio 1 (noise): does not fit',
      gb: 3,
      gzip: true,
      free: 2,
      engine: 'task',
      why: /needs ~2\.8 GiB .*the function has 2\.0 GiB/,
    },
    {
      case: '3 GB gzip, 2 GiB free, a measured 0.5: fits',
      gb: 3,
      gzip: true,
      ratio: 0.5,
      free: 2,
      engine: 'lambda',
      why: /needs ~1\.4 GiB/,
    },
    { case: '200 GB gzip: more than any engine', gb: 200, gzip: true, engine: 'none', why: /more than any engine takes/ },
  ];
  for (const d of decisions) {
    it(`decides: ${d.case} → ${d.engine}`, () => {
      const estimate = estimateScanFile(
        { nodes: [channel((d.gb * 1e9) / 8000, [1000], '<f8', d.gzip ? 4 : undefined)] },
        { ...gzipConfig, compressionRatio: d.ratio },
      );
      const choice = chooseEngine(estimate, { kind: 'lambda', freeBytes: (d.free ?? 10) * GiB, remainingMs: 900_000 }, gzipConfig);
      assert.equal(choice.engine, d.engine, choice.reason);
      assert.match(choice.reason, d.why);
    });
  }

  it('formats sizes for people', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(64 * 1024), '64.0 KiB');
    assert.equal(formatBytes(200 * GiB), '200 GiB');
  });
});
