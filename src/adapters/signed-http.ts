import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, SourceData } from '@aws-sdk/types';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';

function toBytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

/** SHA-256 (or HMAC-SHA-256 with a secret) for SignatureV4, from Node's crypto. */
export class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

export interface SignedRequest {
  url: string;
  method?: string;
  /** JSON-serialisable body (sent as application/json) or a string. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface SignedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json: unknown;
}

export interface SigningOptions {
  region: string;
  /** Defaults to the Node provider chain (env, profile, instance role …). */
  credentials?: AwsCredentialIdentity | (() => Promise<AwsCredentialIdentity>);
  /** The service of the signature: `lambda` for Lambda function URLs. */
  service?: string;
}

/**
 * Calls an IAM-authorised HTTP endpoint (a Lambda function URL with AuthType AWS_IAM, or the
 * local gateway that stands in for it): the request is signed with SigV4 for service `lambda`.
 */
export async function signedRequest(request: SignedRequest, options: SigningOptions): Promise<SignedResponse> {
  const url = new URL(request.url);
  const body = request.body === undefined ? undefined : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
  const headers: Record<string, string> = {
    host: url.host,
    ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...request.headers,
  };
  const signer = new SignatureV4({
    credentials: options.credentials ?? fromNodeProviderChain(),
    region: options.region,
    service: options.service ?? 'lambda',
    sha256: NodeSha256,
  });
  const query: Record<string, string> = {};
  url.searchParams.forEach((value, key) => {
    query[key] = value;
  });
  const signed = await signer.sign(
    new HttpRequest({
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      method: request.method ?? (body === undefined ? 'GET' : 'POST'),
      path: url.pathname,
      query,
      headers,
      ...(body !== undefined ? { body } : {}),
    }),
  );
  const response = await fetch(url, {
    method: signed.method,
    headers: Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host')),
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: Object.fromEntries(response.headers.entries()), body: text, json };
}

/** Calls an API with `Authorization: Bearer <token>` (a person's OIDC access token; the people URL). */
export async function bearerRequest(request: SignedRequest, token: string): Promise<SignedResponse> {
  const body = request.body === undefined ? undefined : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
  const response = await fetch(request.url, {
    method: request.method ?? (body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...request.headers,
      authorization: `Bearer ${token}`,
    },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: Object.fromEntries(response.headers.entries()), body: text, json };
}

/** How an API call proves who makes it: a person's bearer token, or SigV4 with AWS credentials (a machine). */
export type ApiAuth = { token: string } | SigningOptions;

/** One API call, with a bearer token when `auth` has one, else SigV4-signed. */
export function apiRequest(request: SignedRequest, auth: ApiAuth): Promise<SignedResponse> {
  return 'token' in auth ? bearerRequest(request, auth.token) : signedRequest(request, auth);
}
