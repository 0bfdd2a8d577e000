/**
 * 2D detectors whose frames are staged as numeric chunks: `instrument/<name>/data` [points, h, w],
 * interpretation=image, chunked by whole frames, optional gzip. Lima detectors whose frames stay in
 * Lima files are not staged by the bridge yet (docs/nexus-layout.md).
 */
import { channelDataset, ChannelKind, type ChannelWriter } from './channel-writer.js';

export const imageWriter: ChannelWriter = {
  kind: ChannelKind.Image,
  layout(input) {
    const attrs = { interpretation: 'image', ...(input.units ? { units: input.units } : {}) };
    const dataset = channelDataset(input, 'data', attrs, input.storage.gzipImages);
    return { nodes: [{ kind: 'group', path: input.group, attrs: { NX_class: 'NXdetector' } }, dataset], dataset };
  },
};
