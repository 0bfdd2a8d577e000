/**
 * H5Web's DataProviderApi over an archived file's index (docs/file-index.md) and HTTP range reads
 * of the file (presigned S3 URLs): the tree and attributes come from the index, values from the
 * byte ranges of the chunks a view needs (docs/adr/0009).
 */
import {
  DataProviderApi,
  DTypeClass,
  EntityKind,
  ShapeClass,
  type Attribute,
  type AttributeValues,
  type ChildEntity,
  type Dataset,
  type DType,
  type Entity,
  type ProvidedEntity,
  type Shape,
  type ValuesStoreParams,
} from '@h5web/app';
import { IndexedFile } from '../../src/client/indexed-file-reader.js';
import type { IndexDtype, IndexEntry } from '../../src/core/file-index/model.js';

function dtypeOf(d: IndexDtype): DType {
  const endianness = d.littleEndian ? 'little-endian' : 'big-endian';
  if (d.class === 'float') return { class: DTypeClass.Float, size: d.size * 8, endianness };
  if (d.class === 'integer') return { class: DTypeClass.Integer, signed: d.signed ?? true, size: d.size * 8, endianness };
  if (d.class === 'string') {
    return {
      class: DTypeClass.String,
      charSet: d.charset === 'utf-8' ? 'UTF-8' : 'ASCII',
      strPad: undefined,
      ...(d.vlen ? {} : { length: d.size }),
    };
  }
  return { class: DTypeClass.Unknown };
}

/** h5wasm's shapes: [] a scalar, null HDF5's null dataspace (no value). */
function shapeOf(dims: number[] | null): Shape {
  if (dims === null) return { class: ShapeClass.Null };
  return dims.length === 0 ? { class: ShapeClass.Scalar, dims: [] } : { class: ShapeClass.Array, dims };
}

const nameOf = (path: string) => (path === '/' ? '' : path.slice(path.lastIndexOf('/') + 1));

export class IndexedProvider extends DataProviderApi {
  constructor(
    filepath: string,
    private readonly file: IndexedFile,
  ) {
    super(filepath);
  }

  private attributesOf(entry: IndexEntry): Attribute[] {
    if (entry.kind !== 'group' && entry.kind !== 'dataset') return [];
    return Object.entries(entry.attributes).map(([name, a]) => ({ name, shape: shapeOf(a.shape), type: dtypeOf(a.dtype) }));
  }

  /** An entity without children (a child of a group, or a dataset). */
  private describe(path: string, depth = 0): ChildEntity {
    const name = nameOf(path);
    const raw = this.file.index.entries[path];
    if (!raw) return { name, path, kind: EntityKind.Unresolved, attributes: [] };
    if (raw.kind === 'soft-link' && depth < 16) {
      const target = this.describe(raw.target, depth + 1);
      return { ...target, name, path, link: { class: 'Soft', path: raw.target } };
    }
    if (raw.kind === 'external-link')
      return { name, path, kind: EntityKind.Unresolved, attributes: [], link: { class: 'External', file: raw.file, path: raw.target } };
    const entry = this.file.entry(path);
    if (!entry || entry.kind === 'soft-link' || entry.kind === 'external-link' || entry.kind === 'hard-link') {
      return { name, path, kind: EntityKind.Unresolved, attributes: [] };
    }
    if (entry.kind === 'datatype') return { name, path, kind: EntityKind.Datatype, attributes: [] };
    if (entry.kind === 'group') return { name, path, kind: EntityKind.Group, attributes: this.attributesOf(entry) };
    const dataset: Dataset = {
      name,
      path,
      kind: EntityKind.Dataset,
      attributes: this.attributesOf(entry),
      shape: shapeOf(entry.shape),
      type: dtypeOf(entry.dtype),
      rawType: entry.dtype,
      ...(entry.storage.layout === 'chunked' ? { chunks: entry.storage.chunkShape } : {}),
      filters: entry.filters.map((f) => ({ id: f.id, name: f.name })),
    };
    return dataset;
  }

  override async getEntity(path: string): Promise<ProvidedEntity> {
    const described = this.describe(path);
    if (described.kind !== EntityKind.Group) return described as ProvidedEntity;
    // Soft links to groups show the target's children.
    let target = path;
    for (
      let raw = this.file.index.entries[target], hops = 0;
      raw?.kind === 'soft-link' && hops < 16;
      raw = this.file.index.entries[target], hops++
    )
      target = raw.target;
    const entry = this.file.entry(target);
    const children = entry?.kind === 'group' ? entry.children.map((c) => this.describe(`${path === '/' ? '' : path}/${c}`)) : [];
    return { ...described, children };
  }

  override async getValue(params: ValuesStoreParams, signal?: AbortSignal): Promise<unknown> {
    return this.file.read(params.dataset.path, params.selection, signal);
  }

  override async getAttrValues(entity: Entity): Promise<AttributeValues> {
    let entry = this.file.entry(entity.path);
    for (let hops = 0; entry?.kind === 'soft-link' && hops < 16; hops++) entry = this.file.entry(entry.target);
    if (!entry || (entry.kind !== 'group' && entry.kind !== 'dataset')) return {};
    return Object.fromEntries(Object.entries(entry.attributes).map(([name, a]) => [name, a.value]));
  }

  override async getSearchablePaths(path: string): Promise<string[]> {
    const prefix = path === '/' ? '/' : `${path}/`;
    return Object.keys(this.file.index.entries).filter((p) => p.startsWith(prefix));
  }
}
