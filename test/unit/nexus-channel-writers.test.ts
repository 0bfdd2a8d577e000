// The channel writer modules (src/core/nexus/writers/): registry, layout of each kind, chunk and slice sizes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseElementType, pointBytes } from '../../src/core/nexus/dtypes.js';
import {
  ChannelKind,
  chunkRows,
  DEFAULT_STORAGE,
  rowSlices,
  type ChannelLayoutInput,
} from '../../src/core/nexus/writers/channel-writer.js';
import { channelKindOf, channelWriterFor, channelWriters } from '../../src/core/nexus/writers/registry.js';
import { InvalidInputError } from '../../src/core/errors.js';

const input = (over: Partial<ChannelLayoutInput> = {}): ChannelLayoutInput => ({
  group: '/1.1/instrument/diode1',
  channel: 'ctrl:diode1',
  resourceUid: 'R/resource/ctrl:diode1',
  type: parseElementType('<f8'),
  pointShape: [],
  points: 1000,
  storage: DEFAULT_STORAGE,
  ...over,
});

describe('channel writer registry', () => {
  it('has one writer per kind, each reporting its kind', () => {
    for (const kind of Object.values(ChannelKind)) assert.equal(channelWriters[kind].kind, kind);
    assert.equal(channelWriterFor('spectrum'), channelWriters.spectrum);
  });

  it('throws an InvalidInputError with context for an unknown kind', () => {
    assert.throws(
      () => channelWriterFor('json', { runUid: 'R', stream: 'ctrl:x' }),
      (e: unknown) => e instanceof InvalidInputError && /json/.test((e as Error).message),
    );
  });

  it('chooses the kind from the role and the rank of one point', () => {
    assert.equal(channelKindOf('positioner', []), ChannelKind.Positioner);
    assert.equal(channelKindOf('detector', []), ChannelKind.Scalar);
    assert.equal(channelKindOf('detector', [1024]), ChannelKind.Spectrum);
    assert.equal(channelKindOf('positioner', [16]), ChannelKind.Spectrum);
    assert.equal(channelKindOf('detector', [2048, 2048]), ChannelKind.Image);
    assert.throws(() => channelKindOf('detector', [2, 3, 4]), InvalidInputError);
  });
});

