import { join } from 'node:path';
import { RemovalPolicy, Validations, type Duration, type Size } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, type CfnFunction, type ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/**
 * Runtime of every function. nodejs20.x is the project's Node (package.json engines, the local
 * runner); AWS deprecated it on 2026-04-30 and blocks creating functions on it from 2027-02-01,
 * so moving to nodejs22.x/24.x is the next step (change it here and the layer follows).
 */
export const FUNCTION_RUNTIME = Runtime.NODEJS_20_X;

/** CloudFormation Metadata key on every function: the handler module, relative to the repository root. */
export const ENTRY_METADATA_KEY = 'BeamlineArchive:Entry';

/** Modules left out of the bundles: the Lambda runtime ships the AWS SDK v3, the h5wasm layer ships h5wasm. */
export const EXTERNAL_MODULES = ['h5wasm', '@aws-sdk/*'];

/**
 * ESM bundles call `require` for Node built-ins pulled in by CommonJS dependencies; define it.
 * The alias avoids clashing with a bundled `createRequire` import.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __beamlineCreateRequire } from 'node:module'; const require = __beamlineCreateRequire(import.meta.url);";

/** How every function of the app is bundled: one minified ESM file, the SDK and h5wasm left out. */
export const ESM_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node20',
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  externalModules: EXTERNAL_MODULES,
  sourceMap: true,
  minify: true,
};

export interface ArchiveFunctionProps {
  /** Folder name under functions/, also the Powertools service name. */
  readonly name: string;
  readonly projectRoot: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly ephemeralStorageSize?: Size;
  readonly environment: Record<string, string>;
  readonly layers?: ILayerVersion[];
  readonly logRetention?: RetentionDays;
  /** Prefix of the construct ids (`<prefix>LogGroup`, `<prefix>Role`, `<prefix>Function`) in `scope`. */
  readonly idPrefix?: string;
}

export interface ArchiveFunction {
  function: NodejsFunction;
  role: Role;
  /** Repository-relative handler module, as written into the function's metadata. */
  entry: string;
}

/**
 * Every function of the app, built one way: its own log group, its own role that can write only
 * to that log group (not AWS's managed basic execution role, which can write to every log group
 * of the account), the ESM bundle, the entry metadata the local runner reads, and the runtime pin
 * acknowledged for cdk-nag. Grant further permissions on `role`.
 */
export function createArchiveFunction(scope: Construct, props: ArchiveFunctionProps): ArchiveFunction {
  const prefix = props.idPrefix ?? '';
  const entry = `functions/${props.name}/handler.ts`;
  const logGroup = new LogGroup(scope, `${prefix}LogGroup`, {
    retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role = new Role(scope, `${prefix}Role`, {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: `Execution role of the ${props.name} function`,
  });
  logGroup.grantWrite(role);
  const fn = new NodejsFunction(scope, `${prefix}Function`, {
    entry: join(props.projectRoot, entry),
    handler: 'handler',
    projectRoot: props.projectRoot,
    depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
    runtime: FUNCTION_RUNTIME,
    architecture: Architecture.ARM_64,
    memorySize: props.memorySize,
    timeout: props.timeout,
    ...(props.ephemeralStorageSize ? { ephemeralStorageSize: props.ephemeralStorageSize } : {}),
    role,
    logGroup,
    layers: props.layers ?? [],
    environment: { ...props.environment, POWERTOOLS_SERVICE_NAME: props.name, NODE_OPTIONS: '--enable-source-maps' },
    bundling: ESM_BUNDLING,
  });
  const cfnFunction = fn.node.defaultChild as CfnFunction;
  cfnFunction.addMetadata(ENTRY_METADATA_KEY, entry);
  Validations.of(cfnFunction).acknowledge(
    {
      id: 'AwsSolutions-L1',
      reason: 'Runtime pinned to nodejs20.x, the Node version the project, its h5wasm layer and its local Lambda runner are built and tested on; see FUNCTION_RUNTIME.',
    },
    { id: 'CloudFormation-Validate::W2531', reason: 'Same pin: the nodejs20.x deprecation is known and tracked at FUNCTION_RUNTIME.' },
  );
  return { function: fn, role, entry };
}
