/**
 * `beamline-archive dlq …`: the dead-letter queues of every function (and of the bus rules): what
 * is waiting there, why, and sending it back once the cause is fixed (docs/operations.md).
 */
import { peekMessages, redriveMessages, type ShownMessage } from '../src/adapters/sqs-queue-operations.js';
import { parseCommandLine, UsageError } from './cli-support.js';
import { clientsFromEnv, deadLetterQueues, DEFAULT_QUEUE_PREFIX, listQueues, pickDeadLetterQueue, progress } from './operations-support.js';

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

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const cli = parseCommandLine(
    'dlq',
    argv,
    {
      'queue-prefix': { type: 'string' },
      max: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  if ('exit' in cli) return cli.exit;
  const { command, values } = cli;
  const [target] = cli.args;
  try {
    const { sqs } = clientsFromEnv(env);
    const prefix = values['queue-prefix'] ?? env.BEAMLINE_ARCHIVE_QUEUE_PREFIX ?? DEFAULT_QUEUE_PREFIX;
    const queues = await listQueues(sqs, prefix);
    const dlqs = deadLetterQueues(queues);
    const max = values.max === undefined ? undefined : Number(values.max);
    if (max !== undefined && !(Number.isInteger(max) && max > 0))
      throw new UsageError(`--max must be a positive whole number, got ${JSON.stringify(values.max)}`);
    const print = (json: unknown, text: string) => process.stdout.write(values.json ? `${JSON.stringify(json, null, 2)}\n` : `${text}\n`);
    switch (command) {
      case 'list': {
        const rows = dlqs.map((q) => ({
          name: q.name,
          url: q.url,
          messages: q.visible + q.inFlight,
          serves: q.source?.name ?? 'event bus rules (undeliverable events)',
        }));
        print(
          rows,
          rows.length === 0
            ? `no dead-letter queue under the prefix ${prefix}`
            : rows.map((r) => `${String(r.messages).padStart(6)}  ${r.name}  ← ${r.serves}`).join('\n'),
        );
        return 0;
      }
      case 'show': {
        if (!target) throw new UsageError('dlq show needs a queue');
        const dlq = pickDeadLetterQueue(dlqs, target);
        const messages = await peekMessages(sqs, dlq, max ?? 10);
        print({ queue: dlq.name, messages }, messages.length === 0 ? `${dlq.name}: empty` : messages.map(describe).join('\n\n'));
        return 0;
      }
      case 'redrive': {
        if (!target) throw new UsageError('dlq redrive needs a queue');
        const dlq = pickDeadLetterQueue(dlqs, target);
        const moved = await redriveMessages(sqs, dlq, queues, max, progress(values.quiet === true || values.json === true));
        print(
          { queue: dlq.name, ...moved },
          `${moved.moved} message(s) sent back from ${dlq.name}${moved.skipped ? `, ${moved.skipped} left (no destination: ${moved.reasons.join('; ')})` : ''}`,
        );
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

function describe(m: ShownMessage): string {
  const why = m.parked
    ? `parked by ${m.parked.function ?? '?'} at ${m.parked.parkedAt ?? '?'}: ${m.parked.error ?? ''}: ${m.parked.reason ?? ''}${m.parked.runUid ? ` (run ${m.parked.runUid})` : ''}`
    : m.attributes?.ERROR_MESSAGE
      ? `not delivered by the bus: ${m.attributes.ERROR_MESSAGE}`
      : "failed after the queue's maxReceiveCount deliveries (see the function's log)";
  return `${m.messageId}  ${m.detailType ?? '(not an event)'}  sent ${m.sentAt ?? '?'}\n  ${why}\n  ${m.body.length > 400 ? `${m.body.slice(0, 400)}…` : m.body}`;
}
