/**
 * An export request as it arrives (export API body or Export Requested detail): its checks, the
 * export id it names for its owner, and the fingerprint that tells a repeated request from a
 * different one under the same request id.
 */
import { createHash } from 'node:crypto';
import { DetailType } from '../contract/detail-types.js';
import type { ExportRequested } from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import { ContractError } from '../errors.js';
import { ExportFormat } from './model.js';
import { UnknownExportFormatError } from './service-errors.js';

/** A request as it arrives (API body or Export Requested detail). */
export interface ExportRequestInput {
  request_id: string;
  runs: string[];
  format: string;
  options?: Record<string, unknown>;
  requester?: string;
}

/** Options of a request take at most this many bytes of JSON. */
export const MAX_OPTIONS_BYTES = 4096;

/**
 * `exp-<24 hex of sha256(owner, request id)>`: a request id names the same export for the same
 * owner only, so a request id reused by someone else names another export (issue 15). The owner is
 * the authenticated caller of the export API (`oidc:…`, `iam:…`); requests put on the bus by clients
 * (trusted IAM machines) share one namespace, the request id alone.
 */
export function exportIdOf(requestId: string, owner?: string): string {
  const hash = createHash('sha256');
  if (owner !== undefined) hash.update(`${owner}\u0000`);
  return `exp-${hash.update(requestId).digest('hex').slice(0, 24)}`;
}

/** A requester named in a bus client's event is a label, never an identity: `bus:<label>`. */
export const BUS_REQUESTER_PREFIX = 'bus:';

/** JSON with object keys sorted: equal requests give equal text whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha256 of what the request asks for (runs in order, format, options); the requester is not part of it. */
export function requestFingerprint(request: Pick<ExportRequestInput, 'runs' | 'format' | 'options'>): string {
  return createHash('sha256')
    .update(canonicalJson({ runs: request.runs, format: request.format, options: request.options ?? {} }))
    .digest('hex');
}

/** An API request body or Export Requested detail checked against the contract and the options bound. */
export function parseExportRequest(input: unknown, source: string): ExportRequested {
  const detail = validateDetail(DetailType.ExportRequested, input, source);
  if (new Set(detail.runs).size !== detail.runs.length) {
    throw new ContractError(`runs lists a run twice: ${detail.runs.filter((r, i) => detail.runs.indexOf(r) !== i).join(', ')}`, {
      requestId: detail.request_id,
    });
  }
  if (detail.options && Buffer.byteLength(JSON.stringify(detail.options)) > MAX_OPTIONS_BYTES) {
    throw new ContractError(`options take at most ${MAX_OPTIONS_BYTES} bytes of JSON`, { requestId: detail.request_id });
  }
  return detail;
}

/** A request for a format no builder makes. */
export function unknownFormatError(request: Pick<ExportRequested, 'format' | 'request_id'>): UnknownExportFormatError {
  return new UnknownExportFormatError(
    `unknown export format ${JSON.stringify(request.format)}: use one of ${Object.values(ExportFormat).join(', ')}`,
    { requestId: request.request_id, format: request.format },
  );
}
