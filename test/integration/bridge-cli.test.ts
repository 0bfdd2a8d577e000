import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../local/services.js';
import { ConfigError, HELP, parseBridgeConfig } from '../../bridge/cli.js';
import { Bridge, type BridgeDeps } from '../../bridge/bridge.js';
import { defaultBridgeOptions, LIMA_ROOT_REQUIRED } from '../../bridge/bridge-options.js';

const cli = join(projectRoot, 'bridge', 'cli.ts');

describe('beamline-archive bridge CLI', () => {
  it('reads options and environment into a typed config', () => {
    const config = parseBridgeConfig(['--bus', 'bus-a', '--from', '0', '--chunk-points', '500', '--read-bytes', '4194304'], {
      REDIS_URL: 'redis://127.0.0.1:6379',
      BUCKET_NAME: 'bkt',
      BEAMLINE: 'id00',
      AWS_REGION: 'eu-west-3',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
      BRIDGE_LIMA_ROOT: tmpdir(),
    });
    assert.notEqual(config, 'help');
    assert.deepEqual(config, {
      redisUrl: 'redis://127.0.0.1:6379',
      eventBusName: 'bus-a',
      bucket: 'bkt',
      beamline: 'id00',
      from: '0',
      chunkPoints: 500,
      readBytes: 4194304,
      limaRoots: [tmpdir()],
      // The SDK clients' default timeouts (src/adapters/aws-clients.ts: 5 s to connect, 60 s per request).
      aws: { region: 'eu-west-3', endpoint: 'http://127.0.0.1:5000', timeouts: { connectMs: 5000, requestMs: 60000 } },
    });
  });

  it('lists every problem at once', () => {
    assert.throws(
      () => parseBridgeConfig(['--redis-url', 'http://x', '--from', 'yesterday', '--chunk-points', '0', '--read-bytes', '8M'], {}),
      (e: unknown) =>
        e instanceof ConfigError &&
        /redis:\/\//.test(e.message) &&
        /--from/.test(e.message) &&
        /--chunk-points/.test(e.message) &&
        /--read-bytes/.test(e.message) &&
        /--lima-root is required/.test(e.message) &&
        /--bus/.test(e.message) &&
        /--bucket/.test(e.message) &&
        /--beamline/.test(e.message),
    );
  });

  it('refuses a --beamline that cannot name its bus source and IAM role (docs/access.md, "The edge")', () => {
    const base = ['--redis-url', 'redis://127.0.0.1:6379', '--bus', 'b', '--bucket', 'k', '--lima-root', tmpdir()];
    for (const bad of ['id21/../x', 'id 21', '*', 'a'.repeat(33), '_id21']) {
      assert.throws(
        () => parseBridgeConfig([...base, '--beamline', bad], {}),
        (e: unknown) => e instanceof ConfigError && /--beamline: beamline .* is not a beamline name/.test(e.message),
        bad,
      );
    }
    assert.equal((parseBridgeConfig([...base, '--beamline', 'ID16B'], {}) as { beamline: string }).beamline, 'ID16B');
    // Programmatic starts refuse too, before anything is opened.
    assert.throws(
      () => new Bridge({} as BridgeDeps, { ...defaultBridgeOptions, beamline: 'id21.x', limaRoots: [tmpdir()] }),
      (e: unknown) => e instanceof Error && /--beamline \(BEAMLINE\) is required and must be this bridge's beamline/.test(e.message),
    );
  });

  describe('Lima options', () => {
    const base = ['--redis-url', 'redis://127.0.0.1:6379', '--bus', 'b', '--bucket', 'k', '--beamline', 'id00'];
    const tmp = mkdtempSync(join(tmpdir(), 'bridge-cli-lima-'));
    const [a, b, c] = ['a', 'b', 'c'].map((n) => join(tmp, n));
    for (const dir of [a!, b!, c!]) mkdirSync(dir);
    const notDir = join(tmp, 'file');
    writeFileSync(notDir, 'x');
    const config = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
      const parsed = parseBridgeConfig([...base, ...argv], env);
      assert.notEqual(parsed, 'help');
      return parsed as Exclude<typeof parsed, 'help'>;
    };

    it('--lima-root: repeated, comma or colon lists, from the environment and from the config file (a string or a list)', () => {
      assert.deepEqual(config(['--lima-root', a!, '--lima-root', `${b},${c}`]).limaRoots, [a, b, c]);
      assert.deepEqual(config(['--lima-root', `${a}:${b}`]).limaRoots, [a, b]);
      assert.deepEqual(config([], { BRIDGE_LIMA_ROOT: `${a}:${c}` }).limaRoots, [a, c]);
      // The command line wins over the environment, which wins over the file.
      assert.deepEqual(config(['--lima-root', b!], { BRIDGE_LIMA_ROOT: a }).limaRoots, [b]);
      const file = join(tmp, 'bridge.json');
      writeFileSync(file, JSON.stringify({ limaRoot: [a, b], 'lima-file-wait-ms': 5000 }));
      assert.deepEqual(config(['--config', file]), { ...config(['--lima-root', c!]), limaRoots: [a, b], limaFileWaitMs: 5000 });
      assert.deepEqual(config(['--config', file], { BRIDGE_LIMA_ROOT: c }).limaRoots, [c]);
      writeFileSync(file, JSON.stringify({ 'lima-root': `${c},${a}` }));
      assert.deepEqual(config(['--config', file]).limaRoots, [c, a]);
      writeFileSync(file, JSON.stringify({ 'lima-root': 7 }));
      assert.throws(() => config(['--config', file]), /lima-root must be a string or a list of strings/);
      assert.throws(
        () => config([]),
        (e: unknown) => e instanceof ConfigError && e.message === LIMA_ROOT_REQUIRED,
      );
    });

    it('--lima-root: each root must be an existing directory, given as an absolute path; every problem is listed at once', () => {
      assert.throws(
        () => config(['--lima-root', `${a},${join(tmp, 'none')}`, '--lima-root', notDir, '--lima-root', 'data/relative']),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.deepEqual(e.message.split('\n'), [
            `--lima-root ${join(tmp, 'none')} does not exist`,
            `--lima-root ${notDir} is not a directory`,
            '--lima-root data/relative must be an absolute path',
          ]);
          return true;
        },
      );
      assert.throws(() => config(['--lima-root', ',:']), /--lima-root names no folder/);
    });

    it('--lima-file-wait-ms: flag, environment and file; a whole number of milliseconds, 0 allowed', () => {
      const root = ['--lima-root', a!];
      assert.equal(config([...root, '--lima-file-wait-ms', '250']).limaFileWaitMs, 250);
      assert.equal(config([...root, '--lima-file-wait-ms', '0']).limaFileWaitMs, 0);
      assert.equal(config(root, { BRIDGE_LIMA_FILE_WAIT_MS: '9000' }).limaFileWaitMs, 9000);
      assert.equal(config(root).limaFileWaitMs, undefined, 'unset: the bridge default');
      for (const bad of ['-1', '1.5', '10s', '99999999999999999999']) {
        assert.throws(
          () => config([...root, `--lima-file-wait-ms=${bad}`]),
          new RegExp(`--lima-file-wait-ms must be a whole number of milliseconds \\(0 or more\\), got "${bad.replace('.', '\\.')}"`),
        );
      }
    });

    it('--help lists both options; --lima-root is required: the bridge does not start without it (exit code 2, the reason on stderr)', () => {
      assert.match(HELP, /--lima-root DIR +required: .*BRIDGE_LIMA_ROOT/s);
      assert.match(HELP, /--lima-file-wait-ms N .*default 60000.*BRIDGE_LIMA_FILE_WAIT_MS/s);
      const started = spawnSync(process.execPath, ['--import', 'tsx', cli, ...base], {
        encoding: 'utf8',
        cwd: projectRoot,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
      });
      assert.equal(started.status, 2, started.stderr);
      assert.ok(started.stderr.includes(LIMA_ROOT_REQUIRED), started.stderr);
      // Programmatic starts refuse too (local pipeline, tests, benchmarks pass their roots).
      assert.throws(
        () => new Bridge({} as BridgeDeps, { ...defaultBridgeOptions, beamline: 'id00', limaRoots: [] }),
        (e: unknown) => e instanceof Error && e.message === LIMA_ROOT_REQUIRED,
      );
      rmSync(tmp, { recursive: true, force: true });
    });
  });

  it('prints help, and fails fast with exit code 2 on bad configuration', () => {
    const help = spawnSync(process.execPath, ['--import', 'tsx', cli, 'bridge', '--help'], { encoding: 'utf8', cwd: projectRoot });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: beamline-archive bridge/);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', cli], {
      encoding: 'utf8',
      cwd: projectRoot,
      env: { PATH: process.env.PATH },
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--redis-url \(or REDIS_URL\) is required/);
  });
});
