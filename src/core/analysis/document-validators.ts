/** Validation of a derived run's documents: events/analysis-documents.schema.json plus the contract schemas where they fit. */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { join } from 'node:path';
import { DetailType } from '../contract/detail-types.js';
import { eventsDir, loadJson } from '../contract/schema-files.js';
import { validateDetail } from '../contract/validators.js';
import { ContractError } from '../errors.js';

const DEFS = ['RunStart', 'StreamResource', 'RunStop'] as const;
type Def = (typeof DEFS)[number];
let compiled: Map<Def, ValidateFunction> | undefined;

function validators(): Map<Def, ValidateFunction> {
  if (compiled) return compiled;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  ajv.addSchema(loadJson(join(eventsDir, 'analysis-documents.schema.json')) as object);
  compiled = new Map(
    DEFS.map((d) => [d, ajv.getSchema(`https://beamline-archive.dev/events/analysis-documents.schema.json#/$defs/${d}`)!]),
  );
  return compiled;
}

function check(def: Def, doc: unknown): void {
  const validate = validators().get(def)!;
  if (!validate(doc)) {
    const reasons = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
      .join('; ');
    throw new ContractError(`derived run ${def} does not match events/analysis-documents.schema.json: ${reasons}`, { detailType: def });
  }
}

/** Validates one document of a derived run by its detail-type (throws ContractError). */
export function validateAnalysisDocument(detailType: string, doc: unknown): void {
  switch (detailType) {
    case DetailType.RunStart:
      check('RunStart', doc);
      break;
    case DetailType.StreamResource:
      check('StreamResource', doc);
      break;
    case DetailType.RunStop:
      check('RunStop', doc);
      break;
    case DetailType.EventDescriptor:
      validateDetail(DetailType.EventDescriptor, doc);
      break;
    case DetailType.StreamDatum:
      validateDetail(DetailType.StreamDatum, doc);
      break;
    default:
      throw new ContractError(`a derived run has no ${detailType} documents`, { detailType });
  }
}
