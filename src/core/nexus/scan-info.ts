/**
 * What the scan file needs from a BLISS scan_info, read defensively: scan_info is the producer's
 * free-form JSON, so every field is optional and a wrong type reads as absent.
 */
import { isRecord } from '../guards.js';

export type ScanInfo = Readonly<Record<string, unknown>>;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Motor snapshots of scan_info.positioners: name → value, in published order. */
export interface PositionerSnapshots {
  start: Map<string, number>;
  end: Map<string, number>;
  dialStart: Map<string, number>;
  dialEnd: Map<string, number>;
  units: Map<string, string>;
}

function numbers(v: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (!isRecord(v)) return out;
  for (const [name, value] of Object.entries(v)) {
    // JSON has no NaN: producers send null or the string "nan" for a motor that could not be read.
    if (typeof value === 'number') out.set(name, value);
    else if (value === null || (typeof value === 'string' && /^[+-]?nan$/i.test(value))) out.set(name, Number.NaN);
  }
  return out;
}

export function positionerSnapshots(info: ScanInfo): PositionerSnapshots {
  const p = isRecord(info.positioners) ? info.positioners : {};
  const units = new Map<string, string>();
  if (isRecord(p.positioners_units)) {
    for (const [name, unit] of Object.entries(p.positioners_units)) if (typeof unit === 'string' && unit) units.set(name, unit);
  }
  return {
    start: numbers(p.positioners_start),
    end: numbers(p.positioners_end),
    dialStart: numbers(p.positioners_dial_start),
    dialEnd: numbers(p.positioners_dial_end),
    units,
  };
}

/**
 * The scan's positioners as the BLISS writer decides them: the 0-dimensional channels of the first
 * device of the acquisition chain that triggers others (motors for ascan, the timer for
 * loopscan/timescan/ct), in published order. Undefined when scan_info has no devices.
 */
export function scanPositioners(info: ScanInfo): string[] | undefined {
  const chain = isRecord(info.acquisition_chain) ? info.acquisition_chain : undefined;
  const devices = isRecord(info.devices) ? info.devices : undefined;
  if (!chain || !devices) return undefined;
  const channels = isRecord(info.channels) ? info.channels : {};
  for (const sub of Object.values(chain)) {
    if (!isRecord(sub)) continue;
    for (const deviceName of strings(sub.devices)) {
      const device = devices[deviceName];
      if (!isRecord(device) || strings(device.triggered_devices).length === 0) continue;
      return strings(device.channels).filter((c) => {
        const ch = channels[c];
        return isRecord(ch) && ch.dim === 0;
      });
    }
  }
  return undefined;
}

/** Grid of a 2D scan (amesh): points of the fast (npoints1) and slow (npoints2) axes; undefined for other scans. */
export function scanGrid(info: ScanInfo): { fast: number; slow: number } | undefined {
  if (info.data_dim !== 2) return undefined;
  const fast = info.npoints1;
  const slow = info.npoints2;
  if (typeof fast !== 'number' || typeof slow !== 'number' || !(fast > 0) || !(slow > 0)) return undefined;
  return { fast, slow };
}

/** Channels the user asked to plot (BLISS plotselect), then the items of scan_info.plots, in order. */
export function plotCandidates(info: ScanInfo): { signals: string[]; x?: string | undefined } {
  const extra = isRecord(info.display_extra) ? info.display_extra : {};
  const selected = strings(extra.displayed_channels ?? extra.plotselect);
  if (selected.length > 0) return { signals: selected };
  for (const plot of Array.isArray(info.plots) ? info.plots : []) {
    if (!isRecord(plot) || !Array.isArray(plot.items)) continue;
    for (const item of plot.items) {
      if (!isRecord(item)) continue;
      const signal = typeof item.value === 'string' ? item.value : typeof item.y === 'string' ? item.y : undefined;
      if (signal) return { signals: [signal], x: typeof item.x === 'string' ? item.x : undefined };
    }
  }
  return { signals: [] };
}

export interface ScanNote {
  date: string;
  message: string;
}

/** scan_info.comments: the notes the user added to the scan. */
export function scanNotes(info: ScanInfo): ScanNote[] {
  const comments = Array.isArray(info.comments) ? info.comments : [];
  return comments
    .filter(isRecord)
    .filter((c) => typeof c.message === 'string')
    .map((c) => ({ message: c.message as string, date: typeof c.date === 'string' ? c.date : '' }));
}

/** Units of a channel as scan_info.channels publishes them. */
export function channelUnit(info: ScanInfo, channel: string): string | undefined {
  const channels = isRecord(info.channels) ? info.channels : {};
  const ch = channels[channel];
  return isRecord(ch) && typeof ch.unit === 'string' && ch.unit ? ch.unit : undefined;
}
