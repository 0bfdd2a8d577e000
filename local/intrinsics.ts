/**
 * Evaluates CloudFormation intrinsic functions in a synthesized template: Ref, Fn::GetAtt,
 * Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::ImportValue, Fn::If (+ conditions), Fn::Base64,
 * Fn::GetAZs. Resource references are answered by the caller (which creates the resource on
 * first use), so evaluation is async.
 */
import { isRecord } from '../src/core/guards.js';

/** What Ref / Fn::GetAtt / Fn::ImportValue / Condition point at; supplied by the provisioner. */
export interface IntrinsicScope {
  stackName: string;
  region: string;
  accountId(): string;
  ref(logicalId: string): Promise<unknown>;
  getAtt(logicalId: string, attribute: string): Promise<unknown>;
  importValue(exportName: string): Promise<unknown>;
  condition(name: string): Promise<boolean>;
}

export class TemplateResolutionError extends Error {
  override name = 'TemplateResolutionError';
  constructor(
    message: string,
    readonly stackName: string,
    options?: ErrorOptions,
  ) {
    super(`${stackName}: ${message}`, options);
  }
}

/** `AWS::NoValue`: the property it stands for is removed. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

const PSEUDO: Record<string, (s: IntrinsicScope) => unknown> = {
  'AWS::Region': (s) => s.region,
  'AWS::AccountId': (s) => s.accountId(),
  'AWS::Partition': () => 'aws',
  'AWS::URLSuffix': () => 'amazonaws.com',
  'AWS::StackName': (s) => s.stackName,
  'AWS::StackId': (s) => `arn:aws:cloudformation:${s.region}:${s.accountId()}:stack/${s.stackName}/local`,
  'AWS::NotificationARNs': () => [],
  'AWS::NoValue': () => NO_VALUE,
};

function asString(v: unknown, what: string, scope: IntrinsicScope): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new TemplateResolutionError(`${what} must resolve to a string, got ${JSON.stringify(v)}`, scope.stackName);
}

async function evalCondition(expr: unknown, scope: IntrinsicScope): Promise<boolean> {
  if (typeof expr === 'boolean') return expr;
  if (isRecord(expr)) {
    const [fn, arg] = Object.entries(expr)[0] ?? [];
    const args = Array.isArray(arg) ? arg : [];
    switch (fn) {
      case 'Condition':
        return scope.condition(asString(arg, 'Condition', scope));
      case 'Fn::Equals': {
        const [a, b] = await Promise.all(args.map((x) => resolveValue(x, scope)));
        return JSON.stringify(a) === JSON.stringify(b);
      }
      case 'Fn::Not':
        return !(await evalCondition(args[0], scope));
      case 'Fn::And': {
        for (const a of args) if (!(await evalCondition(a, scope))) return false;
        return true;
      }
      case 'Fn::Or': {
        for (const a of args) if (await evalCondition(a, scope)) return true;
        return false;
      }
      default:
        break;
    }
  }
  const v = await resolveValue(expr, scope);
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new TemplateResolutionError(`cannot evaluate condition ${JSON.stringify(expr)}`, scope.stackName);
}

export { evalCondition as evaluateCondition };

async function resolveSub(arg: unknown, scope: IntrinsicScope): Promise<string> {
  const [text, vars] = Array.isArray(arg) ? [arg[0], arg[1]] : [arg, undefined];
  const template = asString(text, 'Fn::Sub template', scope);
  const values: Record<string, unknown> = {};
  if (isRecord(vars)) for (const [k, v] of Object.entries(vars)) values[k] = await resolveValue(v, scope);
  let out = '';
  let last = 0;
  for (const m of template.matchAll(/\$\{([^}]+)\}/g)) {
    out += template.slice(last, m.index);
    last = m.index + m[0].length;
    const name = m[1] ?? '';
    if (name.startsWith('!')) {
      out += `\${${name.slice(1)}}`;
      continue;
    }
    let value: unknown;
    if (name in values) value = values[name];
    else if (name.includes('.') && !name.startsWith('AWS::')) {
      const dot = name.indexOf('.');
      value = await scope.getAtt(name.slice(0, dot), name.slice(dot + 1));
    } else value = await resolveValue({ Ref: name }, scope);
    out += asString(value, `\${${name}}`, scope);
  }
  return out + template.slice(last);
}

/** Resolves every intrinsic function inside `value` (deeply); `AWS::NoValue` removes the key. */
export async function resolveValue(value: unknown, scope: IntrinsicScope): Promise<unknown> {
  if (Array.isArray(value)) {
    const items = await Promise.all(value.map((v) => resolveValue(v, scope)));
    return items.filter((v) => v !== NO_VALUE);
  }
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const fn = keys[0] as string;
    const arg = value[fn];
    switch (fn) {
      case 'Ref': {
        const name = asString(arg, 'Ref', scope);
        const pseudo = PSEUDO[name];
        return pseudo ? pseudo(scope) : scope.ref(name);
      }
      case 'Fn::GetAtt': {
        const [id, attr] =
          typeof arg === 'string'
            ? [arg.slice(0, arg.indexOf('.')), arg.slice(arg.indexOf('.') + 1)]
            : [
                asString((arg as unknown[])[0], 'Fn::GetAtt resource', scope),
                asString(await resolveValue((arg as unknown[])[1], scope), 'Fn::GetAtt attribute', scope),
              ];
        return scope.getAtt(id, attr);
      }
      case 'Fn::Join': {
        const [delimiter, list] = arg as [unknown, unknown];
        const items = await resolveValue(list, scope);
        if (!Array.isArray(items)) throw new TemplateResolutionError('Fn::Join needs a list', scope.stackName);
        return items.map((i) => asString(i, 'Fn::Join item', scope)).join(asString(delimiter, 'Fn::Join delimiter', scope));
      }
      case 'Fn::Sub':
        return resolveSub(arg, scope);
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        const items = await resolveValue(list, scope);
        const i = Number(await resolveValue(index, scope));
        if (!Array.isArray(items) || !(i in items))
          throw new TemplateResolutionError(`Fn::Select index ${i} out of range`, scope.stackName);
        return items[i];
      }
      case 'Fn::Split': {
        const [delimiter, source] = arg as [unknown, unknown];
        return asString(await resolveValue(source, scope), 'Fn::Split source', scope).split(
          asString(delimiter, 'Fn::Split delimiter', scope),
        );
      }
      case 'Fn::ImportValue':
        return scope.importValue(asString(await resolveValue(arg, scope), 'Fn::ImportValue', scope));
      case 'Fn::If': {
        const [cond, whenTrue, whenFalse] = arg as [unknown, unknown, unknown];
        return resolveValue((await scope.condition(asString(cond, 'Fn::If condition', scope))) ? whenTrue : whenFalse, scope);
      }
      case 'Fn::Base64':
        return Buffer.from(asString(await resolveValue(arg, scope), 'Fn::Base64', scope)).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((z) => `${scope.region}${z}`);
      case 'Fn::Equals':
      case 'Fn::Not':
      case 'Fn::And':
      case 'Fn::Or':
      case 'Condition':
        return evalCondition(value, scope);
      default:
        if (fn.startsWith('Fn::')) throw new TemplateResolutionError(`unsupported intrinsic ${fn}`, scope.stackName);
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = await resolveValue(value[k], scope);
    if (v !== NO_VALUE) out[k] = v;
  }
  return out;
}
