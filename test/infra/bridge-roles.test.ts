// The bridges' roles (infra/constructs/bridge-roles.ts): the beamlines come from the context, each a beamline name; none: a warning.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { BridgeRoles, beamlinesFromContext } from '../../infra/constructs/bridge-roles.js';

const stackWith = (context: Record<string, unknown>) => {
  const app = new App({ context });
  const stack = new Stack(app, 'S');
  const roles = new BridgeRoles(stack, 'BridgeRoles', { bucket: new Bucket(stack, 'B'), eventBus: new EventBus(stack, 'E'), beamlines: beamlinesFromContext(stack) });
  return { stack, roles };
};

describe('bridge roles', () => {
  it('reads the beamlines as a comma list or a JSON list, lower-cased, each once', () => {
    assert.deepEqual(Object.keys(stackWith({ beamlines: 'id21, ID16B,id21' }).roles.roles), ['id21', 'id16b']);
    assert.deepEqual(Object.keys(stackWith({ beamlines: '["bm05","id16a-ni"]' }).roles.roles), ['bm05', 'id16a-ni']);
    assert.deepEqual(Object.keys(stackWith({ beamlines: ['id00'] }).roles.roles), ['id00']);
  });

  it('refuses a beamline name no source or condition may carry', () => {
    for (const bad of ['id21,../x', 'id21,*', '["id 21"]', '{"a":1}']) {
      assert.throws(() => stackWith({ beamlines: bad }), /context beamlines/, bad);
    }
  });

  it('without beamlines: no role, and synthesis says no bridge can publish', () => {
    const { stack } = stackWith({});
    Template.fromStack(stack).resourceCountIs('AWS::IAM::Role', 0);
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('no bridge can publish'));
    assert.equal(warnings.length, 1);
  });
});
