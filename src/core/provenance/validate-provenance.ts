import { ProvenanceIncompleteError } from './errors.js';
import { parseEntityRef, type ProvenanceInput } from './model.js';
import { isRecord } from '../guards.js';

/** At most this many parents per record (one DynamoDB transaction holds the record and its edges). */
export const MAX_PARENTS = 40;
export const MAX_INPUTS = 2000;

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;
const isIsoTime = (v: unknown): v is string =>
  typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(v) && !Number.isNaN(Date.parse(v));

/**
 * Every piece of required provenance that is missing or malformed, one line each (empty when
 * complete). Existence of the parents in the catalogue is checked separately (it needs I/O).
 */
export function missingProvenance(input: unknown): string[] {
  if (!isRecord(input)) return ['provenance (parents, inputs, software, parameters, agent, started_at)'];
  const missing: string[] = [];
  const { parents, inputs, software, parameters, agent, started_at: startedAt, ended_at: endedAt, activity } = input;

  if (!Array.isArray(parents) || parents.length === 0)
    missing.push('provenance.parents: at least one parent (run:<uid>, dataset:<…>, file:s3://…, export:<id>)');
  else {
    if (parents.length > MAX_PARENTS) missing.push(`provenance.parents: at most ${MAX_PARENTS} parents (got ${parents.length})`);
    parents.forEach((p, i) => {
      try {
        parseEntityRef(p as string);
      } catch (error) {
        missing.push(`provenance.parents[${i}]: ${(error as Error).message}`);
      }
    });
    if (new Set(parents).size !== parents.length) missing.push('provenance.parents: a parent is listed twice');
  }

  if (!Array.isArray(inputs) || inputs.length === 0) missing.push('provenance.inputs: at least one input file {uri, sha256}');
  else {
    if (inputs.length > MAX_INPUTS) missing.push(`provenance.inputs: at most ${MAX_INPUTS} input files (got ${inputs.length})`);
    inputs.slice(0, MAX_INPUTS).forEach((f, i) => {
      if (!isRecord(f)) {
        missing.push(`provenance.inputs[${i}]: an object {uri, sha256}`);
        return;
      }
      if (!nonEmpty(f.uri)) missing.push(`provenance.inputs[${i}].uri`);
      if (typeof f.sha256 !== 'string')
        missing.push(`provenance.inputs[${i}].sha256 (checksum of ${nonEmpty(f.uri) ? f.uri : 'the file'})`);
      else if (!/^[0-9a-f]{64}$/.test(f.sha256)) missing.push(`provenance.inputs[${i}].sha256: 64 lowercase hex digits`);
      if (f.bytes !== undefined && !(Number.isSafeInteger(f.bytes) && (f.bytes as number) >= 0))
        missing.push(`provenance.inputs[${i}].bytes: a non-negative integer`);
    });
  }

  if (!isRecord(software)) missing.push('provenance.software {name, version or commit, repository}');
  else {
    if (!nonEmpty(software.name)) missing.push('provenance.software.name');
    if (!nonEmpty(software.version) && !nonEmpty(software.commit))
      missing.push('provenance.software.version or provenance.software.commit');
    if (software.commit !== undefined && !(typeof software.commit === 'string' && /^[0-9a-f]{7,64}$/.test(software.commit)))
      missing.push('provenance.software.commit: a hex commit hash (7-64 digits)');
    if (!nonEmpty(software.repository)) missing.push('provenance.software.repository (URL of the source)');
    else if (!/^(https?|git|ssh|file):\/\/\S+$|^git@\S+:\S+$/.test(software.repository))
      missing.push('provenance.software.repository: a URL (https://…, git@host:…, file://…)');
  }

  if (!isRecord(parameters)) missing.push('provenance.parameters (an object; {} when there are none)');

  if (!isRecord(agent)) missing.push('provenance.agent {name} (who ran it)');
  else if (!nonEmpty(agent.name)) missing.push('provenance.agent.name');

  if (startedAt === undefined) missing.push('provenance.started_at (ISO 8601 time)');
  else if (!isIsoTime(startedAt)) missing.push('provenance.started_at: an ISO 8601 time with zone');
  if (endedAt !== undefined && !isIsoTime(endedAt)) missing.push('provenance.ended_at: an ISO 8601 time with zone');
  if (isIsoTime(startedAt) && isIsoTime(endedAt) && Date.parse(endedAt) < Date.parse(startedAt))
    missing.push('provenance.ended_at: not before started_at');
  if (activity !== undefined && !nonEmpty(activity)) missing.push('provenance.activity: a non-empty name');
  return missing;
}

/** The input as a typed ProvenanceInput, or ProvenanceIncompleteError listing every problem. */
export function validateProvenanceInput(input: unknown, context: Record<string, unknown> = {}): ProvenanceInput {
  const missing = missingProvenance(input);
  if (missing.length > 0) throw new ProvenanceIncompleteError(missing, context);
  const p = input as ProvenanceInput;
  return {
    parents: p.parents.map((r) => parseEntityRef(r).ref),
    inputs: p.inputs.map((f) => ({ uri: f.uri, sha256: f.sha256, ...(f.bytes !== undefined ? { bytes: f.bytes } : {}) })),
    software: {
      name: p.software.name,
      repository: p.software.repository,
      ...(p.software.version ? { version: p.software.version } : {}),
      ...(p.software.commit ? { commit: p.software.commit } : {}),
    },
    parameters: p.parameters,
    agent: { name: p.agent.name, ...(p.agent.identifier ? { identifier: p.agent.identifier } : {}) },
    started_at: p.started_at,
    ...(p.ended_at ? { ended_at: p.ended_at } : {}),
    ...(p.activity ? { activity: p.activity } : {}),
  };
}
