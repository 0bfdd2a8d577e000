/** A small builder of `Hdf5Tree`s: groups listed before their children, names checked once. */
import type { Hdf5AttrValue, Hdf5DatasetValue, Hdf5Tree } from './model.js';
import type { NdArray } from '../analysis/ndarray.js';
import { ExportError } from './errors.js';

export class TreeBuilder {
  readonly tree: Hdf5Tree;
  private readonly paths = new Set<string>(['/']);

  constructor(rootAttrs: Record<string, Hdf5AttrValue>) {
    this.tree = { attrs: { ...rootAttrs }, groups: [], datasets: [], softLinks: [] };
  }

  private claim(path: string): void {
    const parent = path.slice(0, Math.max(1, path.lastIndexOf('/')));
    if (!this.paths.has(parent)) throw new ExportError(`HDF5 tree: parent ${parent} of ${path} was not created first`, { key: path });
    if (this.paths.has(path)) throw new ExportError(`HDF5 tree: ${path} is created twice`, { key: path });
    this.paths.add(path);
  }

  has(path: string): boolean {
    return this.paths.has(path);
  }

  group(path: string, nxClass: string, attrs: Record<string, Hdf5AttrValue> = {}): string {
    this.claim(path);
    this.tree.groups.push({ path, attrs: { NX_class: nxClass, ...attrs } });
    return path;
  }

  /** Adds attributes to a group made earlier (e.g. `default` once its child plot exists). */
  setGroupAttrs(path: string, attrs: Record<string, Hdf5AttrValue>): void {
    const group = this.tree.groups.find((g) => g.path === path);
    if (!group) throw new ExportError(`HDF5 tree: no group ${path}`, { key: path });
    Object.assign(group.attrs, attrs);
  }

  dataset(path: string, value: Hdf5DatasetValue, attrs: Record<string, Hdf5AttrValue> = {}): string {
    this.claim(path);
    this.tree.datasets.push({ path, value, ...(Object.keys(attrs).length > 0 ? { attrs } : {}) });
    return path;
  }

  link(path: string, target: string): string {
    if (!this.paths.has(target))
      throw new ExportError(`HDF5 tree: soft link ${path} points at ${target}, which does not exist`, { key: path });
    this.claim(path);
    this.tree.softLinks.push({ path, target });
    return path;
  }
}

/** A float64 array from numbers. */
export function float64Array(values: readonly number[], shape: number[] = [values.length]): NdArray {
  const data = new Float64Array(values);
  return { dtype: '<f8', shape, bytes: new Uint8Array(data.buffer) };
}

/** An int64 array from safe integers. */
export function int64Array(values: readonly number[], shape: number[] = [values.length]): NdArray {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return { dtype: '<i8', shape, bytes: new Uint8Array(data.buffer) };
}
