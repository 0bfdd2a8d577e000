/**
 * The portal's calls to the archive's APIs (the people URLs of dataset-api and export-api,
 * docs/adr/0008): JSON with the signed-in person's bearer token; refusals become readable errors.
 */
export interface PortalConfig {
  datasetApi: string;
  exportApi: string;
  analysisApi: string;
  /** Where the sign-in form gets a token (the local issuer, through the portal's server). */
  tokenEndpoint: string;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(message: string, readonly status: number) {
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

export async function signIn(username: string): Promise<void> {
  const { tokenEndpoint } = await loadConfig();
  const response = await fetch(tokenEndpoint, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username }),
  });
  const body = (await response.json().catch(() => ({}))) as { access_token?: string; error_description?: string; error?: string };
  if (!response.ok || !body.access_token) throw new ApiError(`sign-in refused: ${body.error_description ?? body.error ?? response.status}`, response.status);
  session.set(body.access_token);
}

/** A readable sentence for a refusal: who may not see what. */
function refusal(status: number, message: string | undefined, what: string): string {
  if (status === 401) return 'You are not signed in, or your session expired: sign in again.';
  if (status === 403) return message && /proposal/i.test(message) ? message : `You have no access to ${what}.`;
  if (status === 404) return message ?? `${what} does not exist.`;
  return message ?? `The archive answered HTTP ${status} for ${what}.`;
}

export async function call<T>(api: keyof Omit<PortalConfig, 'tokenEndpoint'>, path: string, what: string, init: RequestInit = {}): Promise<T> {
  const base = (await loadConfig())[api];
  const token = session.token();
  const response = await fetch(`${base.replace(/\/$/, '')}${path}`, {
    ...init, headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers },
  });
  const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!response.ok) throw new ApiError(refusal(response.status, body.error ?? body.message, what), response.status);
  return body as T;
}

export interface DatasetRecord {
  id: string; proposal: string; beamline: string; session: string; collection: string; dataset: string;
  state: string; techniques: string[]; metadata: Record<string, string>; start_date: string; end_date?: string;
  missing?: { mandatory: string[]; techniques: Record<string, string[]> } | string[]; master_file?: { key: string } | string;
}
export interface DatasetScan { runUid: string; scanNumber: number; title?: string; startTime?: string; fileKey?: string; fileSha256?: string }
export interface ScanFileLinks { file: { key: string; bytes?: number; sha256?: string }; url: string; index_url: string | null; expires_in: number }
export interface ExportStatus { export_id: string; state: string; progress?: { done: number; total: number } | number; files?: { name: string; url?: string; bytes?: number }[]; reason?: string }

export const idPath = (id: string) => id.split('/').map(encodeURIComponent).join('/');
