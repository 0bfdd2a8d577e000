/**
 * ICAT field definitions of ESRF (hdf5_cfg.xml of PyPI `icat-esrf-definitions`, version in
 * `icatSource`), from the committed table generated-definitions.json
 * (`.venv/bin/python scripts/generate-icat-definitions.py`; test/unit/icat-definitions.test.ts
 * fails when it drifts from the XML).
 *
 * The API follows BLISS's `bliss.icat.definitions.Definitions`: every field, the fields of a
 * category (instrumentation, sample, positioners, notes, techniques, and `general` for the entry
 * level), the techniques and the fields of a technique.
 */
import table from './generated-definitions.json' with { type: 'json' };
import { InvalidInputError } from '../errors.js';

export const IcatCategory = {
  General: 'general',
  Instrumentation: 'instrumentation',
  Sample: 'sample',
  Positioners: 'positioners',
  Notes: 'notes',
  Techniques: 'techniques',
} as const;
export type IcatCategory = (typeof IcatCategory)[keyof typeof IcatCategory];

export interface IcatField {
  /** The ICAT name, e.g. `Sample_name`, `FLUO_i0`. */
  readonly name: string;
  /** HDF5 paths under the entry where the field lives (a few fields live at two places). */
  readonly paths: readonly string[];
  /** NeXus type: NX_CHAR, NX_NUMBER, NX_FLOAT, NX_INT, NX_DATE_TIME, NX_BOOLEAN. */
  readonly type: string;
  readonly units?: string;
  readonly description: string;
  /** ESRF_mandatory in the XML. */
  readonly mandatory: boolean;
  /** The XML's deprecation note, when the field is deprecated. */
  readonly deprecated?: string;
  /** `initial` or `final` when the XML says when the value is recorded. */
  readonly record?: string;
  readonly categories: readonly IcatCategory[];
  /** Techniques whose group holds the field. */
  readonly techniques: readonly string[];
}

export interface IcatTechnique {
  readonly name: string;
  readonly description: string;
  readonly fields: readonly string[];
}

export interface IcatGroup {
  readonly nx_class: string;
  readonly description: string;
}

/** Which package and XML the table was generated from. */
export const icatSource: { package: string; version: string; file: string; sha256: string } = table.source;

const fieldList = table.fields as unknown as IcatField[];
const fieldsByName: ReadonlyMap<string, IcatField> = new Map(fieldList.map((f) => [f.name, f]));
const techniquesByName: ReadonlyMap<string, IcatTechnique> = new Map(
  Object.values(table.techniques as Record<string, IcatTechnique>).map((t) => [t.name, t]),
);
/** NX_class and description of every group, by path under the entry (`instrument/source`). */
export const icatGroups: Readonly<Record<string, IcatGroup>> = table.groups as Record<string, IcatGroup>;

/**
 * Fields a dataset must have when it closes: those hdf5_cfg.xml marks mandatory (datasetName,
 * proposal, location, startDate, endDate, Sample_name) plus scanNumber, which ESRF's data policy
 * requires as well. (Older hdf5_cfg.xml versions named the title field `scanName`; 3.x calls it
 * `datasetName`.)
 */
export const MANDATORY_FIELDS: readonly string[] = [...fieldList.filter((f) => f.mandatory).map((f) => f.name), 'scanNumber']
  .filter((name, i, all) => all.indexOf(name) === i)
  .sort();

/** Former names that users still type, with the name the current XML uses. */
export const RENAMED_FIELDS: Readonly<Record<string, string>> = { scanName: 'datasetName' };

export function allFields(): readonly IcatField[] {
  return fieldList;
}

export function fieldNames(): string[] {
  return fieldList.map((f) => f.name);
}

export function findField(name: string): IcatField | undefined {
  return fieldsByName.get(name);
}

export function fieldsOfCategory(category: IcatCategory): IcatField[] {
  return fieldList.filter((f) => f.categories.includes(category));
}

export function categories(): Record<IcatCategory, string[]> {
  const out = Object.fromEntries(Object.values(IcatCategory).map((c) => [c, [] as string[]])) as Record<IcatCategory, string[]>;
  for (const field of fieldList) for (const c of field.categories) out[c].push(field.name);
  return out;
}

export function techniqueNames(): string[] {
  return [...techniquesByName.keys()].sort();
}

export function findTechnique(name: string): IcatTechnique | undefined {
  return techniquesByName.get(name);
}

/** The fields of a technique (deprecated ones included, flagged on the field). */
export function techniqueFields(technique: string): IcatField[] {
  const t = requireTechnique(technique);
  return t.fields.map((name) => fieldsByName.get(name)!);
}

/** An ICAT field name that is not in hdf5_cfg.xml. */
export class UnknownIcatFieldError extends InvalidInputError {
  override name = 'UnknownIcatFieldError';
}

/** A technique that hdf5_cfg.xml does not define. */
export class UnknownTechniqueError extends InvalidInputError {
  override name = 'UnknownTechniqueError';
}

/** Levenshtein distance, case-insensitive (users mistype case more than anything). */
function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[t.length]!;
}

/** The closest known names (at most three), when they are close enough to be what was meant. */
export function suggestNames(name: string, known: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(name.length / 4));
  return known
    .map((candidate) => ({ candidate, d: distance(name, candidate) }))
    .filter(({ d }) => d <= limit)
    .sort((x, y) => x.d - y.d || x.candidate.localeCompare(y.candidate))
    .slice(0, 3)
    .map(({ candidate }) => candidate);
}

function didYouMean(suggestions: readonly string[]): string {
  return suggestions.length ? `; did you mean ${suggestions.join(' or ')}?` : '';
}

/** The field, or UnknownIcatFieldError naming the closest known fields. */
export function requireField(name: string): IcatField {
  const field = typeof name === 'string' ? fieldsByName.get(name) : undefined;
  if (field) return field;
  const text = String(name);
  const renamed = RENAMED_FIELDS[text];
  const suggestions = renamed ? [renamed] : suggestNames(text, fieldNames());
  throw new UnknownIcatFieldError(
    `unknown ICAT field ${JSON.stringify(text)} (not in hdf5_cfg.xml of icat-esrf-definitions ${icatSource.version})${didYouMean(suggestions)}`,
    { field: text, suggestions },
  );
}

/** The technique (names are case-insensitive: `fluo` is FLUO), or UnknownTechniqueError. */
export function requireTechnique(name: string): IcatTechnique {
  const text = String(name);
  const technique = techniquesByName.get(text) ?? techniquesByName.get(text.toUpperCase());
  if (technique) return technique;
  const suggestions = suggestNames(text, techniqueNames());
  throw new UnknownTechniqueError(
    `unknown technique ${JSON.stringify(text)}; known: ${techniqueNames().join(', ')}${didYouMean(suggestions)}`,
    { technique: text, suggestions },
  );
}

/** Numbers for numeric NeXus types when the whole string is numbers (space or comma separated); else the string. */
export function typedValue(value: string, nexusType: string): string | number | number[] {
  if (!['NX_NUMBER', 'NX_FLOAT', 'NX_INT'].includes(nexusType)) return value;
  const parts = value
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean);
  if (parts.length === 0 || !parts.every((p) => /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(p))) return value;
  const numbers = parts.map(Number);
  return numbers.length === 1 ? numbers[0]! : numbers;
}
