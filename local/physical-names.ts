/**
 * Physical names for emulated resources: `<prefix>-<short logical name>`, valid for the service
 * and short, so several isolated copies of the app (one per test file) share one emulator.
 */
import { createHash } from 'node:crypto';

export interface NameRule {
  max: number;
  lowercase: boolean;
  /** characters outside this class become '-' */
  invalid: RegExp;
  suffix?: string;
}

export const NAME_RULES = {
  bucket: { max: 63, lowercase: true, invalid: /[^a-z0-9-]/g },
  table: { max: 255, lowercase: false, invalid: /[^A-Za-z0-9_.-]/g },
  eventBus: { max: 256, lowercase: false, invalid: /[^A-Za-z0-9_.-]/g },
  rule: { max: 64, lowercase: false, invalid: /[^A-Za-z0-9_.-]/g },
  queue: { max: 80, lowercase: false, invalid: /[^A-Za-z0-9_-]/g },
  function: { max: 64, lowercase: false, invalid: /[^A-Za-z0-9_-]/g },
  topic: { max: 256, lowercase: false, invalid: /[^A-Za-z0-9_-]/g },
  other: { max: 64, lowercase: false, invalid: /[^A-Za-z0-9_-]/g },
} as const satisfies Record<string, NameRule>;

export type NameKind = keyof typeof NAME_RULES;

/** A prefix must be short lowercase letters/digits/dashes (it goes into S3 bucket names). */
export function assertValidPrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(prefix) || prefix.endsWith('-')) {
    throw new Error(`prefix "${prefix}" must be 1-20 chars of [a-z0-9-], start with a letter and not end with '-'`);
  }
}

export function shortHash(text: string, length = 6): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** `RunRecorderQueueDLQ1A2B3C4D` → `run-recorder-queue-dlq`: drops CDK's 8-hex suffix, kebab-cases. */
export function readableLogicalId(logicalId: string): string {
  const stripped = /^.+?[0-9A-F]{8}$/.test(logicalId) && logicalId.length > 8 ? logicalId.slice(0, -8) : logicalId;
  return stripped
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}

/** Allocates unique names per kind for one provisioning run. */
export class NameAllocator {
  private readonly used = new Map<NameKind, Set<string>>();
  constructor(readonly prefix: string) {
    assertValidPrefix(prefix);
  }

  allocate(kind: NameKind, base: string, uniqueKey: string): string {
    const rule: NameRule = NAME_RULES[kind];
    const suffix = rule.suffix ?? '';
    const clean = (s: string) => {
      const cased = rule.lowercase ? s.toLowerCase() : s;
      return cased.replace(rule.invalid, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
    };
    let name = clean(`${this.prefix}-${base}`);
    const room = rule.max - suffix.length;
    if (name.length > room) name = `${name.slice(0, room - 7).replace(/-$/, '')}-${shortHash(uniqueKey)}`;
    const used = this.used.get(kind) ?? new Set<string>();
    this.used.set(kind, used);
    if (used.has(name)) name = `${name.slice(0, room - 7)}-${shortHash(uniqueKey)}`;
    used.add(name);
    return name + suffix;
  }
}
