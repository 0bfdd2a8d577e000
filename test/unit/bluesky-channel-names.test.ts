import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { blueskyChannelName, blueskyObjectKeys, parseBlueskyChannelName } from '../../src/core/bluesky/channel-names.js';
import { InvalidInputError } from '../../src/core/errors.js';

describe('Bluesky channel names', () => {
  it('is <stream>:<data_key>', () => {
    assert.equal(blueskyChannelName('primary', 'det'), 'primary:det');
    assert.equal(blueskyChannelName('baseline', 'energy'), 'baseline:energy');
    assert.equal(blueskyChannelName('primary', 'motor_setpoint'), 'primary:motor_setpoint');
  });

  it('keeps the same key of two streams apart', () => {
    assert.notEqual(blueskyChannelName('primary', 'motor'), blueskyChannelName('baseline', 'motor'));
  });

  it('parses back at the first colon', () => {
    assert.deepEqual(parseBlueskyChannelName('baseline:energy'), { stream: 'baseline', key: 'energy' });
    assert.deepEqual(parseBlueskyChannelName('primary:a:b'), { stream: 'primary', key: 'a:b' });
    assert.equal(parseBlueskyChannelName('det'), undefined);
    assert.equal(parseBlueskyChannelName(':det'), undefined);
  });

  it('refuses empty parts and a stream with a colon, naming them', () => {
    assert.throws(() => blueskyChannelName('', 'det'), InvalidInputError);
    assert.throws(() => blueskyChannelName('primary', ''), /data key of stream "primary" is empty/);
    assert.throws(() => blueskyChannelName('a:b', 'det'), /stream name "a:b" contains ":"/);
  });

  it('rewrites object_keys', () => {
    assert.deepEqual(blueskyObjectKeys('primary', { motor: ['motor', 'motor_setpoint'], det: ['det'] }), {
      motor: ['primary:motor', 'primary:motor_setpoint'],
      det: ['primary:det'],
    });
  });
});
