/**
 * What the export service needs (export-service.ts and the steps it delegates to: export-files.ts,
 * export-outcome.ts): catalogues, store, reader, workspace, bus, provenance, clock, capacity.
 */
import type { EventPublisher, ObjectStore } from '../ports.js';
import type { RunCatalogue, RunEngine, TaskEngine } from '../archive/ports.js';
import type { SoftwareRef } from '../provenance/model.js';
import type { ProvenanceStore } from '../provenance/ports.js';
import type { ExportCapacityConfig, ExportHere } from './export-capacity.js';
import type { ArchivedChannelReader, DownloadLinks, ExportCatalogue, ExportWorkspace } from './ports.js';

export interface ExportServiceDeps {
  exports: ExportCatalogue;
  runs: Pick<RunCatalogue, 'getRun' | 'listDocuments'>;
  store: ObjectStore;
  reader: ArchivedChannelReader;
  /** A fresh local scratch space per build; HDF5 object times are `fileTime` (the request's time: a rebuild gives the same bytes). */
  workspace: (fileTime: Date) => Promise<ExportWorkspace>;
  publisher: EventPublisher;
  provenance: { store: ProvenanceStore; software: SoftwareRef };
  /** Needed by `downloadLinks` only (the API). */
  links?: DownloadLinks;
  /** `beamline-archive <version>`: the creator attribute of HDF5 files. */
  creator: string;
  now: () => Date;
  /** How long a build may hold its claim before another worker takes it over (the function timeout). */
  leaseMs: number;
  /** Re-download a .tmp object and compare its sha256 when it is at most this big. @default 64 MiB */
  verifyDownloadMaxBytes?: number;
  log?: (message: string, context: Record<string, unknown>) => void;
  /** Where this service builds (the export-worker function, or the task a build was handed to): recorded on the export. */
  engine?: RunEngine | undefined;
  /**
   * Capacity before building (export-capacity.ts): what is free here, the limits, and the task engine
   * a build that does not fit the function is handed to. Without it every build runs here.
   */
  capacity?:
    | {
        config: ExportCapacityConfig;
        here: () => Promise<ExportHere>;
        taskEngine?: TaskEngine | undefined;
      }
    | undefined;
}
