/**
 * `beamline-archive dlq …`: the dead-letter queues of every function (and of the bus rules): what
 * is waiting there, why, and sending it back once the cause is fixed (docs/operations.md).
 */
import { ChangeMessageVisibilityBatchCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { parseArgs } from 'node:util';
import { ParkedAttribute } from '../src/adapters/sqs-dead-letter-queue.js';
import { UsageError } from './cli-support.js';
import { clientsFromEnv, deadLetterQueues, DEFAULT_QUEUE_PREFIX, listQueues, pickDeadLetterQueue, progress, type DeadLetterQueue, type QueueInfo } from './operations-support.js';

export const HELP = `Usage: beamline-archive dlq <command> [arguments] [options]

The dead-letter queues of the archive: one per function (run-recorder, scan-writer,
dataset-recorder, export-worker, notifier) and one for the bus rules (events EventBridge could not
deliver). A message lands there after 5 failed deliveries (maxReceiveCount), or at once when the
function knows no retry can fix it (it then says why: error, reason, run).

Commands:
  list                      every DLQ: messages waiting, the queue it serves
  show <queue> [--max N]    the waiting messages (N, default 10): body, why it was parked, receive count;
                            the messages stay in the DLQ
  redrive <queue> [--max N] sends the messages (all, or N) back to the queue they came from (the bus
                            rules' DLQ: to the queue the event was meant for), deleting each from the
                            DLQ once sent; progress on stderr. Fix the cause first (docs/operations.md).

<queue> is a queue name or URL, or the function it serves (scan-writer, run-recorder, ...), or
\`rules\` for the bus rules' DLQ.

Options:
  --queue-prefix P  names of the archive's queues start with P (BEAMLINE_ARCHIVE_QUEUE_PREFIX,
                    default ${DEFAULT_QUEUE_PREFIX})
  --json            JSON on stdout (default: text)
  --quiet           no progress lines
  -h, --help        this help

Credentials and region come from the AWS environment (AWS_REGION, AWS_PROFILE ...); the caller needs
sqs:ListQueues, GetQueueAttributes, ReceiveMessage, ChangeMessageVisibility, SendMessage and
DeleteMessage on these queues.

Examples:
  beamline-archive dlq list
  beamline-archive dlq show scan-writer --max 3 --json
  beamline-archive dlq redrive scan-writer
`;

interface ShownMessage {
  messageId: string;
  receiveCount: number;
  sentAt: string | undefined;
  parked?: { error?: string; reason?: string; function?: string; runUid?: string; parkedAt?: string };
  /** EventBridge's own attributes on the bus rules' DLQ (RULE_ARN, TARGET_ARN, ERROR_MESSAGE ...). */
  attributes?: Record<string, string>;
  detailType?: string;
  body: string;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { 'queue-prefix': { type: 'string' }, max: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    process.stderr.write(`beamline-archive dlq: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, target] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  try {
    const { sqs } = clientsFromEnv(env);
    const prefix = values['queue-prefix'] ?? env.BEAMLINE_ARCHIVE_QUEUE_PREFIX ?? DEFAULT_QUEUE_PREFIX;
    const queues = await listQueues(sqs, prefix);
    const dlqs = deadLetterQueues(queues);
    const max = values.max === undefined ? undefined : Number(values.max);
    if (max !== undefined && !(Number.isInteger(max) && max > 0)) throw new UsageError(`--max must be a positive whole number, got ${JSON.stringify(values.max)}`);
    const print = (json: unknown, text: string) => process.stdout.write(values.json ? `${JSON.stringify(json, null, 2)}\n` : `${text}\n`);
    switch (command) {
      case 'list': {
        const rows = dlqs.map((q) => ({ name: q.name, url: q.url, messages: q.visible + q.inFlight, serves: q.source?.name ?? 'event bus rules (undeliverable events)' }));
        print(rows, rows.length === 0 ? `no dead-letter queue under the prefix ${prefix}` : rows.map((r) => `${String(r.messages).padStart(6)}  ${r.name}  ← ${r.serves}`).join('\n'));
        return 0;
      }
      case 'show': {
        if (!target) throw new UsageError('dlq show needs a queue');
        const dlq = pickDeadLetterQueue(dlqs, target);
        const messages = await peek(sqs, dlq, max ?? 10);
        print({ queue: dlq.name, messages }, messages.length === 0 ? `${dlq.name}: empty` : messages.map(describe).join('\n\n'));
        return 0;
      }
      case 'redrive': {
        if (!target) throw new UsageError('dlq redrive needs a queue');
        const dlq = pickDeadLetterQueue(dlqs, target);
        const moved = await redrive(sqs, dlq, queues, max, progress(values.quiet === true || values.json === true));
        print({ queue: dlq.name, ...moved }, `${moved.moved} message(s) sent back from ${dlq.name}${moved.skipped ? `, ${moved.skipped} left (no destination: ${moved.reasons.join('; ')})` : ''}`);
        return moved.skipped > 0 ? 1 : 0;
      }
      default:
        throw new UsageError(`unknown dlq command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`beamline-archive dlq: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`beamline-archive dlq: ${(error as Error).message}\n`);
    return 1;
  }
}

function shown(m: Message): ShownMessage {
  const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
  const parked = {
    ...(attr(ParkedAttribute.Error) ? { error: attr(ParkedAttribute.Error) } : {}), ...(attr(ParkedAttribute.Reason) ? { reason: attr(ParkedAttribute.Reason) } : {}),
    ...(attr(ParkedAttribute.Function) ? { function: attr(ParkedAttribute.Function) } : {}), ...(attr(ParkedAttribute.RunUid) ? { runUid: attr(ParkedAttribute.RunUid) } : {}),
    ...(attr(ParkedAttribute.ParkedAt) ? { parkedAt: attr(ParkedAttribute.ParkedAt) } : {}),
  };
  const others = Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).filter(([k]) => !k.startsWith('beamline-archive-')).map(([k, v]) => [k, v.StringValue ?? '']));
  let detailType: string | undefined;
  try {
    detailType = (JSON.parse(m.Body ?? '') as { 'detail-type'?: string })['detail-type'];
  } catch {
    detailType = undefined;
  }
  return {
    messageId: m.MessageId ?? '', receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
    sentAt: m.Attributes?.SentTimestamp ? new Date(Number(m.Attributes.SentTimestamp)).toISOString() : undefined,
    ...(Object.keys(parked).length ? { parked } : {}), ...(Object.keys(others).length ? { attributes: others } : {}),
    ...(detailType ? { detailType } : {}), body: m.Body ?? '',
  };
}

function describe(m: ShownMessage): string {
  const why = m.parked ? `parked by ${m.parked.function ?? '?'} at ${m.parked.parkedAt ?? '?'}: ${m.parked.error ?? ''}: ${m.parked.reason ?? ''}${m.parked.runUid ? ` (run ${m.parked.runUid})` : ''}`
    : m.attributes?.ERROR_MESSAGE ? `not delivered by the bus: ${m.attributes.ERROR_MESSAGE}` : 'failed after the queue\'s maxReceiveCount deliveries (see the function\'s log)';
  return `${m.messageId}  ${m.detailType ?? '(not an event)'}  sent ${m.sentAt ?? '?'}\n  ${why}\n  ${m.body.length > 400 ? `${m.body.slice(0, 400)}…` : m.body}`;
}

/** Receives up to `max` messages and makes them visible again at once: nothing is removed. */
async function peek(sqs: SQSClient, dlq: DeadLetterQueue, max: number): Promise<ShownMessage[]> {
  const seen = new Map<string, Message>();
  for (let empty = 0; seen.size < max && empty < 2;) {
    const out = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: dlq.url, MaxNumberOfMessages: Math.min(10, max - seen.size), WaitTimeSeconds: 1, VisibilityTimeout: 30,
      MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'], AttributeNames: ['All'],
    }));
    const got = (out.Messages ?? []).filter((m) => !seen.has(m.MessageId ?? ''));
    if (got.length === 0) { empty++; continue; }
    for (const m of got) seen.set(m.MessageId ?? '', m);
  }
  const messages = [...seen.values()];
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(new ChangeMessageVisibilityBatchCommand({
      QueueUrl: dlq.url, Entries: messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
    }));
  }
  return messages.map(shown);
}

/** Moves messages back to their queue: sent first, then deleted from the DLQ (a crash in between duplicates, never loses). */
async function redrive(
  sqs: SQSClient, dlq: DeadLetterQueue, queues: readonly QueueInfo[], max: number | undefined, report: (done: number, total: number, what: string) => void,
): Promise<{ moved: number; skipped: number; reasons: string[] }> {
  const total = max ?? dlq.visible;
  let moved = 0;
  let skipped = 0;
  const reasons = new Set<string>();
  const byArn = new Map(queues.map((q) => [q.arn, q]));
  const skippedIds = new Set<string>();
  for (let empty = 0; (max === undefined || moved < max) && empty < 2;) {
    const out = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: dlq.url, MaxNumberOfMessages: Math.min(10, max === undefined ? 10 : max - moved), WaitTimeSeconds: 1, VisibilityTimeout: 60,
      MessageAttributeNames: ['All'], AttributeNames: ['All'],
    }));
    const messages = (out.Messages ?? []).filter((m) => !skippedIds.has(m.MessageId ?? ''));
    if (messages.length === 0) { empty++; continue; }
    empty = 0;
    for (const m of messages) {
      // The bus rules' DLQ: EventBridge says which queue the event was for.
      const destination = dlq.source ?? byArn.get(m.MessageAttributes?.TARGET_ARN?.StringValue ?? '');
      if (!destination) {
        skipped++;
        skippedIds.add(m.MessageId ?? '');
        reasons.add(`target ${m.MessageAttributes?.TARGET_ARN?.StringValue ?? 'unknown'} is not one of the archive's queues`);
        continue;
      }
      await sqs.send(new SendMessageCommand({ QueueUrl: destination.url, MessageBody: m.Body ?? '' }));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlq.url, ReceiptHandle: m.ReceiptHandle }));
      moved++;
      report(moved, Math.max(total, moved), `→ ${destination.name}`);
    }
  }
  return { moved, skipped, reasons: [...reasons] };
}
