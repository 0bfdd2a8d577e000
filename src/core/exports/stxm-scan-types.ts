/**
 * The STXM scan types suitcase-nxstxm knows (CLS pyStxm's `scan_types`, numbered 0–12 there) and
 * how each one maps onto the nine `stxm_scan_type` values of the NXstxm application definition,
 * which axes its images have and how its points split into NXentry groups.
 */
import { ExportRequestError } from './errors.js';
import type { ColumnData, ExportRun } from './model.js';
import { startKey } from './run-data.js';

export const StxmScanType = {
  DetectorImage: 'detector_image',
  OsaImage: 'osa_image',
  OsaFocus: 'osa_focus',
  SampleFocus: 'sample_focus',
  SamplePointSpectrum: 'sample_point_spectrum',
  SampleLineSpectrum: 'sample_line_spectrum',
  SampleImage: 'sample_image',
  SampleImageStack: 'sample_image_stack',
  GenericScan: 'generic_scan',
  CoarseImage: 'coarse_image',
  CoarseGoni: 'coarse_goni',
  Tomography: 'tomography',
  PatternGen: 'pattern_gen',
} as const;
export type StxmScanType = (typeof StxmScanType)[keyof typeof StxmScanType];

/** suitcase-nxstxm's integer codes (`scan_types` enum), accepted in `stxm.scan_type` too. */
const SUITCASE_CODES: readonly StxmScanType[] = [
  'detector_image',
  'osa_image',
  'osa_focus',
  'sample_focus',
  'sample_point_spectrum',
  'sample_line_spectrum',
  'sample_image',
  'sample_image_stack',
  'generic_scan',
  'coarse_image',
  'coarse_goni',
  'tomography',
  'pattern_gen',
];

/** The `stxm_scan_type` values of NXstxm. */
export const NxStxmScanType = {
  SamplePointSpectrum: 'sample point spectrum',
  SampleLineSpectrum: 'sample line spectrum',
  SampleImage: 'sample image',
  SampleImageStack: 'sample image stack',
  SampleFocus: 'sample focus',
  OsaImage: 'osa image',
  OsaFocus: 'osa focus',
  DetectorImage: 'detector image',
  GenericScan: 'generic scan',
} as const;
export type NxStxmScanType = (typeof NxStxmScanType)[keyof typeof NxStxmScanType];

/**
 * The shape of the points inside one region: an image (`y_points` × `x_points`, x fastest), a line
 * (`points` along a line; focus scans repeat it at each zone plate position), one position, or a
 * one-positioner scan.
 */
export type RegionShape = 'image' | 'line' | 'focus' | 'point' | 'generic';

export interface ScanTypeInfo {
  nxstxm: NxStxmScanType;
  region: RegionShape;
  /** Logical positioner names (keys of `stxm.positioners`) of the image's fast (x) and slow (y) axes. */
  x: string;
  y: string;
  /** Whether the entry's data has an energy axis (spectra, stacks). Otherwise one energy only. */
  energyAxis: boolean;
  /** Whether points split into one entry per goniometer angle. */
  perAngle: boolean;
}

export const SCAN_TYPES = {
  detector_image: { nxstxm: 'detector image', region: 'image', x: 'detector_x', y: 'detector_y', energyAxis: false, perAngle: false },
  osa_image: { nxstxm: 'osa image', region: 'image', x: 'osa_x', y: 'osa_y', energyAxis: false, perAngle: false },
  osa_focus: { nxstxm: 'osa focus', region: 'focus', x: 'osa_x', y: 'osa_y', energyAxis: false, perAngle: false },
  sample_focus: { nxstxm: 'sample focus', region: 'focus', x: 'sample_x', y: 'sample_y', energyAxis: false, perAngle: false },
  sample_point_spectrum: {
    nxstxm: 'sample point spectrum',
    region: 'point',
    x: 'sample_x',
    y: 'sample_y',
    energyAxis: true,
    perAngle: false,
  },
  sample_line_spectrum: { nxstxm: 'sample line spectrum', region: 'line', x: 'sample_x', y: 'sample_y', energyAxis: true, perAngle: false },
  sample_image: { nxstxm: 'sample image', region: 'image', x: 'sample_x', y: 'sample_y', energyAxis: false, perAngle: false },
  sample_image_stack: { nxstxm: 'sample image stack', region: 'image', x: 'sample_x', y: 'sample_y', energyAxis: true, perAngle: false },
  generic_scan: { nxstxm: 'generic scan', region: 'generic', x: 'sample_x', y: 'sample_y', energyAxis: false, perAngle: false },
  coarse_image: { nxstxm: 'sample image', region: 'image', x: 'sample_x', y: 'sample_y', energyAxis: false, perAngle: false },
  coarse_goni: { nxstxm: 'sample image', region: 'image', x: 'sample_x', y: 'sample_y', energyAxis: false, perAngle: false },
  tomography: { nxstxm: 'sample image stack', region: 'image', x: 'sample_x', y: 'sample_y', energyAxis: true, perAngle: true },
  pattern_gen: { nxstxm: 'sample image', region: 'image', x: 'sample_x', y: 'sample_y', energyAxis: false, perAngle: false },
} as const satisfies Record<StxmScanType, ScanTypeInfo>;

export function isStxmScanType(value: unknown): value is StxmScanType {
  return typeof value === 'string' && Object.hasOwn(SCAN_TYPES, value);
}

/** The `stxm` object of a run's start document, or a request error saying it is missing. */
export function stxmMetadata(run: ExportRun<ColumnData>): Record<string, unknown> {
  const md = startKey(run, 'stxm');
  if (!md || typeof md !== 'object' || Array.isArray(md)) {
    throw new ExportRequestError(
      `run ${run.uid} has no "stxm" metadata in its start document: an NXstxm export needs at least stxm.scan_type, stxm.detector and stxm.positioners (docs/exports.md, NXstxm mapping)`,
      { runUid: run.uid, format: 'nxstxm' },
    );
  }
  return md as Record<string, unknown>;
}

/** The scan type of a run: `stxm.scan_type` as a name (`sample_image_stack`) or suitcase-nxstxm's code (7). */
export function classifyRun(run: ExportRun<ColumnData>): { scanType: StxmScanType; info: ScanTypeInfo } {
  const raw = stxmMetadata(run).scan_type;
  const scanType = typeof raw === 'number' && Number.isInteger(raw) ? SUITCASE_CODES[raw] : raw;
  if (!isStxmScanType(scanType)) {
    throw new ExportRequestError(
      `run ${run.uid}: stxm.scan_type ${JSON.stringify(raw)} is not a STXM scan type; use one of ${Object.keys(SCAN_TYPES).join(', ')} (or suitcase-nxstxm's code 0–12)`,
      { runUid: run.uid, format: 'nxstxm' },
    );
  }
  return { scanType, info: SCAN_TYPES[scanType] };
}
