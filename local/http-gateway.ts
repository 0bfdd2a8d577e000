/**
 * Plays the Lambda function URLs of the template (AWS::Lambda::Url) on loopback: each function with
 * a URL is served at `<baseUrl>/fn/<name>/…`, receives the payload-2.0 event a function URL sends
 * (APIGatewayProxyEventV2) and answers with APIGatewayProxyResultV2. With AuthType AWS_IAM, a
 * request must carry a valid SigV4 signature (service `lambda`) made with the environment's
 * credentials, as src/adapters/signed-http.ts makes it; anything else gets 403, like the real thing,
 * and the handler gets the principal in `requestContext.authorizer.iam` as Lambda gives it.
 *
 * A function that also has a URL on an alias with AuthType NONE (the people URL, docs/adr/0008) is
 * served at the same path: a request that is not SigV4-signed goes to that URL's semantics (no
 * AWS check, no authorizer; the handler verifies the bearer token), with its CORS answers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../src/adapters/signed-http.js';
import type { LocalFunction, ProvisionedResources } from './provision.js';
import { buildLambdaContext, functionEnvironment } from './lambda-invocation.js';

type UrlHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2> | APIGatewayProxyResultV2;

export interface HttpGatewayOptions {
  resources: ProvisionedResources;
  credentials: { accessKeyId: string; secretAccessKey: string };
  awsEndpoint?: string;
  port?: number;
  /** Extra variables for every function. */
  environment?: Record<string, string>;
}

export interface HttpGateway {
  baseUrl: string;
  /** The URL standing in for a function's function URL (ends with `/`). */
  urlOf(name: string): string;
  stop(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** Recomputes the request's SigV4 signature with the known credentials; returns why it is refused, or undefined. */
async function verifySignature(
  req: IncomingMessage,
  body: Buffer,
  url: URL,
  region: string,
  credentials: HttpGatewayOptions['credentials'],
): Promise<string | undefined> {
  const authorization = req.headers.authorization;
  const match = authorization ? AUTH.exec(authorization) : null;
  if (!match) return 'missing or malformed SigV4 Authorization header';
  const [, accessKey, , signedRegion, service, signedHeaders] = match as unknown as string[];
  if (accessKey !== credentials.accessKeyId) return `unknown access key ${accessKey}`;
  if (signedRegion !== region || service !== 'lambda') return `signed for ${service}/${signedRegion}, expected lambda/${region}`;
  const amzDate = req.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/.test(amzDate)) return 'missing or malformed x-amz-date';
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  if (Number.isNaN(signingDate.getTime())) return 'malformed x-amz-date';
  if (Math.abs(Date.now() - signingDate.getTime()) > 5 * 60_000) return 'signature expired (x-amz-date more than 5 minutes away)';
  const signed = signedHeaders!.split(';');
  for (const required of ['host', 'x-amz-date']) {
    if (!signed.includes(required)) return `${required} is not among the signed headers`;
  }
  // The payload hash is computed from the bytes received, never taken from the client's header.
  const payloadHash = createHash('sha256').update(body).digest('hex');
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed !== undefined && claimed !== payloadHash) return 'x-amz-content-sha256 does not match the body (unsigned or altered payload)';
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = req.headers[name];
    if (value === undefined) return `signed header ${name} is missing`;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => {
    query[k] = v;
  });
  const signer = new SignatureV4({ credentials, region, service: 'lambda', sha256: NodeSha256 });
  const expected = await signer.sign(
    new HttpRequest({
      protocol: 'http:',
      hostname: url.hostname,
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      headers,
      ...(body.length ? { body: body.toString('utf8') } : {}),
    }),
    { signingDate },
  );
  const a = Buffer.from(expected.headers.authorization ?? '');
  const b = Buffer.from(authorization!);
  return a.length === b.length && timingSafeEqual(a, b) ? undefined : 'signature does not match';
}

