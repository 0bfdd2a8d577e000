/**
 * Serves the built portal (web/dist, `npm run build:web`) on loopback for the local environment:
 * the static files, `config.json` (the API URLs of the local gateway) and `/auth/token`, which
 * forwards the sign-in form to the local OIDC issuer's token endpoint (the issuer answers no CORS).
 * In AWS the same files come from S3 behind CloudFront (infra/constructs/portal.ts).
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { projectRoot } from './services.js';

export interface PortalServerOptions {
  datasetApi: string;
  exportApi: string;
  analysisApi: string;
  /** The local issuer's token endpoint (`<issuer>/token`); none: sign-in answers 503. */
  tokenEndpoint?: string;
  port?: number;
  root?: string;
}

export interface PortalServer {
  url: string;
  stop(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.woff2': 'font/woff2', '.woff': 'font/woff', '.map': 'application/json',
};

export const PORTAL_DIST = join(projectRoot, 'web', 'dist');

export async function startPortalServer(options: PortalServerOptions): Promise<PortalServer> {
  const root = options.root ?? PORTAL_DIST;
  if (!existsSync(join(root, 'index.html'))) throw new Error(`the portal is not built (${root}/index.html missing): run npm run build:web`);
  const config = JSON.stringify({ datasetApi: options.datasetApi, exportApi: options.exportApi, analysisApi: options.analysisApi, tokenEndpoint: './auth/token' });
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://portal');
      const headers = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
      if (url.pathname === '/config.json') {
        res.writeHead(200, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(config);
        return;
      }
      if (url.pathname === '/auth/token' && req.method === 'POST') {
        if (!options.tokenEndpoint) {
          res.writeHead(503, { ...headers, 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'unavailable', error_description: 'this environment has no OIDC issuer' }));
          return;
        }
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const answer = await fetch(options.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.concat(chunks) });
        res.writeHead(answer.status, { ...headers, 'content-type': answer.headers.get('content-type') ?? 'application/json', 'cache-control': 'no-store' });
        res.end(Buffer.from(await answer.arrayBuffer()));
        return;
      }
      const relative = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname.slice(1));
      const path = normalize(join(root, relative));
      if (!path.startsWith(root + sep) || !existsSync(path)) {
        res.writeHead(404, { ...headers, 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
      res.writeHead(200, { ...headers, 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(await readFile(path));
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`portal server: ${(error as Error).message}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
