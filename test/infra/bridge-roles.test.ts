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
  const roles = new BridgeRoles(stack, 'BridgeRoles', {
    bucket: new Bucket(stack, 'B'),
    eventBus: new EventBus(stack, 'E'),
    beamlines: beamlinesFromContext(stack),
  });
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

/** A resource of the synthesized policy as a string, the bucket's ARN as `<bucket>` (Fn::Join of the bucket's Arn and the pattern). */
function resourceText(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((part) => (typeof part === 'string' ? part : '<bucket>')).join(join[0]);
  return '<bucket>';
}

/** Whether an IAM resource pattern (`*` any characters) covers an object ARN. */
const covers = (pattern: string, arn: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  ).test(arn);

describe('bridge roles: staging per beamline', () => {
  it("lets each beamline's bridge put staged objects under staging/<its beamline>/ only: id16b's role cannot put under staging/id21/", () => {
    const { stack } = stackWith({ beamlines: 'id21,id16b' });
    const policies = Template.fromStack(stack).findResources('AWS::IAM::ManagedPolicy');
    const putResourcesOf = (beamline: string): string[] => {
      const policy = Object.values(policies).find((p) =>
        String((p as { Properties: { Description?: string } }).Properties.Description).startsWith(`The ${beamline} bridge:`),
      );
      assert.ok(policy, `a managed policy for ${beamline}`);
      const statements = (policy as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } })
        .Properties.PolicyDocument.Statement;
      return statements.filter((s) => [s.Action].flat().includes('s3:PutObject')).flatMap((s) => [s.Resource].flat().map(resourceText));
    };
    const id16b = putResourcesOf('id16b');
    const id21 = putResourcesOf('id21');
    assert.ok(id16b.includes('<bucket>/staging/id16b/*'), id16b.join(', '));
    assert.ok(id21.includes('<bucket>/staging/id21/*'), id21.join(', '));
    const id21Chunk = '<bucket>/staging/id21/01M80JDTHSB2YF8F4WA7YZ6EZT/axis_sy~c645144e/000000000000-000000001000.bin';
    const id16bChunk = '<bucket>/staging/id16b/01M80JDTHSB2YF8F4WA7YZ6EZT/axis_sy~c645144e/000000000000-000000001000.bin';
    assert.deepEqual(
      id16b.filter((r) => covers(r, id21Chunk)),
      [],
      'no PutObject resource of id16b covers an id21 staged chunk',
    );
    assert.deepEqual(
      id16b.filter((r) => covers(r, '<bucket>/staging/id21/R/scan_info.json')),
      [],
      'nor its scan_info',
    );
    assert.ok(
      id16b.some((r) => covers(r, id16bChunk)),
      'its own chunks it can put',
    );
    assert.ok(id21.some((r) => covers(r, id21Chunk)) && !id21.some((r) => covers(r, id16bChunk)), 'and the other way round');
    assert.ok(![...id16b, ...id21].includes('<bucket>/staging/*'), 'no bridge puts anywhere under staging/');
  });
});
