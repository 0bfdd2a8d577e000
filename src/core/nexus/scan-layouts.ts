/**
 * The scan layouts, keyed by run origin: a BLISS scan's file follows nexus/layout.ts (from its
 * scan_info), a Bluesky run's bluesky/scan-layout.ts (from its documents). The layouts are peers:
 * neither imports the other; both take a ScanLayoutInput and give a NexusPlan (nexus/layout-input.ts).
 * Given the run's datums, the point-shape fix-up (nexus/point-shapes.ts) is part of every layout.
 */
import { runOriginOf, type RunOrigin } from '../bluesky/run-origin.js';
import { buildBlueskyScanLayout } from '../bluesky/scan-layout.js';
import { buildBlissScanLayout } from './layout.js';
import type { NexusPlan, ScanLayoutInput } from './layout-input.js';
import { resourcesAtLargestShape, varyingPointShapesRefusing, withPointShapeDatasets } from './point-shapes.js';
import { DEFAULT_STORAGE } from './writers/channel-writer.js';

export const SCAN_LAYOUTS: Readonly<Record<RunOrigin, (input: ScanLayoutInput) => NexusPlan>> = {
  bliss: buildBlissScanLayout,
  bluesky: buildBlueskyScanLayout,
};

/** The plan of a run's scan file, by the layout of the run's origin. */
export function buildScanLayout(input: ScanLayoutInput): NexusPlan {
  const layout = SCAN_LAYOUTS[runOriginOf(input.start)];
  if (!input.datumsByChannel) return layout(input);
  // Free-dimension channels whose point shape changed between chunks: laid out at their largest shape, with their
  // real shapes beside them. A channel whose padding would be too large is refused on its own; the others are laid out.
  const { varying, refused } = varyingPointShapesRefusing(input.resources, input.datumsByChannel, input.stop.run_start);
  const plan = layout({
    ...input,
    resources: resourcesAtLargestShape(input.resources, varying),
    refused: { ...input.refused, ...refused },
  });
  const fixed = withPointShapeDatasets(plan, varying, input.storage ?? DEFAULT_STORAGE);
  return fixed.pointShapeOf.size > 0 ? { ...fixed.plan, pointShapeOf: fixed.pointShapeOf } : fixed.plan;
}
