/**
 * The scan layouts, keyed by run origin: a BLISS scan's file follows nexus/layout.ts (from its
 * scan_info), a Bluesky run's bluesky/scan-layout.ts (from its documents). The layouts are peers:
 * neither imports the other; both take a ScanLayoutInput and give a NexusPlan (nexus/layout-input.ts).
 */
import { runOriginOf, type RunOrigin } from '../bluesky/run-origin.js';
import { buildBlueskyScanLayout } from '../bluesky/scan-layout.js';
import { buildBlissScanLayout } from './layout.js';
import type { NexusPlan, ScanLayoutInput } from './layout-input.js';

export const SCAN_LAYOUTS: Readonly<Record<RunOrigin, (input: ScanLayoutInput) => NexusPlan>> = {
  bliss: buildBlissScanLayout,
  bluesky: buildBlueskyScanLayout,
};

/** The plan of a run's scan file, by the layout of the run's origin. */
export function buildScanLayout(input: ScanLayoutInput): NexusPlan {
  return SCAN_LAYOUTS[runOriginOf(input.start)](input);
}
