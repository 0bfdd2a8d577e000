/** The channel writers, one per kind of data; asking for a kind that has none is an input error. */
import { InvalidInputError } from '../../errors.js';
import { ChannelKind, type ChannelWriter } from './channel-writer.js';
import { imageWriter } from './image-writer.js';
import { limaImageWriter } from './lima-image-writer.js';
import { jsonWriter, type JsonChannelWriter } from './json-writer.js';
import { positionerWriter } from './positioner-writer.js';
import { scalarWriter } from './scalar-writer.js';
import { spectrumWriter } from './spectrum-writer.js';

export const channelWriters = {
  [ChannelKind.Scalar]: scalarWriter,
  [ChannelKind.Positioner]: positionerWriter,
  [ChannelKind.Spectrum]: spectrumWriter,
  [ChannelKind.Image]: imageWriter,
} as const satisfies Record<ChannelKind, ChannelWriter>;

// --- JSON channels (bridge engineer): text per point, not numeric chunks, so a writer of their own lifecycle.
/** Writers of channels whose points are texts, by StreamResource encoding. */
export const textChannelWriters = { json: jsonWriter } as const satisfies Record<'json', JsonChannelWriter>;
// --- end JSON channels

// --- Lima detectors: frames linked from the uploaded Lima files, never copied (lima-image-writer.ts).
/** Writers of channels whose data stays in files linked from the scan file, by kind. */
export const linkedFileWriters = { lima: limaImageWriter } as const;
// --- end Lima detectors

export function channelWriterFor(kind: string, context: { runUid?: string; stream?: string } = {}): ChannelWriter {
  const writer = (channelWriters as Record<string, ChannelWriter | undefined>)[kind];
  if (!writer) throw new InvalidInputError(`no channel writer for data of kind ${JSON.stringify(kind)}`, context);
  return writer;
}

/** The kind of a channel: positioners by role, then by the rank of one point (0 scalar, 1 spectrum, 2 image). */
export function channelKindOf(role: 'positioner' | 'detector', pointShape: readonly number[], context: { runUid?: string; stream?: string } = {}): ChannelKind {
  if (pointShape.length === 0) return role === 'positioner' ? ChannelKind.Positioner : ChannelKind.Scalar;
  if (pointShape.length === 1) return ChannelKind.Spectrum;
  if (pointShape.length === 2) return ChannelKind.Image;
  throw new InvalidInputError(`channel with ${pointShape.length}-dimensional points has no writer`, context);
}
