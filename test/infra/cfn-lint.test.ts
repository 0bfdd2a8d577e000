// cfn-lint (from .venv, installed by scripts/setup.sh with moto[server]) on the synthesized
// templates of both stacks: no deprecated Lambda runtime, and no finding other than the one CDK
// itself produces (W3005, the DependsOn CDK adds from a function to its role's default policy).
// Run: node --import tsx --test test/infra/cfn-lint.test.ts
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildApp, STACK_NAMES } from '../../infra/bin/app.js';
import { venvBin } from '../../local/services.js';

interface Finding {
  Rule: { Id: string };
  Message: string;
  Filename: string;
}

const outdir = mkdtempSync(join(tmpdir(), 'beamline-archive-cfn-lint-'));
after(() => rmSync(outdir, { recursive: true, force: true }));
// Two beamlines: their bridge roles and policies are linted too.
buildApp({ outdir, context: { 'aws:cdk:bundling-stacks': [], beamlines: 'id21,id16b' } }).app.synth();
const templates = Object.values(STACK_NAMES).map((name) => join(outdir, `${name}.template.json`));
const computeTemplate = join(outdir, `${STACK_NAMES.compute}.template.json`);

/** cfn-lint's findings as JSON (it exits non-zero whenever it finds anything; the output is what counts). */
function cfnLint(files: string[]): Finding[] {
  try {
    return JSON.parse(execFileSync(join(venvBin, 'cfn-lint'), ['--format', 'json', ...files], { encoding: 'utf8' })) as Finding[];
  } catch (e) {
    const stdout = (e as { stdout?: string }).stdout;
    if (!stdout) throw e;
    return JSON.parse(stdout) as Finding[];
  }
}

const RUNTIME_RULES = /^[EW]253[0-9]$/;

describe('cfn-lint on the synthesized templates', () => {
  const findings = cfnLint(templates);

  it("finds no deprecated or unknown Lambda runtime, and nothing but CDK's own DependsOn notes", () => {
    assert.deepEqual(
      findings.filter((f) => RUNTIME_RULES.test(f.Rule.Id)).map((f) => f.Message),
      [],
    );
    assert.deepEqual(
      findings.filter((f) => f.Rule.Id !== 'W3005').map((f) => `${f.Rule.Id} ${f.Message}`),
      [],
    );
  });

  it('runs every function and the h5wasm layer on nodejs24.x', () => {
    const compute = JSON.parse(readFileSync(computeTemplate, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const resources = Object.values(compute.Resources);
    const runtimes = resources.filter((r) => r.Type === 'AWS::Lambda::Function').map((r) => r.Properties.Runtime);
    assert.ok(runtimes.length >= 7, `expected the 7 functions, got ${runtimes.length}`);
    assert.deepEqual(new Set(runtimes), new Set(['nodejs24.x']));
    const layers = resources.filter((r) => r.Type === 'AWS::Lambda::LayerVersion').map((r) => r.Properties.CompatibleRuntimes);
    assert.deepEqual(layers, [['nodejs24.x']]);
  });

  it('would flag the former nodejs20.x runtime (the rule is live, not silently skipped)', () => {
    const compute = JSON.parse(readFileSync(computeTemplate, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    for (const r of Object.values(compute.Resources)) if (r.Type === 'AWS::Lambda::Function') r.Properties.Runtime = 'nodejs20.x';
    const old = join(outdir, 'nodejs20.template.json');
    writeFileSync(old, JSON.stringify(compute));
    const flagged = cfnLint([old]).filter((f) => RUNTIME_RULES.test(f.Rule.Id));
    assert.ok(flagged.length >= 7, `expected a deprecated-runtime finding per function, got ${flagged.length}`);
    assert.match(flagged[0]!.Message, /nodejs20\.x.*deprecated/);
  });
});
