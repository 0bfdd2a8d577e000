/**
 * Regenerates src/core/contract/generated-types.ts from the JSON Schemas in events/schemas.
 * The schemas are the single source of truth; test/unit/contract.test.ts fails when the
 * committed file drifts from what this script would write.
 *
 *   npx tsx scripts/generate-contract.ts          write the file
 *   npx tsx scripts/generate-contract.ts --check  exit 1 if it is out of date
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderContractTypes } from '../src/core/contract/codegen.js';

const target = fileURLToPath(new URL('../src/core/contract/generated-types.ts', import.meta.url));
const rendered = await renderContractTypes();
if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== rendered) {
    process.stderr.write('src/core/contract/generated-types.ts is out of date: run `npx tsx scripts/generate-contract.ts`\n');
    process.exit(1);
  }
  process.stdout.write('contract types are up to date\n');
} else {
  await writeFile(target, rendered);
  process.stdout.write(`wrote ${target}\n`);
}
