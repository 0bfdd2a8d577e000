// Credentials and endpoints come from one place (local/aws-target.ts: the environment, default
// test/test, eu-west-1, moto or AWS_ENDPOINT_URL). This scans the tree's text (tests, local
// environment, scripts, benches, tools, CLI, bridge, functions, CI) and fails on a literal key, a
// literal secret or a literal endpoint, so that no test can pass against one
// emulator only because it spelled out what that emulator happens to accept.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../local/services.js';

const SCANNED_DIRS = ['test', 'local', 'scripts', 'bench', 'tools', 'bin', 'cli', 'bridge', 'src', 'functions', 'infra', 'layers', '.ci'];
const SCANNED_FILES = ['package.json'];
const TEXT = /\.(ts|mts|mjs|cjs|js|py|sh|json|toml|cfg|ya?ml)$|^run$/;
const SKIPPED_DIRS = new Set(['node_modules', 'build', 'dist', 'cdk.out', '__pycache__']);
const SELF = 'test/unit/no-hard-coded-aws.test.ts';

const RULES: { name: string; pattern: RegExp }[] = [
  { name: 'literal SDK credential', pattern: /\b(accessKeyId|secretAccessKey|sessionToken)\s*:\s*['"`]/ },
  {
    name: 'literal credential variable',
    pattern: /\b(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)\s*(:\s*['"`]|=['"]?[A-Za-z0-9/+])/,
  },
  { name: 'literal boto3 credential', pattern: /\baws_(access_key_id|secret_access_key|session_token)\s*=\s*['"]/ },
  { name: 'AWS access key id', pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/ },
  // An endpoint setting given a literal URL (a template literal with a port of its own, `${port}`, is an in-test server).
  {
    name: 'literal endpoint setting',
    pattern: /\b(endpoint|endpointUrl|endpoint_url|awsEndpoint|AWS_ENDPOINT_URL)\s*[:=]\s*['"`]?https?:\/\/(?![^'"`\s]*\$\{)/,
  },
  { name: 'emulator endpoint', pattern: /\b(127\.0\.0\.1|localhost|0\.0\.0\.0):(4566|5000)\b|localhost\.localstack\.cloud/ },
];

/**
 * Lines that match a rule on purpose: each names its file, a fragment of the line and why it is no
 * hard-coded connection. Anything else fails.
 */
const ALLOWED: { file: string; fragment: string; reason: string }[] = [
  {
    file: 'test/integration/local-http-gateway.test.ts',
    fragment: "secretAccessKey: 'nope'",
    reason: 'a wrong secret the gateway must refuse',
  },
  {
    file: 'test/integration/local-http-gateway.test.ts',
    fragment: "accessKeyId: 'AKIAOTHER'",
    reason: 'a wrong key the gateway must refuse',
  },
  {
    file: 'test/unit/exports-cli.test.ts',
    fragment: "AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE'",
    reason: 'SigV4 signing of a request to an in-test server; no AWS reached',
  },
  {
    file: 'test/integration/exports-records.test.ts',
    fragment: "['http://127.0.0.1:5000', 'path']",
    reason: 'download links signed offline and compared with botocore; never connected to',
  },
  {
    file: 'tools/fault-proxy/fault-proxy.ts',
    fragment: '--target http://127.0.0.1:5000 --port 5001',
    reason: 'a usage line in the doc comment',
  },
  {
    file: 'test/integration/bridge-cli.test.ts',
    fragment: "'http://127.0.0.1:5000'",
    reason: 'configuration parsing: the value is compared, never connected to',
  },
];

function listFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return SKIPPED_DIRS.has(name) ? [] : listFiles(path);
    return TEXT.test(name) ? [path] : [];
  });
}

export interface Finding {
  file: string;
  line: number;
  rule: string;
  text: string;
}

/** Every line of `text` that matches a rule and is not in ALLOWED for `file`. */
export function findHardCodedAws(file: string, text: string): Finding[] {
  const findings: Finding[] = [];
  text.split('\n').forEach((line, i) => {
    for (const rule of RULES) {
      if (!rule.pattern.test(line)) continue;
      if (ALLOWED.some((a) => a.file === file && line.includes(a.fragment))) continue;
      findings.push({ file, line: i + 1, rule: rule.name, text: line.trim().slice(0, 160) });
    }
  });
  return findings;
}

describe('no hard-coded AWS credentials or endpoints', () => {
  const files = [...SCANNED_DIRS.flatMap((d) => listFiles(join(projectRoot, d))), ...SCANNED_FILES.map((f) => join(projectRoot, f))]
    .map((path) => relative(projectRoot, path))
    .filter((file) => file !== SELF);

  it('scans the whole tree (tests, local environment, scripts, bridge, functions, CI)', () => {
    assert.ok(files.length > 200, `only ${files.length} files scanned`);
    for (const expected of [
      'local/pipeline.ts',
      'local/environment.ts',
      'scripts/test.mjs',
      '.ci/run',
      'test/integration/s3-store-fixture.ts',
    ]) {
      assert.ok(files.includes(expected), `${expected} not scanned`);
    }
  });

  it('finds no literal key, secret or emulator endpoint outside local/aws-target.ts', () => {
    const findings = files.flatMap((file) => findHardCodedAws(file, readFileSync(join(projectRoot, file), 'utf8')));
    assert.deepEqual(
      findings.map((f) => `${f.file}:${f.line} ${f.rule}: ${f.text}`),
      [],
    );
  });

  it('recognises the forms it forbids (and lets the allowed ones through only where listed)', () => {
    const samples = [
      "createAwsClients({ region, endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })",
      "env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' }",
      'export AWS_ENDPOINT_URL=http://localhost:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test',
      's3 = boto3.client("s3", endpoint_url="http://127.0.0.1:5000", aws_access_key_id="test")',
      "const endpoint = 'http://127.0.0.1:4566';",
    ];
    for (const sample of samples) assert.notDeepEqual(findHardCodedAws('test/integration/x.test.ts', sample), [], sample);
    assert.deepEqual(
      findHardCodedAws('test/integration/x.test.ts', 'const endpoint = `http://127.0.0.1:${port}`; connectionTo(aws.url)'),
      [],
    );
    assert.deepEqual(
      findHardCodedAws(
        'test/integration/x.test.ts',
        "headers: { origin: 'http://127.0.0.1:5173' } // the issuer, e.g. http://127.0.0.1:34567",
      ),
      [],
    );
    assert.notDeepEqual(findHardCodedAws('test/integration/x.test.ts', "aws: { region, endpoint: 'http://127.0.0.1:34567' }"), []);
    assert.notDeepEqual(findHardCodedAws('test/integration/other.test.ts', "credentials: { ...credentials, secretAccessKey: 'nope' }"), []);
  });
});
