/**
 * What `beamline-archive runs` and `dlq` share. Operators act with their own AWS credentials,
 * directly through the SDK (DynamoDB, SQS): no function URL in between, IAM decides who may
 * (docs/operations.md, "Access"). The resources are found by name: the catalogue table
 * (--table, BEAMLINE_ARCHIVE_TABLE) and the queues whose names start with the compute stack's
 * prefix (--queue-prefix, BEAMLINE_ARCHIVE_QUEUE_PREFIX, default `BeamlineArchiveCompute-`).
 */
import { awsConnectionFromEnv, createAwsClients, type AwsClients } from '../src/adapters/aws-clients.js';
import { UsageError } from './cli-support.js';
import type { DeadLetterQueue, QueueInfo } from '../src/adapters/sqs-queue-operations.js';

export { listQueues, type DeadLetterQueue, type QueueInfo } from '../src/adapters/sqs-queue-operations.js';

export const DEFAULT_QUEUE_PREFIX = 'BeamlineArchiveCompute-';

export function clientsFromEnv(env: NodeJS.ProcessEnv): AwsClients {
  return createAwsClients(awsConnectionFromEnv(env));
}

export function tableName(option: string | undefined, env: NodeJS.ProcessEnv): string {
  const name = option ?? env.BEAMLINE_ARCHIVE_TABLE ?? env.TABLE_NAME;
  if (!name)
    throw new UsageError(
      'the catalogue table is not known: pass --table NAME or set BEAMLINE_ARCHIVE_TABLE (the TableName output of the storage stack)',
    );
  return name;
}

/** The dead-letter queues among them: those a queue redrives to, and the bus rules' DLQ (its name says RuleDeadLetter). */
export function deadLetterQueues(queues: readonly QueueInfo[]): DeadLetterQueue[] {
  const sourceOf = new Map(queues.filter((q) => q.deadLetterArn).map((q) => [q.deadLetterArn!, q]));
  return queues
    .filter((q) => sourceOf.has(q.arn) || /rule-?dead-?letter/i.test(q.name))
    .map((q) => ({ ...q, source: sourceOf.get(q.arn) }));
}

const squash = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');

/** A DLQ by name, URL, or the name of the function it serves (`scan-writer`, `rules` for the bus rules' DLQ). */
export function pickDeadLetterQueue(dlqs: readonly DeadLetterQueue[], wanted: string): DeadLetterQueue {
  const exact = dlqs.find((q) => q.name === wanted || q.url === wanted);
  if (exact) return exact;
  const key = squash(wanted === 'rules' ? 'RuleDeadLetter' : wanted);
  const matches = dlqs.filter((q) => squash(q.name).includes(key) || (q.source && squash(q.source.name).includes(key)));
  if (matches.length === 1) return matches[0]!;
  const names = dlqs.map((q) => q.name).join(', ') || 'none';
  throw new UsageError(
    matches.length === 0
      ? `no dead-letter queue matches ${JSON.stringify(wanted)} (have: ${names})`
      : `${JSON.stringify(wanted)} matches ${matches.length} dead-letter queues: ${matches.map((q) => q.name).join(', ')}`,
  );
}

/** Progress of long work on stderr: one line per step, `[  1.2s] done/total what`. */
export function progress(quiet: boolean): (done: number, total: number, what: string) => void {
  const t0 = Date.now();
  return (done, total, what) => {
    if (!quiet) process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${done}/${total} ${what}\n`);
  };
}
