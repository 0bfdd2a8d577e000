/**
 * An ExportCatalogue in memory with the DynamoDB adapter's rules: one record per export id, a claim
 * only of a REQUESTED export or of a BUILDING one whose lease ran out, a hand-over only of a BUILDING
 * one, FAILED never overwrites COMPLETED. For unit tests and nothing in production.
 */
import type { RunEngine } from '../../core/archive/ports.js';
import {
  ExportState,
  type ExportCatalogue,
  type ExportFileRecord,
  type ExportProgress,
  type ExportRecord,
  type NewExportRecord,
} from '../../core/exports/ports.js';

export class MemoryExportCatalogue implements ExportCatalogue {
  readonly records = new Map<string, ExportRecord>();
  async create(r: NewExportRecord) {
    const existing = this.records.get(r.exportId);
    if (existing) return { created: false, record: structuredClone(existing) };
    const record: ExportRecord = { ...r, state: ExportState.Requested, updatedAt: r.requestedAt, attempts: 0 };
    this.records.set(r.exportId, record);
    return { created: true, record: structuredClone(record) };
  }
  async get(id: string) {
    const r = this.records.get(id);
    return r ? structuredClone(r) : undefined;
  }
  async claim(id: string, now: string, leaseUntil: string) {
    const r = this.records.get(id);
    if (!r || !(r.state === ExportState.Requested || (r.state === ExportState.Building && (r.leaseUntil ?? '') < now))) return undefined;
    Object.assign(r, { state: ExportState.Building, leaseUntil, attempts: r.attempts + 1, progress: undefined });
    return structuredClone(r);
  }
  async progress(id: string, progress: ExportProgress) {
    const r = this.records.get(id);
    if (r?.state === ExportState.Building) r.progress = progress;
  }
  async handedOver(id: string, h: { engine: RunEngine; reason: string; at: string; leaseUntil: string }) {
    const r = this.records.get(id);
    if (r?.state !== ExportState.Building) return false;
    Object.assign(r, { engine: h.engine, handOver: { reason: h.reason, at: h.at }, leaseUntil: h.leaseUntil });
    return true;
  }
  async completed(
    id: string,
    result: { files: ExportFileRecord[]; provenance: string; notes: string[]; completedAt: string; engine?: RunEngine | undefined },
  ) {
    Object.assign(this.records.get(id)!, { state: ExportState.Completed, ...result, progress: undefined, leaseUntil: undefined });
  }
  async failed(
    id: string,
    f: { reason: string; errors: ExportRecord['errors']; errorFiles: ExportRecord['errorFiles']; failedAt: string },
  ) {
    const r = this.records.get(id)!;
    if (r.state === ExportState.Completed) return 'already-completed' as const;
    Object.assign(r, { state: ExportState.Failed, ...f });
    return 'failed' as const;
  }
  async announced(id: string) {
    this.records.get(id)!.announced = true;
  }
}
