/** 1D detectors (MCA spectra): `instrument/<name>/data` [points, bins], interpretation=spectrum, chunked by whole spectra, optional gzip. */
import { channelDataset, ChannelKind, type ChannelWriter } from './channel-writer.js';

export const spectrumWriter: ChannelWriter = {
  kind: ChannelKind.Spectrum,
  layout(input) {
    const attrs = { interpretation: 'spectrum', ...(input.units ? { units: input.units } : {}) };
    const dataset = channelDataset(input, 'data', attrs, input.storage.gzipSpectra);
    return { nodes: [{ kind: 'group', path: input.group, attrs: { NX_class: 'NXdetector' } }, dataset], dataset };
  },
};
