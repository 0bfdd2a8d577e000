/**
 * The one place that says which AWS the local environment, the local HTTP gateway, the demo, the
 * benchmarks and every test talk to, and with which credentials and region:
 *
 *   - endpoint: `AWS_ENDPOINT_URL` when set (LocalStack here or elsewhere, set by `npm test --
 *     --target localstack`), else a moto server started on a free loopback port;
 *   - credentials: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, default `test` / `test`
 *     (LocalStack's default account; moto accepts any key);
 *   - region: `AWS_REGION` (or `AWS_DEFAULT_REGION`), default `eu-west-1`.
 *
 * test/unit/no-hard-coded-aws.test.ts fails when a test, script or local module spells out a key or
 * an endpoint instead of asking here.
 */
import { randomBytes } from 'node:crypto';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { startMoto, type RunningService } from './services.js';

/** The default key id and secret of the emulators (README: test/test). */
export const DEFAULT_EMULATOR_KEY = 'test';
export const DEFAULT_REGION = 'eu-west-1';

/** What an SDK client (createAwsClients) or the bridge's `aws` option needs. */
export interface AwsConnection {
  region: string;
  endpoint: string;
  credentials: AwsCredentialIdentity;
}

/** Credentials for the emulators: the environment's, else test/test. */
export function emulatorCredentials(env: NodeJS.ProcessEnv = process.env): AwsCredentialIdentity {
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID || DEFAULT_EMULATOR_KEY,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY || DEFAULT_EMULATOR_KEY,
  };
}

/** The region: AWS_REGION, AWS_DEFAULT_REGION, else eu-west-1. */
export function awsRegion(env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION;
}

/** The external endpoint (AWS_ENDPOINT_URL, e.g. LocalStack), or undefined when the tests start moto. */
export function externalEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.AWS_ENDPOINT_URL || undefined;
}

/**
 * Fills in the defaults in `env` (process.env by default) where unset, so that every SDK client and
 * child process of this process agrees; returns the region.
 */
export function applyEmulatorDefaults(env: NodeJS.ProcessEnv = process.env): string {
  const credentials = emulatorCredentials(env);
  env.AWS_ACCESS_KEY_ID ||= credentials.accessKeyId;
  env.AWS_SECRET_ACCESS_KEY ||= credentials.secretAccessKey;
  env.AWS_REGION ||= awsRegion(env);
  return env.AWS_REGION;
}

/** The connection to `endpoint` with the environment's credentials and region. */
export function connectionTo(endpoint: string, env: NodeJS.ProcessEnv = process.env): AwsConnection {
  return { region: awsRegion(env), endpoint, credentials: emulatorCredentials(env) };
}

/**
 * Environment variables for a child process (bridge, CLI, Python judge) that must reach the same
 * AWS as this process: endpoint, region and credentials.
 */
export function awsEnvironment(endpoint: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const { region, credentials } = connectionTo(endpoint, env);
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  };
}

/** An AWS endpoint for a test: AWS_ENDPOINT_URL when set (nothing to stop), else a fresh moto. */
export interface AwsEmulator {
  url: string;
  /** true when moto was started here (so the test owns every resource on it). */
  started: boolean;
  stop(): Promise<void>;
}

export async function startAwsEmulator(env: NodeJS.ProcessEnv = process.env): Promise<AwsEmulator> {
  const external = externalEndpoint(env);
  if (external) return { url: external, started: false, stop: async () => undefined };
  const moto: RunningService = await startMoto();
  return { url: moto.url, started: true, stop: () => moto.stop() };
}

/** AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for a child process that signs its own requests. */
export function credentialsEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): Record<'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY', string> {
  const credentials = emulatorCredentials(env);
  return { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey };
}

/**
 * `base` with a random suffix: names of buckets, buses and queues that a test creates itself stay
 * unique on a shared endpoint (one LocalStack for the whole run, or one elsewhere that outlives it).
 */
export function uniqueName(base: string): string {
  return `${base}-${randomBytes(3).toString('hex')}`;
}
