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
  rates: { fetchBytesPerSecond: 100 * MB, writeBytesPerSecond: 200 * MB, uploadBytesPerSecond: 100 * MB, readBackBytesPerSecond: 50 * MB, indexBytesPerSecond: 400 * MB },
  margin: 0.25, overheadBytes: 1_000_000, task: { maxBytes: 190 * GiB, maxSeconds: 12 * 3600 },
};

function channel(points: number, pointShape: number[], dtype: string): PlanNode {
  return {
    kind: 'channel', path: `/1.1/instrument/c${points}/data`, channel: `c${points}`, resourceUid: 'r', type: parseElementType(dtype),
    shape: [points, ...pointShape], pointShape, chunkRows: 1, sliceRows: 1, attrs: {},
  } as PlanNode;
}

describe('capacity before writing', () => {
  it('estimates a file from its datasets: an XRF map of 1000×1000 points × 4096 uint32 channels is ~16 GB', () => {
    const estimate = estimateScanFile({ nodes: [channel(1_000_000, [4096], '<u4'), channel(1_000_000, [], '<f8')] }, config);
    assert.equal(estimate.dataBytes, 1_000_000 * 4096 * 4 + 8_000_000);
    assert.equal(estimate.fileBytes, estimate.dataBytes + 1_000_000);
    // Every pass: fetch the staged data; write, read back, upload and index the file.
    const expected = estimate.dataBytes / (100 * MB) + estimate.fileBytes / (200 * MB) + estimate.fileBytes / (50 * MB) + estimate.fileBytes / (100 * MB) + estimate.fileBytes / (400 * MB);
    assert.ok(Math.abs(estimate.seconds - expected) < 1e-9, `${estimate.seconds} s, expected ${expected} s (read-back and index included)`);
  });

  it('grid signals (maps) count as file bytes, not as staged bytes', () => {
    const grid = { kind: 'grid-signal', path: '/1.1/map/c', channel: 'c', type: parseElementType('<f4'), shape: [100, 100], attrs: {} } as PlanNode;
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
    assert.match(toTask.reason, /the file needs ~15\.3 GiB .* the function has 10\.0 GiB of temp space and 900 s; the task engine takes up to 190 GiB/);
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
    assert.equal(chooseEngine(estimate, { kind: 'lambda', freeBytes: 10 * GiB, remainingMs: 900_000 }, { ...noTask, lambdaMaxBytes: 1024 }).engine, 'none');
    assert.match(chooseEngine(estimate, { kind: 'lambda', freeBytes: 10 * GiB, remainingMs: 900_000 }, { ...noTask, lambdaMaxBytes: 1024 }).reason, /no task engine is configured/);
    assert.equal(chooseEngine(estimate, { kind: 'task', freeBytes: 1024, remainingMs: 1e9 }, config).engine, 'none');
    assert.equal(chooseEngine(estimate, { kind: 'task', freeBytes: GiB, remainingMs: 1e9 }, config).engine, 'task');
  });

  it('formats sizes for people', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(64 * 1024), '64.0 KiB');
    assert.equal(formatBytes(200 * GiB), '200 GiB');
  });
});
