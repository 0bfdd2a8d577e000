/** The sample group of a scan file (BLISS and Bluesky layouts alike), from the run's ICAT snapshot. */
import type { RunStart } from '../contract/generated-types.js';
import { findField, icatGroups, typedValue } from '../icat/definitions.js';
import { hdf5Name } from './layout-input.js';
import type { Attrs, PlanNode } from './plan.js';

/**
 * The `Sample_*` fields of the ICAT snapshot at the places hdf5_cfg.xml gives them (as the ESRF
 * writer writes them): `Sample_notes` → `sample/notes/notes` in the NXnote `sample/notes`, each
 * group with its definition's NX_class, numeric types as numbers, `units` where defined. A field the
 * definitions do not know is kept as `sample/<field>` (text). RunStart.sample stands in for a missing name.
 */
export function sampleNodes(entry: string, start: Pick<RunStart, 'icat' | 'sample'>): PlanNode[] {
  const values = new Map<string, string>();
  for (const [key, value] of Object.entries(start.icat)) {
    if (key.startsWith('Sample_') && key.length > 'Sample_'.length && typeof value === 'string') values.set(key, value);
  }
  if (!values.has('Sample_name') && start.sample) values.set('Sample_name', start.sample);
  if (values.size === 0) return [];
  const groups = new Map<string, string>([['sample', 'NXsample']]);
  const leaves = new Map<string, PlanNode>();
  for (const [name, value] of [...values.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const field = findField(name);
    const places = field ? field.paths.filter((p) => p.startsWith('sample/')) : [`sample/${hdf5Name(name.slice('Sample_'.length))}`];
    for (const place of places) {
      const segments = place.split('/');
      for (let i = 2; i < segments.length; i += 1) {
        const group = segments.slice(0, i).join('/');
        if (!groups.has(group)) groups.set(group, icatGroups[group]?.nx_class ?? 'NXcollection');
      }
      const path = `${entry}/${place}`;
      const attrs: Attrs = field?.units ? { units: field.units } : {};
      const typed = field ? typedValue(value, field.type) : value;
      leaves.set(
        place,
        typeof typed === 'string'
          ? { kind: 'text', path, value: typed, attrs }
          : typeof typed === 'number'
            ? { kind: 'number', path, value: typed, dtype: field?.type === 'NX_INT' && Number.isSafeInteger(typed) ? '<i8' : '<f8', attrs }
            : { kind: 'numbers', path, values: typed, shape: [typed.length], dtype: '<f8', attrs },
      );
    }
  }
  const ordered = [...groups.entries()].sort(([a], [b]) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  return [
    ...ordered.map(([place, nxClass]): PlanNode => ({ kind: 'group', path: `${entry}/${place}`, attrs: { NX_class: nxClass } })),
    // A field whose place is also a group of another field cannot be both: the group wins, never an HDF5 error.
    ...[...leaves.entries()].filter(([place]) => !groups.has(place)).map(([, node]) => node),
  ];
}
