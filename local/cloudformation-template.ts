/**
 * The synthesized CloudFormation templates of the CDK app, as the local provisioner reads them:
 * from an in-process cloud assembly (`app.synth()`) or from a cdk.out directory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
}

export interface TemplateOutput {
  Value: unknown;
  Description?: string;
  Export?: { Name: unknown };
  Condition?: string;
}

export interface CloudFormationTemplate {
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Conditions?: Record<string, unknown>;
  Resources?: Record<string, TemplateResource>;
  Outputs?: Record<string, TemplateOutput>;
}

/** One stack of the assembly; `dependencies` are the names of stacks it imports from. */
export interface StackTemplate {
  stackName: string;
  template: CloudFormationTemplate;
  dependencies: string[];
}

/** The part of `aws-cdk-lib/cx-api`'s CloudAssembly the provisioner uses (no import of cdk here). */
export interface CloudAssemblyLike {
  stacks: ReadonlyArray<{
    id: string;
    stackName: string;
    template: unknown;
    dependencies: ReadonlyArray<{ id: string }>;
  }>;
}

/** Templates of an in-process synthesized assembly: `templatesFromAssembly(app.synth())`. */
export function templatesFromAssembly(assembly: CloudAssemblyLike): StackTemplate[] {
  const byArtifactId = new Map<string, string>();
  for (const stack of assembly.stacks) byArtifactId.set(stack.id, stack.stackName);
  return orderStacks(
    assembly.stacks.map((stack) => ({
      stackName: stack.stackName,
      template: stack.template as CloudFormationTemplate,
      dependencies: stack.dependencies.map((d) => byArtifactId.get(d.id)).filter((d): d is string => d !== undefined),
    })),
  );
}

interface ManifestArtifact {
  type: string;
  properties?: { templateFile?: string; stackName?: string };
  dependencies?: string[];
}

/** Templates of a cdk.out directory (`cdk synth` output), read through its manifest.json. */
export function templatesFromCloudAssemblyDir(dir: string): StackTemplate[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { artifacts?: Record<string, ManifestArtifact> };
  const artifacts = Object.entries(manifest.artifacts ?? {}).filter(([, a]) => a.type === 'aws:cloudformation:stack');
  const names = new Map(artifacts.map(([id, a]) => [id, a.properties?.stackName ?? id]));
  return orderStacks(
    artifacts.map(([id, a]) => {
      const templateFile = a.properties?.templateFile;
      if (!templateFile) throw new Error(`stack artifact ${id} in ${dir} has no templateFile`);
      return {
        stackName: names.get(id) ?? id,
        template: JSON.parse(readFileSync(join(dir, templateFile), 'utf8')) as CloudFormationTemplate,
        dependencies: (a.dependencies ?? []).map((d) => names.get(d)).filter((d): d is string => d !== undefined),
      };
    }),
  );
}

/**
 * Stacks the local environment does not emulate: the portal's CloudFront distribution and site
 * bucket (local/portal-server.ts serves web/dist on loopback in their place).
 */
export const NOT_EMULATED_STACKS: ReadonlySet<string> = new Set(['BeamlineArchivePortal']);

/** Dependencies first (stable otherwise), so exports exist before their imports are read; stacks not emulated left out. */
export function orderStacks(all: StackTemplate[]): StackTemplate[] {
  const stacks = all.filter((s) => !NOT_EMULATED_STACKS.has(s.stackName));
  const byName = new Map(stacks.map((s) => [s.stackName, s]));
  const ordered: StackTemplate[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (stack: StackTemplate): void => {
    const s = state.get(stack.stackName);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`stack dependency cycle through ${stack.stackName}`);
    state.set(stack.stackName, 'visiting');
    for (const dep of stack.dependencies) {
      const d = byName.get(dep);
      if (d) visit(d);
    }
    state.set(stack.stackName, 'done');
    ordered.push(stack);
  };
  stacks.forEach(visit);
  return ordered;
}
