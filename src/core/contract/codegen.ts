import { readFile } from 'node:fs/promises';
import { compile, type JSONSchema } from 'json-schema-to-typescript';
import { schemaSlugs } from './detail-types.js';
import { schemaPath } from './schema-files.js';

/** Renders the TypeScript types of every event schema, in a stable order. */
export async function renderContractTypes(): Promise<string> {
  const parts = ['/* eslint-disable */', '// Generated from events/schemas by scripts/generate-contract.ts. Do not edit by hand.', ''];
  for (const slug of Object.values(schemaSlugs).sort()) {
    const schema = JSON.parse(await readFile(schemaPath(slug), 'utf8')) as JSONSchema;
    const { $id: _id, ...rest } = schema;
    const ts = await compile(rest as JSONSchema, slug, {
      bannerComment: '',
      additionalProperties: false,
      strictIndexSignatures: true,
      format: true,
      declareExternallyReferenced: true,
      style: { singleQuote: true },
    });
    parts.push(`// ${slug}.schema.json`, ts.trim(), '');
  }
  return dedupe(parts.join('\n'));
}

/** json-schema-to-typescript numbers repeated titles (DataPolicy1 …); keep one declaration of each. */
function dedupe(source: string): string {
  const declarations = new Map<string, string>();
  const out: string[] = [];
  for (const block of source.split(/(?<!\*\/)\n(?=export |\/\/ )|\n(?=\/\*\*\n)/)) {
    const match = /^(?:\/\*\*\n(?: \*.*\n)* \*\/\n)?export (?:interface|type) (\w+)/.exec(block);
    if (match?.[1] !== undefined) {
      const base = match[1].replace(/\d+$/, '');
      const body = block.replace(match[1], base);
      if (declarations.has(base) && declarations.get(base) === body) continue;
      declarations.set(base, body);
    }
    out.push(block);
  }
  return out.join('\n');
}
