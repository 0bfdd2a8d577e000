/**
 * Serves the built portal (web/dist, `npm run build:web`) on loopback for the local environment:
 * the static files and `config.json` (the API URLs of the local gateway, the OIDC issuer and the
 * portal's client id there: the browser signs in with the authorization code + PKCE itself).
 * In AWS the same files come from S3 behind CloudFront (infra/stacks/portal-stack.ts).
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { projectRoot } from './services.js';
import { LOCAL_PORTAL_CLIENT_ID } from './oidc-authorization-code.js';

export interface PortalServerOptions {
  datasetApi: string;
  exportApi: string;
  analysisApi: string;
  /** The OIDC issuer people sign in with (locally local/oidc-issuer.ts); none: the portal says sign-in is not configured. */
  issuer?: string;
  /** The portal's client id at the issuer. @default 'beamline-archive-portal' */
  clientId?: string;
  port?: number;
  root?: string;
}

export interface PortalServer {
  url: string;
  stop(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.map': 'application/json',
};

export const PORTAL_DIST = join(projectRoot, 'web', 'dist');

export async function startPortalServer(options: PortalServerOptions): Promise<PortalServer> {
  const root = options.root ?? PORTAL_DIST;
  if (!existsSync(join(root, 'index.html'))) throw new Error(`the portal is not built (${root}/index.html missing): run npm run build:web`);
  const config = JSON.stringify({
    datasetApi: options.datasetApi,
    exportApi: options.exportApi,
    analysisApi: options.analysisApi,
    issuer: options.issuer ?? '',
    clientId: options.clientId ?? LOCAL_PORTAL_CLIENT_ID,
  });
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://portal');
      const headers = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
      if (url.pathname === '/config.json') {
        res.writeHead(200, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(config);
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
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
