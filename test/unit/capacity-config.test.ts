// The scan-writer's capacity settings (functions/scan-writer/capacity-config.ts): the rates of plain
// and compressed writes and read-backs, the compression ratio (1 unless measured), and clear errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CapacityConfigError, capacitySettingsFromEnv, MEASURED_RATES } from '../../functions/scan-writer/capacity-config.js';

const MB = 1e6;

describe('capacity settings from the environment', () => {
  it('defaults: the measured rates, compressed ones apart, and ratio 1 (noise does not compress)', () => {
    const { capacity } = capacitySettingsFromEnv({});
    assert.equal(capacity.rates.writeBytesPerSecond, MEASURED_RATES.writeMBps * MB);
    assert.equal(capacity.rates.compressedWriteBytesPerSecond, MEASURED_RATES.gzipWriteMBps * MB);
    assert.equal(capacity.rates.readBackBytesPerSecond, MEASURED_RATES.readBackMBps * MB);
    assert.equal(capacity.rates.compressedReadBackBytesPerSecond, MEASURED_RATES.gzipReadBackMBps * MB);
    assert.equal(capacity.compressionRatio, 1);
    assert.ok(MEASURED_RATES.gzipWriteMBps < MEASURED_RATES.writeMBps, 'deflate in wasm is slower than a plain write');
  });

  it('a deployment sets its own rates and the ratio measured on its data', () => {
    const { capacity } = capacitySettingsFromEnv({
      CAPACITY_GZIP_WRITE_MBPS: '35',
      CAPACITY_GZIP_READBACK_MBPS: '90',
      CAPACITY_GZIP_RATIO: '0.45',
      CAPACITY_WRITE_MBPS: '250',
    });
    assert.equal(capacity.rates.compressedWriteBytesPerSecond, 35 * MB);
    assert.equal(capacity.rates.compressedReadBackBytesPerSecond, 90 * MB);
    assert.equal(capacity.rates.writeBytesPerSecond, 250 * MB);
    assert.equal(capacity.compressionRatio, 0.45);
  });

  it('refuses a ratio that is not file bytes per data byte, and rates that are not positive', () => {
    assert.throws(
      () => capacitySettingsFromEnv({ CAPACITY_GZIP_RATIO: '0' }),
      (e: Error) => e instanceof CapacityConfigError && /CAPACITY_GZIP_RATIO must be a number > 0, got "0"/.test(e.message),
    );
    assert.throws(
      () => capacitySettingsFromEnv({ CAPACITY_GZIP_RATIO: '2.5' }),
      /CAPACITY_GZIP_RATIO is file bytes per data byte of a compressed dataset \(0 < ratio <= 1\.1\), got "2\.5"/,
    );
    assert.throws(
      () => capacitySettingsFromEnv({ CAPACITY_GZIP_WRITE_MBPS: 'fast' }),
      /CAPACITY_GZIP_WRITE_MBPS must be a number > 0, got "fast"/,
    );
  });
});
