import { join } from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, FunctionUrlAuthType, type CfnFunction, type FunctionUrl, type ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { Prefix } from '../../src/core/object-keys.js';
import { acknowledgeObjectPrefixWildcard } from './nag.js';
import { ENTRY_METADATA_KEY, ESM_BUNDLING, FUNCTION_RUNTIME } from './queue-fed-function.js';

/** Folder under functions/ and Powertools service name of the analysis store's API. */
export const ANALYSIS_API_NAME = 'analysis-api';

export interface AnalysisStoreProps {
  readonly bucket: IBucket;
  readonly table: ITable;
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  /** BUCKET_NAME, TABLE_NAME, EVENT_BUS_NAME, LOG_LEVEL: the variables every function gets. */
  readonly environment: Record<string, string>;
  /** The h5wasm layer (the HDF5 array writer/handler). */
  readonly h5wasmLayer: ILayerVersion;
}

/**
 * The analysis store: one function (functions/analysis-api) behind a function URL with AuthType
 * AWS_IAM. Its role reads and writes objects under `analysis/` only, and the catalogue table
 * (documents, derived run records, provenance records and edges; existence checks of parents).
 */
export class AnalysisStore extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly url: FunctionUrl;
  readonly entry = `functions/${ANALYSIS_API_NAME}/handler.ts`;

  constructor(scope: Construct, id: string, props: AnalysisStoreProps) {
    super(scope, id);
    const { bucket, table } = props;
    const logGroup = new LogGroup(this, 'LogGroup', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${ANALYSIS_API_NAME} function`,
    });
    logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: join(props.projectRoot, this.entry),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      runtime: FUNCTION_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: 1024,
      timeout: Duration.minutes(5),
      role: this.role,
      logGroup,
      layers: [props.h5wasmLayer],
      environment: { ...props.environment, POWERTOOLS_SERVICE_NAME: ANALYSIS_API_NAME, NODE_OPTIONS: '--enable-source-maps' },
      bundling: ESM_BUNDLING,
    });
    const cfnFunction = this.function.node.defaultChild as CfnFunction;
    cfnFunction.addMetadata(ENTRY_METADATA_KEY, this.entry);
    Validations.of(cfnFunction).acknowledge(
      { id: 'AwsSolutions-L1', reason: 'Runtime pinned to nodejs20.x like every function of the project; see FUNCTION_RUNTIME.' },
      { id: 'CloudFormation-Validate::W2531', reason: 'Same pin: the nodejs20.x deprecation is known and tracked at FUNCTION_RUNTIME.' },
    );

    this.url = this.function.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });

    this.role.addToPolicy(new PolicyStatement({
      sid: 'AnalysisObjects',
      effect: Effect.ALLOW,
      actions: ['s3:PutObject', 's3:GetObject'],
      resources: [bucket.arnForObjects(`${Prefix.Analysis}*`)],
    }));
    this.role.addToPolicy(new PolicyStatement({
      sid: 'ListAnalysisPrefix',
      effect: Effect.ALLOW,
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${Prefix.Analysis}*`] } },
    }));
    this.role.addToPolicy(new PolicyStatement({
      sid: 'CatalogueAnalysisAndProvenance',
      effect: Effect.ALLOW,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem'],
      resources: [table.tableArn, `${table.tableArn}/index/gsi1`],
    }));
    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      acknowledgeObjectPrefixWildcard(policy, bucket, Prefix.Analysis,
        'Derived data keys are analysis/<run uid>/<stream>/<key>/<range>.<ext> for runs created at request time; confined to analysis/.');
    }

    new CfnOutput(this, 'AnalysisApiUrl', { value: this.url.url, description: 'Function URL of the analysis store API (SigV4, service lambda)' });
    new CfnOutput(this, 'AnalysisApiFunctionName', { value: this.function.functionName });
  }
}
