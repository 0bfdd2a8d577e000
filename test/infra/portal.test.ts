// The portal stack: web/dist in a private bucket behind CloudFront with an origin access control,
// the archive bucket's CORS for the browser's range reads; cdk-nag AwsSolutions runs during the synthesis.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/bin/app.js';

const outdir = mkdtempSync(join(tmpdir(), 'beamline-archive-portal-cdk-'));
const { app, portal, storage } = buildApp({
  outdir,
  nag: true,
  context: { 'aws:cdk:bundling-stacks': [], portalOrigin: 'https://portal.example.org' },
});
app.synth();
const template = Template.fromStack(portal);
after(() => rmSync(outdir, { recursive: true, force: true }));

describe('portal stack', () => {
  it('serves the site bucket only through CloudFront with an origin access control, HTTPS, security headers, logs', () => {
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https', ResponseHeadersPolicyId: Match.anyValue() }),
        Origins: [Match.objectLike({ OriginAccessControlId: Match.anyValue(), S3OriginConfig: { OriginAccessIdentity: '' } })],
        Logging: Match.objectLike({ Bucket: Match.anyValue() }),
      }),
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'site-bucket/' }),
    });
    // The bucket policy lets the CloudFront service read, for this distribution only.
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy')).map((p) => JSON.stringify(p));
    assert.ok(
      policies.some((p) => p.includes('cloudfront.amazonaws.com') && p.includes('AWS:SourceArn') && p.includes('s3:GetObject')),
      policies.join('\n'),
    );
  });

  it('deploys web/dist with a config.json naming the APIs', () => {
    const deployment = Object.values(template.findResources('Custom::CDKBucketDeployment'));
    assert.equal(deployment.length, 1);
    const text = JSON.stringify(deployment[0]);
    assert.match(text, /DistributionPaths.*\/\*/);
    assert.equal(
      (deployment[0] as { Properties: { SourceMarkers?: unknown[] } }).Properties.SourceMarkers?.length,
      2,
      'web/dist and config.json',
    );
  });

  it("lets the portal's origin read archived files by range with presigned GETs (archive bucket CORS: that origin, GET/HEAD, Range)", () => {
    Template.fromStack(storage).hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          Match.objectLike({
            AllowedOrigins: ['https://portal.example.org'],
            AllowedMethods: ['GET', 'HEAD'],
            AllowedHeaders: ['range'],
            ExposedHeaders: Match.arrayWith(['Content-Range']),
          }),
        ],
      },
    });
  });
});
