/**
 * The default plot (`plotselect`, NXdata) as the BLISS writer makes it: the signal is the first
 * channel the user selected (scan_info display_extra.plotselect), else the first item of
 * scan_info.plots, else the first counter; the axis of a 1D scan is the first scanned positioner.
 * A 2D scan (amesh: data_dim 2, npoints1 × npoints2) gets an image: the signal reshaped onto the
 * grid [slow, fast] and both motors as linear axes (`axes = [slow, fast]`).
 * When signal and axis hold different numbers of points (streams that ended apart), the plot
 * holds copies of their first common points and says so (`common_length`, `common_length_note`).
 */
import { scanGrid, plotCandidates, type ScanInfo } from './scan-info.js';
import type { AttrValue, PlanChannel, PlanNode } from './plan.js';
import type { ChannelInfo } from './layout-input.js';

export function planPlot(path: string, channels: readonly ChannelInfo[], planned: readonly PlanChannel[], info: ScanInfo): PlanNode[] {
  const dataset = new Map(planned.map((p) => [p.channel, p] as const));
  const find = (name: string | undefined) =>
    name === undefined ? undefined : (channels.find((c) => c.channel === name) ?? channels.find((c) => c.name === name));
  const candidates = plotCandidates(info);
  const rank = (c: ChannelInfo) => dataset.get(c.channel)?.pointShape.length ?? 0;
  const signal =
    candidates.signals.map(find).find((c) => c !== undefined) ??
    channels.find((c) => c.role === 'detector' && rank(c) === 0 && !c.channel.startsWith('timer:')) ??
    channels.find((c) => c.role === 'detector' && rank(c) === 0) ??
    channels.find((c) => c.role === 'detector');
  if (!signal) return [];
  const signalSet = dataset.get(signal.channel)!;
  const positioners = channels.filter((c) => c.role === 'positioner');

  const grid = scanGrid(info);
  const [fast, slow] = positioners;
  if (grid && fast && slow && rank(signal) === 0 && grid.fast * grid.slow === signalSet.shape[0]) {
    const axisOf = (c: ChannelInfo, dimension: 'fast' | 'slow'): PlanNode => ({
      kind: 'grid-axis',
      path: `${path}/${c.name}`,
      channel: c.channel,
      type: dataset.get(c.channel)!.type,
      dimension,
      grid,
      attrs: {},
    });
    return [
      { kind: 'group', path, attrs: { NX_class: 'NXdata', signal: signal.name, axes: [slow.name, fast.name] } },
      {
        kind: 'grid-signal',
        path: `${path}/${signal.name}`,
        channel: signal.channel,
        type: signalSet.type,
        shape: [grid.slow, grid.fast],
        attrs: { interpretation: 'image' },
      },
      axisOf(slow, 'slow'),
      axisOf(fast, 'fast'),
    ];
  }

  const axis = find(candidates.x) ?? positioners[0];
  const attrs: Record<string, AttrValue> = { NX_class: 'NXdata', signal: signal.name };
  if (axis && axis !== signal) attrs.axes = [axis.name, ...Array<string>(rank(signal)).fill('.')];
  const plotted = [signal, ...(attrs.axes ? [axis!] : [])].map((c) => ({ c, set: dataset.get(c.channel)! }));
  const common = commonLength(plotted.map((p) => p.set));
  if (common !== undefined) {
    // Streams that ended at different points (a scan stopped with Ctrl-C): the plot holds the first
    // `common` points of each, copied, so signal and axes have one length (NeXus NXdata, silx).
    const lengths = plotted.map((p) => `${p.c.name}: ${p.set.shape[0]}`).join(', ');
    attrs.common_length = common;
    attrs.common_length_note =
      `signal and axes are the first ${common} points, the length every plotted channel has (${lengths}); ` +
      'the complete channels are in measurement/';
    return [
      { kind: 'group', path, attrs },
      ...plotted.map(({ c, set }): PlanNode => ({
        kind: 'prefix-copy',
        path: `${path}/${c.name}`,
        channel: c.channel,
        type: set.type,
        shape: [common, ...set.pointShape],
        attrs: copiedAttrs(set),
      })),
    ];
  }
  const nodes: PlanNode[] = [
    { kind: 'group', path, attrs },
    { kind: 'link', path: `${path}/${signal.name}`, target: signalSet.path },
  ];
  if (attrs.axes) nodes.push({ kind: 'link', path: `${path}/${axis!.name}`, target: dataset.get(axis!.channel)!.path });
  return nodes;
}

/** The length signal and axes share when they differ (undefined when they all have the same length). */
export function commonLength(datasets: readonly Pick<PlanChannel, 'shape'>[]): number | undefined {
  const lengths = datasets.map((d) => d.shape[0] ?? 0);
  const min = Math.min(...lengths);
  return lengths.every((n) => n === min) ? undefined : min;
}

/** What a reader needs on a plotted copy: units and interpretation of its channel. */
function copiedAttrs(set: PlanChannel): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const key of ['units', 'interpretation'] as const) if (set.attrs[key] !== undefined) out[key] = set.attrs[key];
  return out;
}
