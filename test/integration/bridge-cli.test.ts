import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../local/services.js';
import { ConfigError, parseBridgeConfig } from '../../bridge/cli.js';

const cli = join(projectRoot, 'bridge', 'cli.ts');

describe('beamline-archive bridge CLI', () => {
  it('reads options and environment into a typed config', () => {
    const config = parseBridgeConfig(['--bus', 'bus-a', '--from', '0', '--chunk-points', '500'], {
      REDIS_URL: 'redis://127.0.0.1:6379', BUCKET_NAME: 'bkt', BEAMLINE: 'id00', AWS_REGION: 'eu-west-3', AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
    });
    assert.notEqual(config, 'help');
    assert.deepEqual(config, {
      redisUrl: 'redis://127.0.0.1:6379', eventBusName: 'bus-a', bucket: 'bkt', beamline: 'id00', from: '0', chunkPoints: 500,
      aws: { region: 'eu-west-3', endpoint: 'http://127.0.0.1:5000' },
    });
  });

  it('lists every problem at once', () => {
    assert.throws(() => parseBridgeConfig(['--redis-url', 'http://x', '--from', 'yesterday', '--chunk-points', '0'], {}),
      (e: unknown) => e instanceof ConfigError && /redis:\/\//.test(e.message) && /--from/.test(e.message)
        && /--chunk-points/.test(e.message) && /--bus/.test(e.message) && /--bucket/.test(e.message) && /--beamline/.test(e.message));
  });

  it('prints help, and fails fast with exit code 2 on bad configuration', () => {
    const help = spawnSync(process.execPath, ['--import', 'tsx', cli, 'bridge', '--help'], { encoding: 'utf8', cwd: projectRoot });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: beamline-archive bridge/);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', cli], { encoding: 'utf8', cwd: projectRoot, env: { PATH: process.env.PATH } });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--redis-url \(or REDIS_URL\) is required/);
  });
});
