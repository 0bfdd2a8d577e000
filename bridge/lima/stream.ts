/**
 * What the parts of the Lima follower share (bridge/lima-follower.ts: the stream's loop and its
 * checkpoint; bridge/lima/file-reader.ts: files opened confined and uploaded; bridge/lima/lima2-transfer.ts:
 * the Lima2 receiver and master files): one Lima stream's state, the options and the hooks into the scan follower.
 */
import type { ObjectStore } from '../../src/core/ports.js';
import type { Lima2DatumFiles, Lima2Saving } from '../../src/core/bliss/lima2-files.js';
import type { LimaFileRange, LimaSaving } from '../../src/core/bliss/lima-files.js';
import type { StreamModel } from '../../src/core/bliss/scan-model.js';
import type { ScanSource } from '../../src/core/bliss/scan-source.js';
import type { Logger } from '../../src/adapters/logger.js';
import type { LimaStreamCheckpoint, ScanCheckpoint } from '../checkpoint/index.js';
import type { BridgeStats } from '../bridge-stats.js';
import { RunFailure } from '../errors.js';
import type { StagingSink } from '../staging/sink.js';
import type { Stopper } from '../staging/stopper.js';

/** Why a Lima stream could not be archived completely; the follower turns it into Run Failed. */
export class LimaRunError extends RunFailure {
  override name = 'LimaRunError';
}

export interface LimaOptions {
  flushIntervalMs: number;
  readCount: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long a missing or unreadable Lima file is waited for before it is reported (ms); default 60 s. */
  limaFileWaitMs?: number;
  /**
   * Operator-set folders (`--lima-root`): when given, a Lima file is read only if its real path is below one of them as
   * well as below the scan's save folder (which comes from Redis). Reaches here through the bridge's options object,
   * which the scan follower passes on as it is.
   */
  limaRoots?: readonly string[];
}

/** How long a missing Lima file is waited for by default (ms): files on NFS can appear late. */
export const DEFAULT_LIMA_FILE_WAIT_MS = 60_000;

export interface LimaHooks {
  runUid: string;
  scanKey: string;
  beamline: string;
  source: ScanSource;
  store: ObjectStore;
  logger: Logger;
  stats: BridgeStats;
  checkpoint: ScanCheckpoint;
  saveCheckpoint: () => void;
  /** The scan follower's staging sink (its ordered, retried publish and its retry backoff). */
  sink: StagingSink;
  /** The scan follower's stop: sleeps throw Interrupted once the bridge stops. */
  stopper: Stopper;
  /** A failure that ends the run now (malformed statuses, refused documents). */
  fail: (error: unknown) => void;
}

export interface LimaStream {
  model: StreamModel;
  /** Lima (v1): a file pattern and frames per file. */
  saving?: LimaSaving;
  /** Lima2: a master file and its receivers' files (src/core/bliss/lima2-files.ts). */
  saving2?: Lima2Saving;
  detector: string;
  /** The scan's save folder (its scan file's folder): the only place its Lima files are read from. */
  saveFolder: string;
  cp: LimaStreamCheckpoint;
  /** Frames acquired (last_index + 1) and saved (last_index_saved + 1) as the latest status says. */
  acquired: number;
  saved: number;
  sealed: boolean;
  done?: Promise<void>;
  total?: number;
}

/** One StreamDatum announcing frames of an uploaded file (a Lima2 master file: one per range of its receiver files). */
export interface LimaDatumPiece {
  range: LimaFileRange;
  frameOffset: number;
  lima2?: Lima2DatumFiles;
}
