/**
 * A lineage as a W3C PROV-JSON document (https://www.w3.org/submissions/prov-json/): every node is
 * an entity; every provenance record contributes the activity that generated its entity, the
 * software and person agents associated with it, `used` for its parents and input files,
 * `wasGeneratedBy` for the entity and its output files, `wasDerivedFrom` for each parent.
 */
import { parseEntityRef, type ProvenanceRecord } from './model.js';
import type { Lineage } from './lineage.js';

export const PROV_NAMESPACE = 'https://beamline-archive.dev/prov#';

type Attributes = Record<string, unknown>;
export interface ProvDocument {
  prefix: Record<string, string>;
  entity: Record<string, Attributes>;
  activity: Record<string, Attributes>;
  agent: Record<string, Attributes>;
  used: Record<string, Attributes>;
  wasGeneratedBy: Record<string, Attributes>;
  wasDerivedFrom: Record<string, Attributes>;
  wasAssociatedWith: Record<string, Attributes>;
  actedOnBehalfOf: Record<string, Attributes>;
}

/** `ba:<kind>/<id>`, percent-encoding what a PROV qualified name cannot hold (file ids drop `s3://`). */
export function provId(entity: string): string {
  const { kind, id } = parseEntityRef(entity);
  return `ba:${kind}/${encodeLocal(kind === 'file' ? id.replace(/^s3:\/\//, '') : id)}`;
}

function encodeLocal(text: string): string {
  return text.replace(/[^A-Za-z0-9._~/:-]/g, (c) =>
    Array.from(Buffer.from(c, 'utf8'))
      .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}

const typed = (type: string, value: string) => ({ $: value, type });

function softwareId(r: ProvenanceRecord): string {
  return `ba:software/${encodeLocal(r.software.name)}/${encodeLocal(r.software.version ?? r.software.commit ?? 'unknown')}`;
}

function inputId(uri: string, sha256: string): string {
  if (/^s3:\/\/[a-z0-9.-]{3,63}\/\S/.test(uri)) return provId(`file:${uri}`);
  return `ba:content/${sha256}`;
}

export function toProvJson(lineage: Lineage): ProvDocument {
  const doc: ProvDocument = {
    prefix: { ba: PROV_NAMESPACE, xsd: 'http://www.w3.org/2001/XMLSchema#' },
    entity: {},
    activity: {},
    agent: {},
    used: {},
    wasGeneratedBy: {},
    wasDerivedFrom: {},
    wasAssociatedWith: {},
    actedOnBehalfOf: {},
  };
  const counters = { u: 0, g: 0, d: 0, a: 0, b: 0 };
  const rel = (kind: keyof typeof counters) => `_:${kind}${(counters[kind] += 1)}`;
  const addEntity = (entity: string, attrs: Attributes = {}) => {
    const id = provId(entity);
    const { kind, id: local } = parseEntityRef(entity);
    doc.entity[id] = {
      ...doc.entity[id],
      'prov:label': local,
      'ba:kind': kind,
      ...(kind === 'file' ? { 'prov:location': local } : {}),
      ...attrs,
    };
    return id;
  };

  for (const node of lineage.nodes)
    addEntity(node.entity, node.record ? {} : { 'prov:type': node.kind === 'run' ? 'ba:RawRun' : `ba:${node.kind}` });
  for (const node of lineage.nodes) {
    const r = node.record;
    if (!r) continue;
    const entity = addEntity(r.entity, { 'prov:type': `ba:${r.activity ?? 'derived'}` });
    const activity = `ba:activity/${encodeLocal(r.activity_uid)}`;
    doc.activity[activity] = {
      'prov:startTime': typed('xsd:dateTime', r.started_at),
      'prov:endTime': typed('xsd:dateTime', r.ended_at),
      'prov:label': r.activity ?? 'analysis',
      'ba:parameters': JSON.stringify(r.parameters),
    };
    const software = softwareId(r);
    doc.agent[software] = {
      'prov:type': 'prov:SoftwareAgent',
      'prov:label': r.software.name,
      'ba:repository': typed('xsd:anyURI', r.software.repository),
      ...(r.software.version ? { 'ba:version': r.software.version } : {}),
      ...(r.software.commit ? { 'ba:commit': r.software.commit } : {}),
    };
    const person = `ba:agent/${encodeLocal(r.agent.name)}`;
    doc.agent[person] = {
      'prov:type': 'prov:Person',
      'prov:label': r.agent.name,
      ...(r.agent.identifier ? { 'ba:identifier': r.agent.identifier } : {}),
    };
    doc.wasGeneratedBy[rel('g')] = { 'prov:entity': entity, 'prov:activity': activity, 'prov:time': r.ended_at };
    doc.wasAssociatedWith[rel('a')] = { 'prov:activity': activity, 'prov:agent': software };
    doc.wasAssociatedWith[rel('a')] = { 'prov:activity': activity, 'prov:agent': person };
    doc.actedOnBehalfOf[rel('b')] = { 'prov:delegate': software, 'prov:responsible': person, 'prov:activity': activity };
    for (const parent of r.parents) {
      const parentId = addEntity(parent);
      doc.used[rel('u')] = { 'prov:activity': activity, 'prov:entity': parentId };
      doc.wasDerivedFrom[rel('d')] = { 'prov:generatedEntity': entity, 'prov:usedEntity': parentId, 'prov:activity': activity };
    }
    for (const input of r.inputs) {
      const id = inputId(input.uri, input.sha256);
      doc.entity[id] = {
        ...doc.entity[id],
        'prov:location': input.uri,
        'ba:sha256': input.sha256,
        ...(input.bytes !== undefined ? { 'ba:bytes': input.bytes } : {}),
      };
      doc.used[rel('u')] = { 'prov:activity': activity, 'prov:entity': id };
    }
    for (const output of r.outputs) {
      const id = inputId(output.uri, output.sha256);
      doc.entity[id] = {
        ...doc.entity[id],
        'prov:location': output.uri,
        'ba:sha256': output.sha256,
        ...(output.bytes !== undefined ? { 'ba:bytes': output.bytes } : {}),
      };
      doc.wasGeneratedBy[rel('g')] = { 'prov:entity': id, 'prov:activity': activity };
    }
  }
  return doc;
}
