/**
 * JSON channels (blissdata encoding `{type: "json"}`): `instrument/<name>/data`, a 1D dataset of
 * variable-length UTF-8 strings, one per point, each the point's JSON text as published (h5py reads
 * it with `.asstr()`; `json.loads` gives the value back). The group is an NXcollection (the values
 * are not detector data NeXus knows), `data` carries `content_type=application/json` and, for points
 * trimmed in Redis before the bridge read them, `missing_points` (those rows are empty strings).
 *
 * blisswriter does not write JSON streams (2.0 refuses them, 3.0 only writes what the producer's
 * HDF5 mapping names, and BLISS maps none): this layout is the archive's own (docs/nexus-layout.md).
 * Unlike numeric channels the values are written in one call: a JSON channel's text is held in
 * memory while the file is written (they are small: a few values per point).
 */
import { InvalidInputError } from '../../errors.js';
import type { PlanNode } from '../plan.js';

export const JSON_CONTENT_TYPE = 'application/json';

export interface JsonLayoutInput {
  /** The channel's group, e.g. `/1.1/instrument/subscans`. */
  group: string;
  channel: string;
  /** One JSON text per point, in index order; '' for a missing point. */
  values: readonly string[];
  units?: string | undefined;
  /** `[0, 40) [80, 100)` when points were trimmed in Redis. */
  missingPoints?: string | undefined;
  runUid?: string;
}

export interface JsonLayout {
  nodes: PlanNode[];
  /** The dataset's path; absent when the channel has no point (HDF5 cannot type an empty string list in h5wasm). */
  datasetPath?: string;
}

export interface JsonChannelWriter {
  readonly kind: 'json';
  layout(input: JsonLayoutInput): JsonLayout;
}

export const jsonWriter: JsonChannelWriter = {
  kind: 'json',
  layout(input) {
    const nodes: PlanNode[] = [{ kind: 'group', path: input.group, attrs: { NX_class: 'NXcollection' } }];
    if (input.values.length === 0) return { nodes };
    input.values.forEach((text, index) => {
      if (text === '') return;
      try {
        JSON.parse(text);
      } catch (error) {
        throw new InvalidInputError(
          `JSON channel ${input.channel}: point ${index} is not JSON (${(error as Error).message})`,
          { stream: input.channel, index, ...(input.runUid ? { runUid: input.runUid } : {}) },
          { cause: error },
        );
      }
    });
    const path = `${input.group}/data`;
    nodes.push({
      kind: 'text',
      path,
      value: [...input.values],
      attrs: {
        content_type: JSON_CONTENT_TYPE,
        ...(input.units ? { units: input.units } : {}),
        ...(input.missingPoints ? { missing_points: input.missingPoints } : {}),
      },
    });
    return { nodes, datasetPath: path };
  },
};
