/** Scanned positioners (motors, or the timer of loopscan/timescan/ct): `instrument/<name>/value` in an NXpositioner. */
import { channelDataset, ChannelKind, type ChannelWriter } from './channel-writer.js';

export const positionerWriter: ChannelWriter = {
  kind: ChannelKind.Positioner,
  layout(input) {
    const dataset = channelDataset(input, 'value', input.units ? { units: input.units } : {}, undefined);
    return { nodes: [{ kind: 'group', path: input.group, attrs: { NX_class: 'NXpositioner' } }, dataset], dataset };
  },
};
