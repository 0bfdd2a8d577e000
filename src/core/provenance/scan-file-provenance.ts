/**
 * Provenance of the archive's own scan files: a RunCatalogue decorator that, when the scan writer
 * records a run ARCHIVED, records the provenance of its file (`file:s3://<bucket>/<key>`): parent
 * the raw run, inputs the staged chunks with their sha256 (from the StreamDatum documents), the
 * RunStart/RunStop uids as parameters, the beamline-archive version (and commit when known) as
 * software. The activity uid is derived from the run and the file's checksum, so a redelivered
 * RunStop re-records nothing (duplicate).
 */
import { DetailType } from '../contract/detail-types.js';
import type { StreamDatum } from '../contract/generated-types.js';
import type { ArchivedRun, RunCatalogue } from '../archive/ports.js';
import { fileRef, runRef, type ProvenanceInput, type SoftwareRef } from './model.js';
import type { ProvenanceStore } from './ports.js';
import { recordProvenance } from './record-provenance.js';

/** The archive itself as software: `repository` is where its source lives (set at deployment, see infra/bin/app.ts). */
export function archiveSoftware(version: string, repository: string, commit?: string): SoftwareRef {
  return { name: 'beamline-archive', version, ...(commit && /^[0-9a-f]{7,64}$/.test(commit) ? { commit } : {}), repository };
}

/** The provenance input of a scan file from the run's documents. */
export function scanFileProvenance(run: ArchivedRun, datums: readonly StreamDatum[], software: SoftwareRef): ProvenanceInput {
  return {
    parents: [runRef(run.runUid)],
    inputs: [...datums].sort((a, b) => a.uid.localeCompare(b.uid)).map((d) => ({ uri: `s3://${d.chunk.bucket}/${d.chunk.key}`, sha256: d.chunk.sha256, bytes: d.chunk.bytes })),
    software,
    parameters: { run_start: run.runUid, run_stop: `${run.runUid}/stop`, points: run.points },
    agent: { name: 'beamline-archive scan-writer' },
    started_at: run.archivedAt,
    ended_at: run.archivedAt,
    activity: 'scan-file-writing',
  };
}

/** Wraps the scan writer's catalogue: runArchived also records the file's provenance. */
export function withScanFileProvenance(catalogue: RunCatalogue, provenance: ProvenanceStore, software: SoftwareRef, now: () => Date = () => new Date()): RunCatalogue {
  const wrapped: RunCatalogue = Object.create(catalogue) as RunCatalogue;
  wrapped.runArchived = async (run: ArchivedRun) => {
    await catalogue.runArchived(run);
    const datums = (await catalogue.listDocuments(run.runUid)).filter((d) => d.detailType === DetailType.StreamDatum).map((d) => d.body as StreamDatum);
    await recordProvenance(fileRef(run.file.bucket, run.file.key), scanFileProvenance(run, datums, software), {
      store: provenance, now, newUid: () => `scan-writer/${run.runUid}/${run.file.sha256}`,
    }, { activityUid: `scan-writer/${run.runUid}/${run.file.sha256}` });
  };
  return wrapped;
}