describe('channel writer layouts', () => {
  it('scalar: NXdetector group and <name>/data, units kept, uncompressed under 1 MiB (8 kB here) even with spectra/image levels set', () => {
    const { nodes, dataset } = channelWriters.scalar.layout(
      input({ units: 'cts', storage: { ...DEFAULT_STORAGE, gzipSpectra: 4, gzipImages: 4 } }),
    );
    assert.deepEqual(nodes[0], { kind: 'group', path: '/1.1/instrument/diode1', attrs: { NX_class: 'NXdetector' } });
    assert.equal(dataset.path, '/1.1/instrument/diode1/data');
    assert.deepEqual(dataset.shape, [1000]);
    assert.deepEqual(dataset.attrs, { units: 'cts' });
    assert.equal(dataset.gzip, undefined);
  });

  it('positioner: NXpositioner group and <name>/value', () => {
    const { nodes, dataset } = channelWriters.positioner.layout(input({ group: '/1.1/instrument/sy', units: 'mm' }));
    assert.deepEqual(nodes[0], { kind: 'group', path: '/1.1/instrument/sy', attrs: { NX_class: 'NXpositioner' } });
    assert.equal(dataset.path, '/1.1/instrument/sy/value');
    assert.deepEqual(dataset.attrs, { units: 'mm' });
  });

  it('spectrum: interpretation=spectrum, whole spectra per chunk, gzip 4 by default (8 MB), gzipSpectra overrides, 0 turns it off', () => {
    const spectrum = input({ type: parseElementType('<u4'), pointShape: [4096], points: 500 });
    const plain = channelWriters.spectrum.layout(spectrum).dataset;
    assert.deepEqual(plain.shape, [500, 4096]);
    assert.equal(plain.attrs.interpretation, 'spectrum');
    assert.equal(plain.gzip, 4);
    assert.equal(plain.chunkRows, Math.floor(DEFAULT_STORAGE.maxChunkBytes / (4096 * 4)));
    assert.equal(channelWriters.spectrum.layout({ ...spectrum, storage: { ...DEFAULT_STORAGE, gzipSpectra: 6 } }).dataset.gzip, 6);
    assert.equal(channelWriters.spectrum.layout({ ...spectrum, storage: { ...DEFAULT_STORAGE, gzipSpectra: 0 } }).dataset.gzip, undefined);
    assert.equal(channelWriters.spectrum.layout({ ...spectrum, storage: { ...DEFAULT_STORAGE, gzip: 0 } }).dataset.gzip, undefined);
  });

  it('compression by size (issue 17 item 5): every kind from gzipMinBytes up (1 MiB, as blisswriter), none below nor when empty', () => {
    const f8 = parseElementType('<f8');
    // 131072 float64 points = 1 MiB exactly: compressed; one point fewer: plain.
    assert.equal(channelWriters.scalar.layout(input({ points: 131072 })).dataset.gzip, 4);
    assert.equal(channelWriters.scalar.layout(input({ points: 131071 })).dataset.gzip, undefined);
    assert.equal(channelWriters.positioner.layout(input({ type: f8, points: 1_000_000 })).dataset.gzip, 4);
    assert.equal(channelWriters.scalar.layout(input({ points: 0 })).dataset.gzip, undefined);
    assert.equal(
      channelWriters.scalar.layout(input({ points: 1000, storage: { ...DEFAULT_STORAGE, gzipMinBytes: 0, gzip: 1 } })).dataset.gzip,
      1,
    );
    assert.equal(
      channelWriters.scalar.layout(input({ points: 1_000_000, storage: { ...DEFAULT_STORAGE, gzip: 0 } })).dataset.gzip,
      undefined,
    );
  });

  it('image: interpretation=image, one whole frame per chunk when a frame exceeds the chunk bound, gzipImages', () => {
    const image = input({
      type: parseElementType('<u4'),
      pointShape: [2048, 2048],
      points: 10,
      storage: { ...DEFAULT_STORAGE, gzipImages: 1 },
    });
    const { dataset } = channelWriters.image.layout(image);
    assert.deepEqual(dataset.shape, [10, 2048, 2048]);
    assert.equal(dataset.attrs.interpretation, 'image');
    assert.equal(dataset.chunkRows, 1);
    assert.equal(dataset.sliceRows, 1);
    assert.equal(dataset.gzip, 1);
  });
});

describe('chunk and slice sizes', () => {
  const f8 = parseElementType('<f8');

  it('chunkRows: as many points as fit in the bound, at least one, never more than the points', () => {
    assert.equal(chunkRows(f8, [], 10_000_000, 1024 * 1024), 131072);
    assert.equal(chunkRows(f8, [], 10, 1024 * 1024), 10);
    assert.equal(chunkRows(f8, [], 0, 1024 * 1024), 1);
    assert.equal(chunkRows(parseElementType('<u4'), [2048, 2048], 10, 1024 * 1024), 1);
  });

  it('sliceRows is a multiple of chunkRows bounded by maxSliceBytes', () => {
    const { dataset } = channelWriters.scalar.layout(input({ points: 10_000_000 }));
    assert.equal(dataset.sliceRows % dataset.chunkRows, 0);
    assert.ok(dataset.sliceRows * 8 <= DEFAULT_STORAGE.maxSliceBytes);
    assert.equal(dataset.sliceRows, 8 * dataset.chunkRows);
  });

  it('rowSlices covers a staged slice exactly, cut on slice boundaries, with byte offsets into the staged bytes', () => {
    const dataset = { ...channelWriters.scalar.layout(input({ points: 100 })).dataset, chunkRows: 10, sliceRows: 20 };
    const parts = [...rowSlices(dataset, 15, 62)];
    assert.deepEqual(
      parts.map((p) => [p.start, p.stop]),
      [
        [15, 20],
        [20, 40],
        [40, 60],
        [60, 62],
      ],
    );
    assert.deepEqual(
      parts.map((p) => p.offset),
      [0, 40, 200, 360],
    );
    assert.equal(
      parts.reduce((n, p) => n + p.length, 0),
      (62 - 15) * pointBytes(f8, []),
    );
    assert.deepEqual([...rowSlices(dataset, 5, 5)], []);
  });
});
