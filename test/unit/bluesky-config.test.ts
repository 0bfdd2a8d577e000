import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { HELP, parseBridgeConfig } from '../../bridge/cli.js';
import { parseBlueskyOptions } from '../../bridge/bluesky-config.js';
import { tmpdir } from 'node:os';

// --lima-root is required by every bridge (an existing folder).
const base = ['--redis-url', 'redis://h:6379', '--bus', 'b', '--bucket', 'k', '--beamline', 'id00', '--lima-root', tmpdir()];

describe('bridge Bluesky options', () => {
  it('are off unless a stream is given, and shown in --help', () => {
    const config = parseBridgeConfig(base, {});
    assert.notEqual(config, 'help');
    assert.equal((config as { bluesky?: unknown }).bluesky, undefined);
    assert.match(HELP, /--bluesky-stream KEY/);
  });

  it('come from flags, the environment or the config file', () => {
    const config = parseBridgeConfig(
      [...base, '--bluesky-stream', 'bluesky:documents', '--bluesky-from', '0', '--bluesky-defaults', 'proposal=p1, session=s1'],
      {},
    );
    assert.deepEqual((config as { bluesky?: unknown }).bluesky, { stream: 'bluesky:documents', from: '0', proposal: 'p1', session: 's1' });
    const fromEnv = parseBridgeConfig(base, { BLUESKY_STREAM: 'bs:docs' });
    assert.deepEqual((fromEnv as { bluesky?: unknown }).bluesky, { stream: 'bs:docs' });
  });

  it('refuse bad values with every problem named', () => {
    const problems: string[] = [];
    parseBlueskyOptions('has space', 'x', 'colour=red,dataset=', problems);
    assert.equal(problems.length, 4);
    assert.match(problems.join('\n'), /--bluesky-stream must be a Redis key/);
    assert.match(problems.join('\n'), /--bluesky-from must be 0 or a stream id/);
    assert.match(problems.join('\n'), /"colour=red" is not one of proposal=VALUE/);
    assert.throws(() => parseBridgeConfig([...base, '--bluesky-from', '0'], {}), /need --bluesky-stream/);
  });
});
