/**
 * The whole local environment in one call: Redis (with modules) and moto on free loopback ports
 * (or the endpoint in AWS_ENDPOINT_URL, e.g. LocalStack, and REDIS_URL), the CDK app synthesized
 * in-process, and its resources provisioned under a unique prefix.
 *
 *   const env = await startLocalEnvironment();
 *   const runner = await env.startRunner();          // plays Lambda for the template's mappings
 *   ...
 *   await env.stop();
 */
import { randomBytes } from 'node:crypto';
import type { AwsClients } from '../src/adapters/aws-clients.js';
import { createAwsClients } from '../src/adapters/aws-clients.js';
import { templatesFromAssembly, type StackTemplate } from './cloudformation-template.js';
import { deprovision, provisionFromTemplates, type ProvisionedResources } from './provision.js';
import { LocalLambdaRunner, type LocalLambdaRunnerOptions } from './runner.js';
import { startHttpGateway, type HttpGateway } from './http-gateway.js';
import { startMoto, startRedis, type RunningService } from './services.js';
import { startOidcIssuer, type LocalOidcIssuer } from './oidc-issuer.js';
import { applyEmulatorDefaults, emulatorCredentials, externalEndpoint } from './aws-target.js';
import { ADMIN_ROLE } from '../src/core/access/caller.js';

export { applyEmulatorDefaults };

export interface LocalEnvironmentOptions {
  /** Physical-name prefix; default `t` + 6 random hex chars. */
  prefix?: string;
  /** Start (or use REDIS_URL) Redis. @default true */
  redis?: boolean;
  /** Templates to provision instead of synthesizing infra/bin/app.ts. */
  templates?: StackTemplate[];
  /** Extra CDK context for buildApp (e.g. { logLevel: 'DEBUG' }). */
  context?: Record<string, unknown>;
}

export interface LocalEnvironment {
  redisUrl: string | undefined;
  awsEndpoint: string;
  region: string;
  clients: AwsClients;
  resources: ProvisionedResources;
  /** The local OIDC issuer (test users alice, bob, staff, admin): the functions served by startHttpGateway trust it. */
  oidc: LocalOidcIssuer;
  /** The templates that were provisioned. */
  templates: StackTemplate[];
  /** true when moto/Redis were started here (false for AWS_ENDPOINT_URL / REDIS_URL) */
  started: { moto: boolean; redis: boolean };
  timings: { servicesMs: number; synthMs: number; provisionMs: number; totalMs: number };
  /** A runner for this environment's mappings (handlers' clients point at the same endpoint). */
  startRunner(options?: Partial<Omit<LocalLambdaRunnerOptions, 'resources' | 'sqs'>>): Promise<LocalLambdaRunner>;
  /** Serves the template's function URLs (SigV4-checked) on loopback; stopped with the environment. */
  startHttpGateway(options?: { environment?: Record<string, string> }): Promise<HttpGateway>;
  /**
   * Stops the runners started by startRunner, then the services started here; on an external
   * endpoint (AWS_ENDPOINT_URL) deletes this prefix's resources instead (unless `keep`).
   */
  stop(options?: { keep?: boolean }): Promise<void>;
}

/**
 * The browser origins of the local environment: the portal server (local/portal-server.ts) listens on
 * a loopback port chosen at start, so any loopback origin (the bucket's CORS and the gateway match `*` in a pattern).
 */
export const LOCAL_BROWSER_ORIGINS = 'http://127.0.0.1:*,http://localhost:*';

/** Synthesizes infra/bin/app.ts in-process (asset bundling skipped: only the templates are needed). */
export async function synthesizeAppTemplates(context: Record<string, unknown> = {}): Promise<StackTemplate[]> {
  const { buildApp } = await import('../infra/bin/app.js');
  const { app } = buildApp({ context: { 'aws:cdk:bundling-stacks': [], corsOrigins: LOCAL_BROWSER_ORIGINS, ...context } });
  return templatesFromAssembly(app.synth());
}

export async function startLocalEnvironment(options: LocalEnvironmentOptions = {}): Promise<LocalEnvironment> {
  const t0 = Date.now();
  const region = applyEmulatorDefaults();
  const services: RunningService[] = [];
  const runners: LocalLambdaRunner[] = [];
  const gateways: HttpGateway[] = [];
  let oidc: LocalOidcIssuer | undefined;
  const stopServices = async () => {
    await Promise.allSettled([...runners.map((r) => r.stop()), ...gateways.map((g) => g.stop()), ...(oidc ? [oidc.stop()] : [])]);
    await Promise.allSettled(services.map((s) => s.stop()));
  };
  try {
    const externalAws = externalEndpoint();
    const wantRedis = options.redis ?? true;
    const externalRedis = process.env.REDIS_URL || undefined;
    const [moto, redis, issuer] = await Promise.all([
      externalAws ? undefined : startMoto(),
      wantRedis && !externalRedis ? startRedis() : undefined,
      startOidcIssuer(),
    ]);
    oidc = issuer;
    if (moto) services.push(moto);
    if (redis) services.push(redis);
    const awsEndpoint = externalAws ?? moto?.url ?? '';
    const t1 = Date.now();

    const templates = options.templates ?? (await synthesizeAppTemplates(options.context));
    const t2 = Date.now();

    const clients = createAwsClients({
      region,
      endpoint: awsEndpoint,
      credentials: emulatorCredentials(),
    });
    const prefix = options.prefix ?? `t${randomBytes(3).toString('hex')}`;
    const resources = await provisionFromTemplates(templates, { clients, prefix, region });
    const t3 = Date.now();

    return {
      redisUrl: redis?.url ?? (wantRedis ? externalRedis : undefined),
      awsEndpoint,
      region,
      clients,
      resources,
      oidc: issuer,
      templates,
      started: { moto: moto !== undefined, redis: redis !== undefined },
      timings: { servicesMs: t1 - t0, synthMs: t2 - t1, provisionMs: t3 - t2, totalMs: t3 - t0 },
      async startRunner(runnerOptions = {}) {
        const runner = new LocalLambdaRunner({ awsEndpoint, ...runnerOptions, resources, sqs: clients.sqs });
        runners.push(runner);
        return runner.start();
      },
      async startHttpGateway(gatewayOptions = {}) {
        const gateway = await startHttpGateway({
          resources,
          awsEndpoint,
          ...gatewayOptions,
          environment: {
            OIDC_ISSUER: issuer.issuer,
            OIDC_AUDIENCE: issuer.audience,
            // The emulator's credentials sign as the operators' CLI: an archive administrator (docs/access.md, IAM callers).
            IAM_CALLERS: JSON.stringify([
              { principal: `arn:aws:iam::${resources.accountId}:user/${emulatorCredentials().accessKeyId}`, roles: [ADMIN_ROLE] },
            ]),
            ...gatewayOptions.environment,
          },
          credentials: emulatorCredentials(),
        });
        gateways.push(gateway);
        return gateway;
      },
      async stop(stopOptions = {}) {
        if (externalAws && !stopOptions.keep) {
          await Promise.allSettled(runners.map((r) => r.stop()));
          const errors = await deprovision(resources, clients);
          if (errors.length) process.stderr.write(`deprovision ${prefix}: ${errors.join('; ')}\n`);
        }
        await stopServices();
      },
    };
  } catch (e) {
    await stopServices();
    throw e;
  }
}
