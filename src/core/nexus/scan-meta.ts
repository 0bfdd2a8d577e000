/**
 * Scan metadata BLISS publishes through `scan_info.scan_meta_categories`, written where the ESRF
 * writer (blisswriter 2.0.0, `_save_subscan_user_metadata`) writes it: every category except
 * `positioners` and `nexuswriter` (the writer's own) is a tree under the entry,
 * `scan_info[<category>]`, in silx `dicttonx` notation: a mapping is a group (NX_class from its
 * `@NX_class` or `NX_class` key, else NXcollection), `@name` an attribute of the group,
 * `name@attr` an attribute of the dataset `name`, any other value a dataset. The `instrument`
 * category goes into `instrument/` (`instrument.machine` → `instrument/machine`, the NXsource with
 * the ring current and filling mode); an item naming a group the file already has (a detector, the
 * sample) is merged into it, and a path the file already holds is never overwritten (the scan's own
 * data wins).
 */
import type { AttrValue, PlanNode } from './plan.js';
import { hdf5Name } from './layout-input.js';

/** Categories the ESRF writer leaves out: they are its own (positioner snapshots, writer options). */
const WRITER_CATEGORIES = new Set(['positioners', 'nexuswriter']);

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Plan nodes for the scan metadata categories of `info`, under the entry `entry` (`/1.1`).
 * `existing`: paths the plan already holds (groups are merged into, datasets are kept).
 */
export function scanMetaNodes(entry: string, info: Readonly<Record<string, unknown>>, existing: ReadonlySet<string>): PlanNode[] {
  const categories = Array.isArray(info.scan_meta_categories)
    ? info.scan_meta_categories.filter((c): c is string => typeof c === 'string')
    : [];
  const nodes: PlanNode[] = [];
  const taken = new Set(existing);
  for (const category of [...new Set(categories)].sort()) {
    if (WRITER_CATEGORIES.has(category)) continue;
    const content = info[category];
    if (content === undefined || content === null || content === '') continue;
    const path = `${entry}/${hdf5Name(category)}`;
    if (!isTree(content)) {
      pushValue(nodes, taken, path, content, {});
      continue;
    }
    if (category === 'instrument') {
      // Each item of the instrument category is its own group (or dataset) in instrument/.
      for (const [name, value] of Object.entries(content)) {
        if (name.startsWith('@') || name === 'NX_class' || name.includes('@')) continue;
        if (isTree(value)) pushTree(nodes, taken, `${entry}/instrument/${hdf5Name(name)}`, value);
        else pushValue(nodes, taken, `${entry}/instrument/${hdf5Name(name)}`, value, datasetAttrs(content, name));
      }
      continue;
    }
    pushTree(nodes, taken, path, content);
  }
  return nodes;
}

function pushTree(nodes: PlanNode[], taken: Set<string>, path: string, tree: Tree): void {
  const keys = Object.keys(tree).filter((k) => !k.startsWith('@') && k !== 'NX_class' && !k.includes('@'));
  if (keys.length === 0) return; // an empty group (only its class), as the ESRF writer skips it
  if (!taken.has(path)) {
    const nxClass =
      typeof tree['@NX_class'] === 'string' ? tree['@NX_class'] : typeof tree.NX_class === 'string' ? tree.NX_class : 'NXcollection';
    const attrs: Record<string, AttrValue> = { NX_class: nxClass };
    for (const [key, value] of Object.entries(tree)) {
      if (!key.startsWith('@') || key === '@NX_class') continue;
      const attr = attrValue(value);
      if (attr !== undefined) attrs[key.slice(1)] = attr;
    }
    nodes.push({ kind: 'group', path, attrs });
    taken.add(path);
  }
  for (const key of keys) {
    const value = tree[key];
    const child = `${path}/${hdf5Name(key)}`;
    if (isTree(value)) pushTree(nodes, taken, child, value);
    else pushValue(nodes, taken, child, value, datasetAttrs(tree, key));
  }
}

/** `name@attr` keys of a tree: the attributes of its dataset `name`. */
function datasetAttrs(tree: Tree, name: string): Record<string, AttrValue> {
  const attrs: Record<string, AttrValue> = {};
  for (const [key, value] of Object.entries(tree)) {
    if (!key.startsWith(`${name}@`) || key.length === name.length + 1) continue;
    const attr = attrValue(value);
    if (attr !== undefined) attrs[key.slice(name.length + 1)] = attr;
  }
  return attrs;
}

function attrValue(value: unknown): AttrValue | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return undefined;
}

/**
 * One value as a dataset: strings as text, numbers as int64 (integral) or float64, lists of strings
 * or of numbers as 1D datasets, booleans as the text `True`/`False`; `null` and mixed lists as their
 * JSON text, so nothing BLISS published is dropped.
 */
function pushValue(nodes: PlanNode[], taken: Set<string>, path: string, value: unknown, attrs: Record<string, AttrValue>): void {
  if (taken.has(path) || value === undefined) return;
  taken.add(path);
  if (typeof value === 'string') nodes.push({ kind: 'text', path, value, attrs });
  else if (typeof value === 'number')
    nodes.push({ kind: 'number', path, value, dtype: Number.isSafeInteger(value) ? '<i8' : '<f8', attrs });
  else if (typeof value === 'boolean') nodes.push({ kind: 'text', path, value: value ? 'True' : 'False', attrs });
  else if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string'))
    nodes.push({ kind: 'text', path, value: value as string[], attrs });
  else if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number')) {
    const numbers = value as number[];
    nodes.push({
      kind: 'numbers',
      path,
      values: numbers,
      shape: [numbers.length],
      dtype: numbers.every(Number.isSafeInteger) ? '<i8' : '<f8',
      attrs,
    });
  } else nodes.push({ kind: 'text', path, value: JSON.stringify(value), attrs: { ...attrs, content_type: 'application/json' } });
}
