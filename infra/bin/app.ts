// The beamline-archive CDK app. `npx cdk synth` runs this file (cdk.json); tests and
// local/provision.ts call buildApp() in-process and synthesize with app.synth().
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ComputeStack } from '../stacks/compute-stack.js';
import { StorageStack } from '../stacks/storage-stack.js';
import { PortalStack } from '../stacks/portal-stack.js';

/** Repository root: entries, lock file and layer paths are resolved from here, not from the cwd. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const STACK_NAMES = {
  storage: 'BeamlineArchiveStorage',
  compute: 'BeamlineArchiveCompute',
  portal: 'BeamlineArchivePortal',
} as const;

/**
 * Feature flags, set in code rather than in cdk.json so that an in-process synthesis
 * (buildApp) and `cdk synth` produce the same templates.
 */
export const FEATURE_FLAGS = {
  // Access log delivery through a bucket policy instead of the LogDeliveryWrite ACL.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  // Cross-stack references stay CloudFormation exports/Fn::ImportValue (the storage stack cannot
  // drop a value the compute stack still uses).
  '@aws-cdk/core:defaultCrossStackReferences': 'strong',
} as const;

export interface BuildAppOptions {
  /** Cloud assembly directory. @default the CLI's (CDK_OUTDIR) or a temporary directory */
  readonly outdir?: string;
  /** Extra context, as `cdk -c key=value` would give. */
  readonly context?: Record<string, unknown>;
  /**
   * Run cdk-nag's AwsSolutions pack at synthesis (a violation fails `app.synth()`).
   * @default the `nag` context value ('true' / true), else false
   */
  readonly nag?: boolean;
}

export interface BeamlineArchiveApp {
  readonly app: App;
  readonly storage: StorageStack;
  readonly compute: ComputeStack;
  readonly portal: PortalStack;
}

/**
 * Where this code comes from, for the provenance of the archive's own files: the `repositoryUrl`
 * context, else the checkout's `origin` remote, else the checkout itself as a file URL.
 */
export function sourceRepositoryOf(root: string): string {
  try {
    const origin = execFileSync('git', ['-C', root, 'remote', 'get-url', 'origin'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (/^(https?|git|ssh|file):\/\//.test(origin) || /^[\w.-]+@[\w.-]+:/.test(origin)) return withoutCredentials(origin);
    // A clone of a local path: its origin is a folder, named as a file URL.
    if (isAbsolute(origin)) return pathToFileURL(origin).href;
  } catch {
    // not a git checkout, or no origin remote
  }
  return pathToFileURL(root).href;
}

/** A remote URL may carry `user:token@`: that must never reach a template, a function or a record. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.href;
  } catch {
    return url.replace(/^[^@/]*@/, (m) => (m.startsWith('git@') ? m : ''));
  }
}

/**
 * Builds the app without synthesizing it. Context read: `nag` (see above), `logLevel` (LOG_LEVEL of
 * the functions, default INFO), `eventBusName` (default beamline-archive).
 */
export function buildApp(options: BuildAppOptions = {}): BeamlineArchiveApp {
  const app = new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    context: { ...FEATURE_FLAGS, ...options.context },
  });
  const contextString = (key: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return value === undefined || value === null ? undefined : String(value);
  };

  const eventBusName = contextString('eventBusName');
  const storage = new StorageStack(app, STACK_NAMES.storage, {
    description: 'beamline-archive stateful resources: archive bucket, catalogue table, event bus and its archive',
    ...(eventBusName ? { eventBusName } : {}),
  });
  const logLevel = contextString('logLevel');
  const sourceRepository = contextString('repositoryUrl') ?? sourceRepositoryOf(PROJECT_ROOT);
  const compute = new ComputeStack(app, STACK_NAMES.compute, {
    description: 'beamline-archive functions, queues, bus rules, h5wasm layer and alarms',
    bucket: storage.bucket,
    table: storage.table,
    eventBus: storage.eventBus,
    projectRoot: PROJECT_ROOT,
    sourceRepository,
    ...(logLevel ? { logLevel } : {}),
  });

  // The portal's files behind CloudFront (web/dist must be built: npm run build:web, run by setup).
  const portal = new PortalStack(app, STACK_NAMES.portal, {
    description: 'beamline-archive portal: the web app in S3 behind CloudFront (OAC)',
    distDir: join(PROJECT_ROOT, 'web', 'dist'),
    // The people URLs (bearer tokens, CORS; docs/adr/0008): what a browser may call.
    config: {
      datasetApi: compute.datasets.peopleUrl.url,
      exportApi: compute.exports.peopleUrl.url,
      analysisApi: compute.analysisStore.peopleUrl.url,
      // People sign in with the facility's issuer (authorization code + PKCE); register the portal's
      // CloudFront URL as a redirect URI of this public client there (docs/portal.md).
      issuer: contextString('oidcIssuer') ?? '',
      clientId: contextString('portalClientId') ?? 'beamline-archive-portal',
    },
  });

  if (options.nag ?? contextString('nag') === 'true') {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  }
  return { app, storage, compute, portal };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildApp().app.synth();
}
