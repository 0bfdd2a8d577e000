/**
 * The portal's calls to the archive's APIs (the people URLs of dataset-api and export-api,
 * docs/adr/0008): JSON with the signed-in person's bearer token; refusals become readable errors.
 * Sign-in: OpenID Connect authorization code with PKCE S256 (oauth4webapi), against the issuer the
 * config names (locally local/oidc-issuer.ts; in AWS the facility's Keycloak / UmbrellaID).
 */
import * as oauth from 'oauth4webapi';

export interface PortalConfig {
  datasetApi: string;
  exportApi: string;
  analysisApi: string;
  /** The OIDC issuer people sign in with (its discovery document names the endpoints). */
  issuer: string;
  /** The portal's client id at that issuer (a public client: PKCE, no secret). */
  clientId: string;
}
type ApiName = 'datasetApi' | 'exportApi' | 'analysisApi';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

let config: PortalConfig | undefined;
export async function loadConfig(): Promise<PortalConfig> {
  config ??= (await (await fetch('./config.json')).json()) as PortalConfig;
  return config;
}

const TOKEN_KEY = 'beamline-archive.token';
export const session = {
  token: (): string | undefined => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
  /** The token's claims, for display only (the APIs verify the token). */
  claims(): { preferred_username?: string; proposals?: string[]; beamlines?: string[]; roles?: string[] } | undefined {
    const token = session.token();
    if (!token) return undefined;
    try {
      return JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as ReturnType<typeof session.claims>;
    } catch {
      return undefined;
    }
  },
};

const PENDING_KEY = 'beamline-archive.sign-in';

/** http:// is accepted for an issuer on this machine only (the local issuer); anything else must be https. */
function requestOptions(issuer: URL) {
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
  return loopback ? { [oauth.allowInsecureRequests]: true } : {};
}

async function authorizationServer(): Promise<{
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  options: ReturnType<typeof requestOptions>;
}> {
  const { issuer, clientId } = await loadConfig();
  if (!issuer) throw new ApiError('This portal has no sign-in configured (no OIDC issuer in its config.json).', 503);
  const url = new URL(issuer);
  const options = requestOptions(url);
  const as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm: 'oidc', ...options }));
  return { as, client: { client_id: clientId }, options };
}

/** Where the issuer sends the person back: this page, without its hash (the view is kept aside). */
const redirectUri = () => `${window.location.origin}${window.location.pathname}`;

/** Sends the person to the issuer's sign-in page (authorization code + PKCE S256); they come back to `finishSignIn`. */
export async function signIn(): Promise<never> {
  const { as, client } = await authorizationServer();
  if (!as.authorization_endpoint) throw new ApiError(`the issuer ${as.issuer} names no authorization endpoint`, 503);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, view: window.location.hash }));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: redirectUri(),
    response_type: 'code',
    scope: 'openid',
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.toString());
  return new Promise<never>(() => undefined);
}

/**
 * On the way back from the issuer (`?code=…&state=…` or `?error=…`): checks the state, exchanges the
 * code with the PKCE verifier, keeps the access token and returns to the view the person left.
 * False when this page is not such a return.
 */
export async function finishSignIn(): Promise<boolean> {
  const here = new URL(window.location.href);
  if (!here.searchParams.has('code') && !here.searchParams.has('error')) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null') as { verifier: string; state: string; view: string } | null;
  sessionStorage.removeItem(PENDING_KEY);
  const clean = () => window.history.replaceState(null, '', `${redirectUri()}${pending?.view ?? ''}`);
  try {
    if (!pending) throw new ApiError('sign-in refused: this browser did not start it (no sign-in in progress); sign in again', 400);
    const { as, client, options } = await authorizationServer();
    const callback = oauth.validateAuthResponse(as, client, here, pending.state);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      callback,
      redirectUri(),
      pending.verifier,
      options,
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { requireIdToken: true });
    session.set(tokens.access_token);
    clean();
    return true;
  } catch (error) {
    clean();
    const e = error as { error?: string; error_description?: string; message: string };
    throw new ApiError(`sign-in refused: ${e.error_description ?? e.error ?? e.message}`, 401);
  }
}

/** A readable sentence for a refusal: who may not see what. */
function refusal(status: number, message: string | undefined, what: string): string {
  if (status === 401) return 'You are not signed in, or your session expired: sign in again.';
  if (status === 403) return message && /proposal/i.test(message) ? message : `You have no access to ${what}.`;
  if (status === 404) return message ?? `${what} does not exist.`;
  return message ?? `The archive answered HTTP ${status} for ${what}.`;
}

export async function call<T>(api: ApiName, path: string, what: string, init: RequestInit = {}): Promise<T> {
  const base = (await loadConfig())[api];
  const token = session.token();
  const response = await fetch(`${base.replace(/\/$/, '')}${path}`, {
    ...init,
    headers: {
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...init.headers,
    },
  });
  const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!response.ok) throw new ApiError(refusal(response.status, body.error ?? body.message, what), response.status);
  return body as T;
}

export interface DatasetRecord {
  id: string;
  proposal: string;
  beamline: string;
  session: string;
  collection: string;
  dataset: string;
  state: string;
  techniques: string[];
  metadata: Record<string, string>;
  start_date: string;
  end_date?: string;
  missing?: { mandatory: string[]; techniques: Record<string, string[]> } | string[];
  master_file?: { key: string } | string;
}
export interface DatasetScan {
  runUid: string;
  scanNumber: number;
  title?: string;
  startTime?: string;
  fileKey?: string;
  fileSha256?: string;
  /** From the run record (dataset-api): scan type, points archived, state, end. */
  type?: string;
  points?: number;
  state?: string;
  endTime?: string;
  endReason?: string;
  refusedChannels?: { channel: string; reason: string }[];
}
export interface ScanFileLinks {
  file: { key: string; bytes?: number; sha256?: string };
  url: string;
  index_url: string | null;
  expires_in: number;
}
export interface ExportStatus {
  export_id: string;
  state: string;
  progress?: { done: number; total: number } | number;
  files?: { name: string; url?: string; bytes?: number }[];
  reason?: string;
}

export const idPath = (id: string) => id.split('/').map(encodeURIComponent).join('/');
