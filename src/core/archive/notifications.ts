/**
 * What a person receives (SNS: e-mail or any subscriber) when a run ends badly: one message per
 * Run Failed or Run Stalled, saying which scan, why, and the first command to run
 * (docs/operations.md is the runbook).
 */
import type { RunFailed, RunStalled } from '../contract/generated-types.js';

export interface Notification {
  /** At most 100 printable ASCII characters (SNS e-mail subject). */
  subject: string;
  message: string;
}

/** SNS's subject rule: printable ASCII, no line breaks, at most 100 characters. */
export function snsSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 97)}...`;
}

export function runFailedNotification(detail: RunFailed): Notification {
  const lines = [
    `Run ${detail.run_uid} ended FAILED (stage ${detail.stage}).`,
    ...(detail.scan_key ? [`BLISS scan: ${detail.scan_key}`] : []),
    `Reason: ${detail.reason}`,
    ...(detail.errors.length
      ? [
          'Errors:',
          ...detail.errors
            .slice(0, 20)
            .map((e) => `  - ${e.stream ? `${e.stream}${e.index !== undefined ? `[${e.index}]` : ''}: ` : ''}${e.message}`),
        ]
      : []),
    ...(detail.errors.length > 20 ? [`  … and ${detail.errors.length - 20} more (beamline-archive runs show)`] : []),
    '',
    `What to do: beamline-archive runs show ${detail.run_uid}`,
    'then see docs/operations.md, "Run FAILED": fix the cause, then beamline-archive runs retry <uid> (staged data is kept for FAILED runs).',
  ];
  return { subject: snsSubject(`[beamline-archive] run ${detail.run_uid} FAILED (${detail.stage})`), message: lines.join('\n') };
}

export function runStalledNotification(detail: RunStalled): Notification {
  const p = detail.data_policy;
  const lines = [
    `Run ${detail.run_uid} is STALLED: not archived ${Math.round(detail.waited_seconds / 60)} min after ${detail.run_stop ? 'its RunStop' : 'its start (no RunStop)'}.`,
    ...(detail.scan_key ? [`BLISS scan: ${detail.scan_key}`] : []),
    ...(p ? [`Dataset: ${[p.proposal, p.beamline, p.session, p.collection, p.dataset].filter(Boolean).join('/')}`] : []),
    'Missing:',
    ...detail.missing.slice(0, 20).map((m) => `  - ${m.message}`),
    '',
    `What to do: beamline-archive runs show ${detail.run_uid}`,
    'then see docs/operations.md, "Run STALLED" (bridge down? DLQ? documents lost?), then beamline-archive runs retry <uid>.',
  ];
  return { subject: snsSubject(`[beamline-archive] run ${detail.run_uid} STALLED`), message: lines.join('\n') };
}

/** Where notifications go (adapter: src/adapters/sns-notifier.ts). */
export interface Notifier {
  notify(notification: Notification): Promise<void>;
}
