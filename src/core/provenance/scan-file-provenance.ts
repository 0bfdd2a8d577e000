/**
 * Provenance of the archive's own scan files: a RunCatalogue decorator that, when the scan writer
 * records a run ARCHIVED, records the provenance of its file (`file:s3://<bucket>/<key>`): parent
 * the raw run, inputs the run's documents in the catalogue and the staged chunks with their sha256
 * (from the StreamDatum documents), the RunStart/RunStop uids as parameters, the beamline-archive version (and commit when known) as
 * software. The activity uid is derived from the run and the file's checksum, so a redelivered
 * RunStop re-records nothing (duplicate).
 */
import { createHash } from 'node:crypto';
import { DetailType } from '../contract/detail-types.js';
import type { StreamDatum } from '../contract/generated-types.js';
import type { ArchivedRun, RunCatalogue, StoredDocument } from '../archive/ports.js';
import { fileRef, runRef, type ProvenanceInput, type SoftwareRef } from './model.js';
import type { ProvenanceStore } from './ports.js';
import { recordProvenance } from './record-provenance.js';

/** The archive itself as software: `repository` is where its source lives (set at deployment, see infra/bin/app.ts). */
export function archiveSoftware(version: string, repository: string, commit?: string): SoftwareRef {
  return { name: 'beamline-archive', version, ...(commit && /^[0-9a-f]{7,64}$/.test(commit) ? { commit } : {}), repository };
}

/**
 * The provenance input of a scan file from the run's documents. One input per channel, not per
 * chunk, so that the record stays small whatever the scan's size: its uri is the channel's staging
 * folder, its sha256 the digest of the chunks' sha256 (hex, in index order, newline-separated),
 * its bytes their sum. The chunks themselves are listed in the catalogue's StreamDatum documents.
 * The other documents of the run (RunStart with the ICAT snapshot, descriptors, resources, RunStop)
 * are an input too: `catalogue:run/<uid>/documents`, the digest of each document's detail-type, uid
 * and body in uid order. So a scan that ended before its first point (no chunk at all) still has
 * the inputs its file was made from.
 */
export function scanFileProvenance(run: ArchivedRun, documents: readonly StoredDocument[], software: SoftwareRef): ProvenanceInput {
  const datums = documents.filter((d) => d.detailType === DetailType.StreamDatum).map((d) => d.body as StreamDatum);
  const others = documents
    .filter((d) => d.detailType !== DetailType.StreamDatum)
    .sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  const documentsDigest = createHash('sha256');
  for (const d of others) documentsDigest.update(`${d.detailType}\n${d.uid}\n${JSON.stringify(d.body)}\n`);
  const byFolder = new Map<string, StreamDatum[]>();
  for (const d of datums) {
    const folder = `s3://${d.chunk.bucket}/${d.chunk.key.slice(0, d.chunk.key.lastIndexOf('/') + 1)}`;
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), d]);
  }
  const inputs = [...byFolder.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([uri, chunks]) => {
      const ordered = [...chunks].sort((a, b) => a.indices.start - b.indices.start);
      return {
        uri,
        sha256: createHash('sha256')
          .update(ordered.map((d) => d.chunk.sha256).join('\n'))
          .digest('hex'),
        bytes: ordered.reduce((sum, d) => sum + d.chunk.bytes, 0),
      };
    });
  return {
    parents: [runRef(run.runUid)],
    inputs: [{ uri: `catalogue:run/${run.runUid}/documents`, sha256: documentsDigest.digest('hex') }, ...inputs],
    software,
    parameters: { run_start: run.runUid, run_stop: `${run.runUid}/stop`, points: run.points },
    agent: { name: 'beamline-archive scan-writer' },
    started_at: run.archivedAt,
    ended_at: run.archivedAt,
    activity: 'scan-file-writing',
  };
}

/** Wraps the scan writer's catalogue: runArchived also records the file's provenance. */
export function withScanFileProvenance(
  catalogue: RunCatalogue,
  provenance: ProvenanceStore,
  software: SoftwareRef,
  now: () => Date = () => new Date(),
): RunCatalogue {
  const wrapped: RunCatalogue = Object.create(catalogue) as RunCatalogue;
  wrapped.runArchived = async (run: ArchivedRun) => {
    // Provenance first: a run is ARCHIVED only once its file's lineage is recorded.
    const documents = await catalogue.listDocuments(run.runUid);
    await recordProvenance(
      fileRef(run.file.bucket, run.file.key),
      scanFileProvenance(run, documents, software),
      {
        store: provenance,
        now,
        newUid: () => `scan-writer/${run.runUid}/${run.file.sha256}`,
      },
      { activityUid: `scan-writer/${run.runUid}/${run.file.sha256}` },
    );
    return catalogue.runArchived(run);
  };
  return wrapped;
}
