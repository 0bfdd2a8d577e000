import { parseEntityRef, type EntityKind, type ProvenanceRecord } from './model.js';
import type { ProvenanceStore } from './ports.js';

export const LineageDirection = { Ancestors: 'ancestors', Descendants: 'descendants' } as const;
export type LineageDirection = (typeof LineageDirection)[keyof typeof LineageDirection];

export interface LineageNode {
  entity: string;
  kind: EntityKind;
  /** Steps from the root (0 for the root itself). */
  depth: number;
  /** Its provenance record, when it has one (raw runs have none: they come from the beamline). */
  record?: ProvenanceRecord;
}

export interface Lineage {
  root: string;
  direction: LineageDirection;
  nodes: LineageNode[];
  /** Every edge walked, always child → parent. */
  edges: { child: string; parent: string }[];
  /** true when maxNodes stopped the walk early. */
  truncated: boolean;
}

export interface LineageOptions {
  /** Steps to follow (default: all). */
  maxDepth?: number;
  /** Nodes to visit at most (default 5000). */
  maxNodes?: number;
}

/**
 * Ancestors (parents, their parents …) or descendants of an entity, breadth first, to any depth.
 * The graph is acyclic by construction (see recordProvenance); the visited set keeps the walk
 * finite and each node listed once even if a store were to hold a cycle.
 */
export async function lineage(
  root: string,
  direction: LineageDirection,
  store: ProvenanceStore,
  options: LineageOptions = {},
): Promise<Lineage> {
  const start = parseEntityRef(root);
  const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
  const maxNodes = options.maxNodes ?? 5000;
  const nodes = new Map<string, LineageNode>();
  const edges: Lineage['edges'] = [];
  let frontier = [start.ref];
  let truncated = false;
  nodes.set(start.ref, { entity: start.ref, kind: start.kind, depth: 0 });
  for (let depth = 1; frontier.length > 0 && depth <= maxDepth; depth += 1) {
    const next: string[] = [];
    const neighbours = await Promise.all(
      frontier.map(async (e) => [e, direction === 'ancestors' ? await store.parentsOf(e) : await store.childrenOf(e)] as const),
    );
    for (const [entity, linked] of neighbours) {
      for (const other of linked.sort()) {
        edges.push(direction === 'ancestors' ? { child: entity, parent: other } : { child: other, parent: entity });
        if (nodes.has(other)) continue;
        if (nodes.size >= maxNodes) {
          truncated = true;
          continue;
        }
        nodes.set(other, { entity: other, kind: parseEntityRef(other).kind, depth });
        next.push(other);
      }
    }
    frontier = next;
  }
  const list = [...nodes.values()];
  const records = await Promise.all(list.map((n) => store.get(n.entity)));
  list.forEach((n, i) => {
    const r = records[i];
    if (r) n.record = r;
  });
  return { root: start.ref, direction, nodes: list, edges, truncated };
}
