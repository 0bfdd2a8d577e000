/** Counters (one number per point): `instrument/<name>/data` in an NXdetector, contiguous-sized chunks, never compressed. */
import { channelDataset, ChannelKind, type ChannelWriter } from './channel-writer.js';

export const scalarWriter: ChannelWriter = {
  kind: ChannelKind.Scalar,
  layout(input) {
    const dataset = channelDataset(input, 'data', input.units ? { units: input.units } : {}, undefined);
    return { nodes: [{ kind: 'group', path: input.group, attrs: { NX_class: 'NXdetector' } }, dataset], dataset };
  },
};
