import { CfnOutput, Duration } from 'aws-cdk-lib';
import { runPk } from '../../src/adapters/dynamodb-run-catalogue.js';
import { provPk } from '../../src/adapters/dynamodb-provenance-store.js';
import { AUDIT_PREFIX } from '../../src/adapters/dynamodb-audit-log.js';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl, type ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { Prefix } from '../../src/core/object-keys.js';
import { acknowledgeObjectPrefixWildcard } from './nag.js';
import { createArchiveFunction } from './archive-function.js';
import { accessEnvironment, addPeopleUrl, type AccessSettings } from './people-url.js';

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
  /** OIDC issuer and audience, CORS origins, embargo (infra/constructs/people-url.ts). */
  readonly access?: AccessSettings;
}

/**
 * The analysis store: one function (functions/analysis-api) behind a function URL with AuthType
 * AWS_IAM. Its role reads and writes objects under `analysis/` only, and the catalogue table
 * (documents, derived run records, provenance records and edges; existence checks of parents).
 */
/** Partition keys of the items analysis-api may write (dynamodb:LeadingKeys). */
export const ANALYSIS_API_ITEM_KEYS = [`${runPk('')}*`, `${provPk('')}*`, `${AUDIT_PREFIX}*`];

export class AnalysisStore extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly url: FunctionUrl;
  /** The people URL (AuthType NONE on the `people` alias; bearer tokens checked by the function). */
  readonly peopleUrl: FunctionUrl;
  readonly entry = `functions/${ANALYSIS_API_NAME}/handler.ts`;

  constructor(scope: Construct, id: string, props: AnalysisStoreProps) {
    super(scope, id);
    const { bucket, table } = props;
    ({ function: this.function, role: this.role } = createArchiveFunction(this, {
      name: ANALYSIS_API_NAME,
      projectRoot: props.projectRoot,
      memorySize: 1024,
      timeout: Duration.minutes(5),
      environment: { ...props.environment, ...accessEnvironment(props.access ?? {}) },
      layers: [props.h5wasmLayer],
    }));

    this.url = this.function.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    this.peopleUrl = addPeopleUrl(this, this.function, props.access ?? {}, 'AnalysisApiPeopleUrl');

    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'AnalysisObjects',
        effect: Effect.ALLOW,
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [bucket.arnForObjects(`${Prefix.Analysis}*`)],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'ListAnalysisPrefix',
        effect: Effect.ALLOW,
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${Prefix.Analysis}*`] } },
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'ReadCatalogue',
        effect: Effect.ALLOW,
        actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
        resources: [table.tableArn, `${table.tableArn}/index/gsi1`],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'WriteOwnItems',
        effect: Effect.ALLOW,
        // Only its own item types: derived run records (RUN#, written only if absent), provenance and the audit trail;
        // never an export (EXPORT#), a file (FILE#) or a dataset record.
        actions: ['dynamodb:PutItem', 'dynamodb:BatchWriteItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ANALYSIS_API_ITEM_KEYS } },
      }),
    );
    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      acknowledgeObjectPrefixWildcard(
        policy,
        bucket,
        Prefix.Analysis,
        'Derived data keys are analysis/<run uid>/<stream>/<key>/<range>.<ext> for runs created at request time; confined to analysis/.',
      );
    }

    new CfnOutput(this, 'AnalysisApiUrl', {
      value: this.url.url,
      description: 'Function URL of the analysis store API (SigV4, service lambda)',
    });
    new CfnOutput(this, 'AnalysisApiFunctionName', { value: this.function.functionName });
  }
}
