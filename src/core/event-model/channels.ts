/** Channels as the run documents describe them: specs, roles, JSON dtypes, object names. */
import type { DataKey } from '../contract/generated-types.js';
import type { NumericDtype } from './dtype.js';

/** A numeric channel as the documents describe it. */
export interface NumericChannelSpec {
  name: string;
  streamPk: string;
  encoding?: 'numeric';
  dtype: NumericDtype;
  /** Point shape; null for a free dimension whose size is not known yet. */
  shape: (number | null)[];
  units?: string;
}

/** A JSON channel (blissdata encoding `{type: "json"}`): one JSON value per point. */
export interface JsonChannelSpec {
  name: string;
  streamPk: string;
  encoding: 'json';
  units?: string;
}

export type ChannelSpec = NumericChannelSpec | JsonChannelSpec;

export type ChannelRole = NonNullable<DataKey['bliss_role']>;

const TIMER_NAMES = new Set(['elapsed_time', 'epoch']);

/** BLISS channel role: `axis:*` positioners, timers, 1D spectra, counters otherwise. */
export function channelRole(name: string, pointShape: readonly number[]): ChannelRole {
  if (name.startsWith('axis:')) return 'positioner';
  const last = name.split(':').pop() ?? name;
  if (name.startsWith('timer:') || TIMER_NAMES.has(last)) return 'timer';
  if (pointShape.length === 1) return 'spectrum';
  if (pointShape.length === 2) return 'image';
  return 'counter';
}

/** event-model `dtype` of a channel: the JSON type of one point. */
export function jsonDtypeOf(dtype: NumericDtype, pointShape: readonly number[]): DataKey['dtype'] {
  if (pointShape.length > 0) return 'array';
  switch (dtype.kind) {
    case 'b':
      return 'boolean';
    case 'i':
    case 'u':
      return 'integer';
    case 'f':
    case 'c':
      return 'number';
  }
}

/** Object name of a channel: the last segment (`axis:sy` → `sy`). */
export function objectNameOf(channel: string): string {
  return channel.split(':').pop() || channel;
}
