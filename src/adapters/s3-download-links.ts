/**
 * Presigned GET URLs for published objects (the export API's downloads), signed with SigV4 query
 * parameters by the S3 client's own credentials, region and endpoint: the same link works against
 * AWS (virtual-hosted) and an emulator (path-style endpoint).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { DownloadLinks } from '../core/exports/ports.js';
import { NodeSha256 } from './signed-http.js';

/** SigV4 presigned URLs expire after at most 7 days. */
const MAX_EXPIRY_SECONDS = 7 * 24 * 3600;

export class S3DownloadLinks implements DownloadLinks {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async linkTo(key: string, expiresInSeconds: number): Promise<string> {
    const expiresIn = Math.max(1, Math.min(MAX_EXPIRY_SECONDS, Math.round(expiresInSeconds)));
    const config = this.s3.config;
    const region = await config.region();
    const endpointUrl = config.endpoint ? await config.endpoint() : undefined;
    const path = `/${key.split('/').map(encodeURIComponent).join('/')}`;
    const target = endpointUrl
      ? // An explicit endpoint (emulator): path-style, /<bucket>/<key>.
        {
          protocol: endpointUrl.protocol,
          hostname: endpointUrl.hostname,
          port: endpointUrl.port,
          path: `${endpointUrl.path.replace(/\/$/, '')}/${encodeURIComponent(this.bucket)}${path}`,
        }
      : { protocol: 'https:', hostname: `${this.bucket}.s3.${region}.amazonaws.com`, port: undefined, path };
    const host = target.port ? `${target.hostname}:${target.port}` : target.hostname;
    const request = new HttpRequest({
      method: 'GET',
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port ? { port: Number(target.port) } : {}),
      // S3 signs query-authenticated requests over UNSIGNED-PAYLOAD: the hash the canonical request uses,
      // kept out of the URL and of the signed headers.
      path: target.path,
      headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    const signer = new SignatureV4({
      service: 's3',
      region,
      credentials: config.credentials,
      sha256: NodeSha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const signed = await signer.presign(request, {
      expiresIn,
      signingDate: this.now(),
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(['x-amz-content-sha256']),
    });
    const query = Object.entries(signed.query ?? {})
      .flatMap(([k, v]) =>
        (Array.isArray(v) ? v : [v]).filter((x): x is string => x !== null).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`),
      )
      .join('&');
    return `${signed.protocol}//${host}${signed.path}?${query}`;
  }
}
