import { Ajv2020, type ValidateFunction, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { DetailType, schemaSlugs } from './detail-types.js';
import { loadJson, schemaPath } from './schema-files.js';
import type {
  DatasetClosed,
  DatasetMetadataUpdated,
  DatasetOpened,
  BridgeHeartbeat,
  EventDescriptor,
  ExportCompleted,
  ExportFailed,
  ExportRequested,
  RearchiveRequested,
  RunArchived,
  RunFailed,
  RunStalled,
  RunStart,
  RunStop,
  StreamDatum,
  StreamResource,
} from './generated-types.js';
import { ContractError } from '../errors.js';

/** The detail payload type of each detail-type. */
export interface DetailOf {
  [DetailType.RunStart]: RunStart;
  [DetailType.EventDescriptor]: EventDescriptor;
  [DetailType.StreamResource]: StreamResource;
  [DetailType.StreamDatum]: StreamDatum;
  [DetailType.RunStop]: RunStop;
  [DetailType.RunArchived]: RunArchived;
  [DetailType.RunFailed]: RunFailed;
  [DetailType.RunStalled]: RunStalled;
  [DetailType.BridgeHeartbeat]: BridgeHeartbeat;
  [DetailType.DatasetOpened]: DatasetOpened;
  [DetailType.DatasetMetadataUpdated]: DatasetMetadataUpdated;
  [DetailType.DatasetClosed]: DatasetClosed;
  [DetailType.ExportRequested]: ExportRequested;
  [DetailType.ExportCompleted]: ExportCompleted;
  [DetailType.ExportFailed]: ExportFailed;
  [DetailType.RearchiveRequested]: RearchiveRequested;
}

/** An event as it crosses the bus: EventBridge envelope fields plus the typed detail. */
export interface BusEvent<T extends DetailType = DetailType> {
  source: string;
  'detail-type': T;
  detail: DetailOf[T];
  version?: string;
  id?: string;
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

let compiled: Map<DetailType, ValidateFunction> | undefined;

function validators(): Map<DetailType, ValidateFunction> {
  if (compiled) return compiled;
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  compiled = new Map();
  for (const [detailType, slug] of Object.entries(schemaSlugs) as [DetailType, string][]) {
    compiled.set(detailType, ajv.compile(loadJson(schemaPath(slug)) as object));
  }
  return compiled;
}

export function isDetailType(value: unknown): value is DetailType {
  return typeof value === 'string' && Object.hasOwn(schemaSlugs, value);
}

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .slice(0, 5)
    .map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    )
    .join('; ');
}

/** Validates a whole event (envelope + detail) against its detail-type's schema. */
export function validateEvent(event: unknown): BusEvent {
  const detailType = (event as { 'detail-type'?: unknown } | null)?.['detail-type'];
  if (!isDetailType(detailType)) {
    throw new ContractError(`unknown detail-type ${JSON.stringify(detailType)}`, { detailType: String(detailType) });
  }
  const validate = validators().get(detailType)!;
  if (!validate(event)) {
    throw new ContractError(
      `${detailType} event does not match events/schemas/${schemaSlugs[detailType]}.schema.json: ${describe(validate.errors)}`,
      {
        detailType,
      },
    );
  }
  return event as BusEvent;
}

/** Validates a detail payload for the given detail-type (the envelope is filled in for the check). */
export function validateDetail<T extends DetailType>(detailType: T, detail: unknown, source?: string): DetailOf[T] {
  // Without a source, the schema's own: its const, its first enum value, or its first example (a pattern, e.g. a beamline's bridge).
  const envelopeSource =
    source ??
    (validators().get(detailType)!.schema as { properties: { source: { const?: string; enum?: string[]; examples?: string[] } } })
      .properties.source;
  const resolvedSource =
    typeof envelopeSource === 'string'
      ? envelopeSource
      : (envelopeSource.const ?? envelopeSource.enum?.[0] ?? envelopeSource.examples?.[0] ?? '');
  validateEvent({ source: resolvedSource, 'detail-type': detailType, detail });
  return detail as DetailOf[T];
}

/** Narrowing helper for code that dispatches on the detail-type of a validated event. */
export function isEventOf<T extends DetailType>(event: BusEvent, detailType: T): event is BusEvent<T> {
  return event['detail-type'] === detailType;
}
