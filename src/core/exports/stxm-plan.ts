/**
 * Entry planning of an NXstxm export: from a run's `stxm` metadata (counts of angles, energies,
 * polarizations and the spatial regions) to the NXentry groups it becomes and, for each, which
 * primary points fill its data array in which order.
 *
 * Point order of a run (outermost first): goniometer angle → energy → polarization → region →
 * (zone plate position, focus scans) → y → x (or the points of a line). One entry per region and
 * polarization (and angle, tomography); an entry's data is `[energy,] ...region shape`.
 */
import { ExportRequestError } from './errors.js';
import type { ColumnData, ExportRun } from './model.js';
import { stxmMetadata, type RegionShape, type ScanTypeInfo } from './stxm-scan-types.js';

export interface StxmGeometry {
  angles: number;
  energies: number;
  polarizations: number;
  /** Shape of the points of each region (`[y, x]`, `[points]`, `[zone plate, points]`, `[]` for one point). */
  regions: number[][];
  /** Points of one (angle, energy, polarization) block: all regions. */
  blockPoints: number;
  totalPoints: number;
}

export interface PlannedEntry {
  angle: number;
  energyCount: number;
  polarization: number;
  region: number;
  /** Shape of the entry's NXdata data: `[energies,] ...region shape`. */
  shape: number[];
  /**
   * The entry's primary points as ranges [start, stop), in C order of `shape`, which is also their
   * chronological order: one range per energy (joined when they touch), whatever the number of points.
   */
  ranges: [number, number][];
  /** Primary point indices (0-based), listed from `ranges` (for small entries and tests; a build reads `ranges`). */
  readonly points: number[];
}

function count(run: ExportRun<ColumnData>, value: unknown, key: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ExportRequestError(`run ${run.uid}: ${key} must be a positive whole number, not ${JSON.stringify(value)}`, {
      runUid: run.uid,
      format: 'nxstxm',
    });
  }
  return value;
}

function regionShape(
  run: ExportRun<ColumnData>,
  shape: RegionShape,
  region: Record<string, unknown>,
  i: number,
  md: Record<string, unknown>,
  primaryPoints: number,
  blocks: number,
): number[] {
  const key = (name: string) => `stxm.regions[${i}].${name}`;
  switch (shape) {
    case 'image': {
      const x = count(run, region.x_points, key('x_points'), NaN);
      const y = count(run, region.y_points, key('y_points'), NaN);
      if (Number.isNaN(x) || Number.isNaN(y)) {
        throw new ExportRequestError(`run ${run.uid}: ${key('x_points')} and ${key('y_points')} are required for an image region`, {
          runUid: run.uid,
          format: 'nxstxm',
        });
      }
      return [y, x];
    }
    case 'line': {
      const n = count(run, region.points, key('points'), NaN);
      if (Number.isNaN(n))
        throw new ExportRequestError(`run ${run.uid}: ${key('points')} (points along the line) is required`, {
          runUid: run.uid,
          format: 'nxstxm',
        });
      return [n];
    }
    case 'focus': {
      const n = count(run, region.points, key('points'), NaN);
      const z = count(run, region.focus_points ?? md.focus_points, 'stxm.focus_points', NaN);
      if (Number.isNaN(n) || Number.isNaN(z)) {
        throw new ExportRequestError(
          `run ${run.uid}: a focus scan needs ${key('points')} (points along the line) and stxm.focus_points (zone plate positions)`,
          { runUid: run.uid, format: 'nxstxm' },
        );
      }
      return [z, n];
    }
    case 'point':
      return [];
    case 'generic':
      return [count(run, region.points, key('points'), Math.floor(primaryPoints / blocks))];
  }
}

export function stxmGeometry(run: ExportRun<ColumnData>, info: ScanTypeInfo, primaryPoints: number): StxmGeometry {
  const md = stxmMetadata(run);
  const angles = count(run, md.angles, 'stxm.angles', 1);
  const energies = count(run, md.energies, 'stxm.energies', 1);
  const polarizations = count(run, md.polarizations, 'stxm.polarizations', 1);
  if (angles > 1 && !info.perAngle) {
    throw new ExportRequestError(
      `run ${run.uid}: stxm.angles is ${angles} but a ${info.nxstxm} scan has no goniometer axis; use scan_type "tomography" for images at several angles`,
      { runUid: run.uid, format: 'nxstxm' },
    );
  }
  if (energies > 1 && !info.energyAxis) {
    throw new ExportRequestError(
      `run ${run.uid}: stxm.energies is ${energies} but a ${info.nxstxm} has one energy; use scan_type "sample_image_stack" (images) or a spectrum type`,
      { runUid: run.uid, format: 'nxstxm' },
    );
  }
  const rawRegions = md.regions === undefined ? [{}] : md.regions;
  if (!Array.isArray(rawRegions) || rawRegions.length === 0 || !rawRegions.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
    throw new ExportRequestError(`run ${run.uid}: stxm.regions must be a non-empty list of objects (one per spatial region)`, {
      runUid: run.uid,
      format: 'nxstxm',
    });
  }
  const blocks = angles * energies * polarizations;
  const regions = (rawRegions as Record<string, unknown>[]).map((r, i) => regionShape(run, info.region, r, i, md, primaryPoints, blocks));
  const blockPoints = regions.reduce((n, shape) => n + shape.reduce((m, d) => m * d, 1), 0);
  return { angles, energies, polarizations, regions, blockPoints, totalPoints: blocks * blockPoints };
}

/** The entries of one run, in file order (angle, then polarization, then region). */
export function planEntries(geometry: StxmGeometry, info: ScanTypeInfo): PlannedEntry[] {
  const { angles, energies, polarizations, regions, blockPoints } = geometry;
  const offsets: number[] = [];
  regions.reduce((offset, shape) => {
    offsets.push(offset);
    return offset + shape.reduce((m, d) => m * d, 1);
  }, 0);
  const entries: PlannedEntry[] = [];
  for (let a = 0; a < angles; a += 1) {
    for (let p = 0; p < polarizations; p += 1) {
      regions.forEach((shape, r) => {
        const size = shape.reduce((m, d) => m * d, 1);
        const ranges: [number, number][] = [];
        for (let e = 0; e < energies; e += 1) {
          const base = ((a * energies + e) * polarizations + p) * blockPoints + offsets[r]!;
          const last = ranges[ranges.length - 1];
          if (last && last[1] === base) last[1] = base + size;
          else ranges.push([base, base + size]);
        }
        entries.push({
          angle: a,
          energyCount: energies,
          polarization: p,
          region: r,
          shape: info.energyAxis ? [energies, ...shape] : [...shape],
          ranges,
          get points() {
            return ranges.flatMap(([start, stop]) => Array.from({ length: stop - start }, (_, k) => start + k));
          },
        });
      });
    }
  }
  return entries;
}
