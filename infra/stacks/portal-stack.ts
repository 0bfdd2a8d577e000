/**
 * The portal (web/, issue 16): its built files in a private S3 bucket, served by CloudFront through
 * an origin access control (OAC: only this distribution may read the bucket), with `config.json`
 * naming the APIs the browser calls. The archive's files are not behind this distribution: the
 * browser reads them with presigned range requests straight from the archive bucket (docs/adr/0009).
 *
 * Its own stack: redeploying the portal never touches data or functions, and the local environment
 * (which serves web/dist itself, local/portal-server.ts) does not provision it.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { Distribution, HttpVersion, ResponseHeadersPolicy, ViewerProtocolPolicy } from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct } from 'constructs';

export interface PortalStackProps extends StackProps {
  /** The built portal (web/dist, `npm run build:web`). */
  distDir: string;
  /** What the browser calls: the people URLs of dataset-api, export-api and analysis-api, and where it gets a token. */
  config: { datasetApi: string; exportApi: string; analysisApi: string; issuer: string; clientId: string };
}

export class PortalStack extends Stack {
  readonly distribution: Distribution;
  readonly siteBucket: Bucket;

  constructor(scope: Construct, id: string, props: PortalStackProps) {
    super(scope, id, props);
    const logs = new Bucket(this, 'PortalLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // CloudFront standard logs are delivered with ACLs.
      objectOwnership: ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.siteBucket = new Bucket(this, 'PortalSite', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'site-bucket/',
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });
    this.distribution = new Distribution(this, 'Portal', {
      comment: 'beamline-archive portal',
      defaultRootObject: 'index.html',
      httpVersion: HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: logs,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.siteBucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: ResponseHeadersPolicy.SECURITY_HEADERS,
      },
    });
    new BucketDeployment(this, 'PortalFiles', {
      sources: [Source.asset(props.distDir), Source.jsonData('config.json', props.config)],
      destinationBucket: this.siteBucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      memoryLimit: 512,
    });
    new CfnOutput(this, 'PortalUrl', { value: `https://${this.distribution.distributionDomainName}/` });

    Validations.of(logs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket is the log destination of the portal (site bucket access logs, CloudFront logs); logging it into itself would loop.',
    });
    const cdn = Validations.of(this.distribution);
    cdn.acknowledge({
      id: 'AwsSolutions-CFR1',
      reason:
        'Facility users sign in from anywhere (remote experiments, collaborators abroad); access is decided per proposal by the APIs, not by country.',
    });
    cdn.acknowledge({
      id: 'AwsSolutions-CFR2',
      reason:
        'The distribution serves static files only; every data request goes to the APIs (OIDC tokens, access policy) or to presigned S3 URLs. A WAF web ACL can be attached by the facility.',
    });
    cdn.acknowledge({
      id: 'AwsSolutions-CFR4',
      reason:
        'Served on the default *.cloudfront.net certificate, whose TLS policy CloudFront fixes; a facility domain with an ACM certificate sets TLSv1.2_2021.',
    });
    // The deployment's copy function is aws-cdk-lib's own singleton (aws-s3-deployment): role, managed policy and runtime are CDK's.
    const copier = this.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (copier) {
      const v = Validations.of(copier);
      v.acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'CDK BucketDeployment singleton function: the basic execution role for its logs.',
      });
      const copies =
        'CDK BucketDeployment singleton function: the grants aws-cdk-lib generates to read the asset objects and write them into the site bucket';
      for (const action of ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'])
        v.acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason: copies });
      v.acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.siteBucket.node.defaultChild as CfnBucket)}.Arn>/*]`,
        reason: `${copies}: every object of the site bucket (it holds the portal only).`,
      });
      v.acknowledge({
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
        reason: `${copies}: the CDK bootstrap asset bucket.`,
      });
      v.acknowledge({
        id: 'AwsSolutions-L1',
        reason: 'CDK BucketDeployment singleton function: its runtime is chosen by aws-cdk-lib, not by this app.',
      });
      v.acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'CDK BucketDeployment singleton function: cloudfront:CreateInvalidation/GetInvalidation, which take no resource-level permissions.',
      });
    }
  }
}