/** An allowed origin, exact or with `*` standing for any characters (as S3 and moto match CORS origins). */
function originMatches(allowed: string, origin: string): boolean {
  if (!allowed.includes('*')) return allowed === origin;
  return new RegExp(
    `^${allowed
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  ).test(origin);
}

export async function startHttpGateway(options: HttpGatewayOptions): Promise<HttpGateway> {
  const { resources } = options;
  const served = new Map(
    Object.values(resources.functions)
      .filter((f) => f.functionUrl || f.aliasUrl)
      .map((f) => [f.name, f]),
  );
  const handlers = new Map<string, Promise<UrlHandler>>();
  const load = (fn: LocalFunction) => {
    let handler = handlers.get(fn.name);
    if (!handler) {
      if (!fn.entryPath) throw new Error(`function ${fn.name} has no BeamlineArchive:Entry metadata`);
      handler = import(pathToFileURL(fn.entryPath).href).then((m: Record<string, unknown>) => {
        const h = m[fn.handlerExport];
        if (typeof h !== 'function') throw new Error(`${fn.entryPath} does not export ${fn.handlerExport}`);
        return h as UrlHandler;
      });
      handlers.set(fn.name, handler);
    }
    return handler;
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
        const match = /^\/fn\/([^/]+)(\/.*)?$/.exec(url.pathname);
        const fn = match ? served.get(match[1]!) : undefined;
        if (!match || !fn) return send(res, 404, { message: `no function URL at ${url.pathname}` });
        const body = await readBody(req);
        const sigV4 = /^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? '');
        // Which of the function's URLs this request stands for: a signed request the IAM URL, else the alias (people) URL if any.
        const target = sigV4 || !fn.aliasUrl ? fn.functionUrl : fn.aliasUrl;
        if (!target) return send(res, 403, { Message: 'Forbidden: this function has no URL for unsigned requests' });
        const cors = fn.aliasUrl && target === fn.aliasUrl ? fn.aliasUrl.cors : undefined;
        const origin = req.headers.origin;
        const corsHeaders: Record<string, string> =
          cors && origin && (cors.allowOrigins.includes('*') || cors.allowOrigins.some((o) => originMatches(o, origin)))
            ? { 'access-control-allow-origin': cors.allowOrigins.includes('*') ? '*' : origin, vary: 'origin' }
            : {};
        if (cors && req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
          res.writeHead(204, {
            ...corsHeaders,
            'access-control-allow-methods': cors.allowMethods.join(','),
            'access-control-allow-headers': cors.allowHeaders.join(','),
            ...(cors.maxAge !== undefined ? { 'access-control-max-age': String(cors.maxAge) } : {}),
          });
          return res.end();
        }
        let authorizer: { iam: Record<string, string> } | undefined;
        if (target.authType === 'AWS_IAM') {
          const refused = await verifySignature(req, body, url, resources.region, options.credentials);
          if (refused) return send(res, 403, { Message: `Forbidden: ${refused}` });
          const accessKey = AUTH.exec(req.headers.authorization ?? '')![1]!;
          authorizer = {
            iam: {
              accessKey,
              accountId: resources.accountId,
              callerId: accessKey,
              principalOrgId: '',
              userArn: `arn:aws:iam::${resources.accountId}:user/${accessKey}`,
              userId: accessKey,
            },
          };
        }
        for (const [k, v] of Object.entries(functionEnvironment(fn, resources.region, options.awsEndpoint, options.environment)))
          process.env[k] = v;
        const rawPath = match[2] ?? '/';
        const now = new Date();
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
        const textual = /json|text|xml|csv|x-www-form-urlencoded/.test(headers['content-type'] ?? 'application/json');
        const event: APIGatewayProxyEventV2 = {
          version: '2.0',
          routeKey: '$default',
          rawPath,
          rawQueryString: url.search.slice(1),
          headers,
          ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams.entries()) } : {}),
          requestContext: {
            accountId: resources.accountId,
            apiId: fn.functionName,
            domainName: url.host,
            domainPrefix: fn.functionName,
            http: {
              method: req.method ?? 'GET',
              path: rawPath,
              protocol: 'HTTP/1.1',
              sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
              userAgent: headers['user-agent'] ?? '',
            },
            requestId: randomUUID(),
            routeKey: '$default',
            stage: '$default',
            time: now.toUTCString(),
            timeEpoch: now.getTime(),
            ...(authorizer ? { authorizer } : {}),
          } as APIGatewayProxyEventV2['requestContext'],
          ...(body.length ? { body: textual ? body.toString('utf8') : body.toString('base64') } : {}),
          isBase64Encoded: body.length > 0 && !textual,
        };
        try {
          const handler = await load(fn);
          const result = await handler(event, buildLambdaContext(fn, resources.region, Date.now() + fn.timeoutSeconds * 1000));
          if (typeof result === 'string' || result === undefined || !('statusCode' in result)) {
            return send(res, 200, result ?? null);
          }
          const resultHeaders = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)]));
          res.writeHead(result.statusCode ?? 200, { 'content-type': 'application/json', ...resultHeaders, ...corsHeaders });
          res.end(result.body === undefined ? '' : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
        } catch (error) {
          // As Lambda does: an unhandled error is a 502 without the error's details.
          process.stderr.write(
            `${JSON.stringify({ level: 'ERROR', message: 'function URL handler failed', function: fn.name, error: String(error) })}\n`,
          );
          send(res, 502, { Message: 'Internal Server Error' });
        }
      } catch (error) {
        // The gateway itself failed (a request it could not parse): answer, never leave it hanging.
        if (!res.headersSent) send(res, 400, { Message: `Bad Request: ${(error as Error).message}` });
        else res.end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const address = server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    baseUrl,
    urlOf(name) {
      if (!served.has(name))
        throw new Error(`function ${name} has no function URL in the template (have: ${[...served.keys()].join(', ') || 'none'})`);
      return `${baseUrl}/fn/${name}/`;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
