import { join } from 'node:path';
import { RemovalPolicy, type Duration, type Size } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, type CfnFunction, type ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/**
 * Runtime of every function: nodejs24.x, the current LTS and the project's Node (package.json
 * engines; scripts/setup.sh installs it for the local runner and the tests). The h5wasm layer's
 * compatible runtime and the bundles' target follow this constant.
 */
export const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;

/** Log retention of every function: longer than staged data of FAILED runs is kept (60 days by default), so a retry has its logs. */
export const FUNCTION_LOG_RETENTION = RetentionDays.THREE_MONTHS;

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
  target: 'node24',
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
 * of the account), the ESM bundle on FUNCTION_RUNTIME and the entry metadata the local runner
 * reads. Grant further permissions on `role`.
 */
export function createArchiveFunction(scope: Construct, props: ArchiveFunctionProps): ArchiveFunction {
  const prefix = props.idPrefix ?? '';
  const entry = `functions/${props.name}/handler.ts`;
  const logGroup = new LogGroup(scope, `${prefix}LogGroup`, {
    retention: props.logRetention ?? FUNCTION_LOG_RETENTION,
    // Kept with the data: the logs of a FAILED run outlive a redeploy or deletion of the compute stack.
    removalPolicy: RemovalPolicy.RETAIN,
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
  return { function: fn, role, entry };
}
