/**
 * A small client of the analysis store's HTTP API (functions/analysis-api): every call carries the
 * person's OIDC access token (`{token}`, for the people URL) or is signed with SigV4 (service
 * `lambda`, `{region, credentials?}`, for the IAM URL).
 *
 *   const client = new AnalysisClient(url, { region: 'eu-west-1' });
 *   const saved = await client.save({ data, metadata, writers, provenance });
 *   const prov = await client.prov(`run:${saved.uid}`);
 */
import { apiRequest, type ApiAuth } from '../adapters/signed-http.js';
import type { SavedRun, SaveDerivedRunRequest, DerivedRunContent } from '../core/analysis/derived-run.js';
import type { Lineage, LineageDirection } from '../core/provenance/lineage.js';
import type { InputFile, ProvenanceInput, ProvenanceRecord } from '../core/provenance/model.js';
import type { ProvDocument } from '../core/provenance/prov-json.js';

/** A refused or failed call: HTTP status, the server's error name and message, and what is missing. */
export class AnalysisApiError extends Error {
  override name = 'AnalysisApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly error: string | undefined,
    /** Missing provenance, one line each (400). */
    readonly missing: string[] = [],
    /** Problems with the data (400). */
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

export class AnalysisClient {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly auth: ApiAuth,
  ) {
    this.baseUrl = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    query: Record<string, string | number | undefined> = {},
    body?: unknown,
  ): Promise<T> {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const response = await apiRequest({ url: url.toString(), method, ...(body !== undefined ? { body } : {}) }, this.auth);
    if (response.status >= 200 && response.status < 300) return response.json as T;
    const err = (response.json ?? {}) as { error?: string; message?: string; Message?: string; missing?: string[]; problems?: string[] };
    throw new AnalysisApiError(
      `${method} ${url.pathname} answered ${response.status}: ${err.message ?? err.Message ?? response.body.slice(0, 300)}`,
      response.status,
      err.error,
      err.missing ?? [],
      err.problems ?? [],
    );
  }

  /** Saves derived data with its provenance; resolves to the new run's uid, document counts and files. */
  save(request: Omit<SaveDerivedRunRequest, 'provenance'> & { provenance: ProvenanceInput | unknown }): Promise<SavedRun> {
    return this.call('POST', 'runs', {}, request);
  }

  /** A derived run's documents, and with `data` the values of every key. */
  get(runUid: string, options: { data?: boolean } = {}): Promise<DerivedRunContent> {
    return this.call('GET', `runs/${encodeURIComponent(runUid)}`, options.data ? { data: 'true' } : {});
  }

  /** Records the provenance of an entity that is not a derived run (a dataset, an export, a file). */
  recordProvenance(entity: string, provenance: ProvenanceInput, outputs?: InputFile[]): Promise<ProvenanceRecord> {
    return this.call('POST', 'provenance', {}, { entity, provenance, ...(outputs ? { outputs } : {}) });
  }

  provenance(entity: string): Promise<ProvenanceRecord> {
    return this.call('GET', 'provenance', { entity });
  }

  lineage(entity: string, direction: LineageDirection = 'ancestors', depth?: number): Promise<Lineage> {
    return this.call('GET', 'lineage', { entity, direction, depth });
  }

  /** The lineage (both directions by default) as W3C PROV-JSON. */
  prov(entity: string, direction: LineageDirection | 'both' = 'both', depth?: number): Promise<ProvDocument> {
    return this.call('GET', 'prov', { entity, direction, depth });
  }
}
