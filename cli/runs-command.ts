/**
 * `beamline-archive runs …`: the runs that need a person (FAILED, STALLED, still RECORDING), what
 * each holds and lacks, and asking for one to be archived again (docs/operations.md).
 */
import { DynamoDbRunCatalogue } from '../src/adapters/dynamodb-run-catalogue.js';
import { sendToQueue } from '../src/adapters/sqs-queue-operations.js';
import { RunState, type RunRecord, type RunSummary } from '../src/core/archive/ports.js';
import { missingParts } from '../src/core/archive/run-watchdog.js';
import { DetailType } from '../src/core/contract/detail-types.js';
import { bridgeSourceOf } from '../src/core/access/edge-source.js';
import type { RunStop, StreamDatum, StreamResource } from '../src/core/contract/generated-types.js';
import { parseCommandLine, UsageError } from './cli-support.js';
import { clientsFromEnv, DEFAULT_QUEUE_PREFIX, listQueues, tableName } from './operations-support.js';

export const HELP = `Usage: beamline-archive runs <command> [arguments] [options]

Runs end ARCHIVED, FAILED (with a reason) or STALLED (found by the watchdog, with what is missing).

Commands:
  list --state failed|stalled|recording|archived [--limit N]
                      the runs in that state, oldest first: uid, scan, since, reason
  show <uid>          the run record (state, reason, file), its documents by kind, its chunks by
                      channel (points staged / sealed) and what is missing
  retry <uid>         archive a FAILED or STALLED run again: its recorded RunStop is sent to the
                      scan-writer's queue and the run is RECORDING again (the watchdog counts anew).
                      Fix the cause first (docs/operations.md); a run without RunStop cannot be retried here.

Options:
  --table NAME        the catalogue table (BEAMLINE_ARCHIVE_TABLE; the TableName output of the storage stack)
  --queue-prefix P    names of the archive's queues start with P (retry; BEAMLINE_ARCHIVE_QUEUE_PREFIX,
                      default ${DEFAULT_QUEUE_PREFIX})
  --json              JSON on stdout (default: text)
  -h, --help          this help

Credentials and region come from the AWS environment (AWS_REGION, AWS_PROFILE ...): operators act
directly on the catalogue (dynamodb:Query on index gsi4, GetItem, UpdateItem) and the queues.

Examples:
  beamline-archive runs list --state failed
  beamline-archive runs show 01JD3Q5W9K7Z3X2C8M4N6P0R1S --json
  beamline-archive runs retry 01JD3Q5W9K7Z3X2C8M4N6P0R1S
`;

const STATES: Record<string, RunState> = {
  failed: RunState.Failed,
  stalled: RunState.Stalled,
  recording: RunState.Recording,
  archived: RunState.Archived,
};

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const cli = parseCommandLine(
    'runs',
    argv,
    {
      state: { type: 'string' },
      limit: { type: 'string' },
      table: { type: 'string' },
      'queue-prefix': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  if ('exit' in cli) return cli.exit;
  const { command, values } = cli;
  const [uid] = cli.args;
  const print = (json: unknown, text: string) => process.stdout.write(values.json ? `${JSON.stringify(json, null, 2)}\n` : `${text}\n`);
  try {
    const clients = clientsFromEnv(env);
    const catalogue = new DynamoDbRunCatalogue(clients.dynamo, tableName(values.table, env));
    switch (command) {
      case 'list': {
        const state = STATES[String(values.state ?? '').toLowerCase()];
        if (!state) throw new UsageError(`runs list needs --state ${Object.keys(STATES).join('|')}`);
        const limit = values.limit === undefined ? undefined : Number(values.limit);
        if (limit !== undefined && !(Number.isInteger(limit) && limit > 0))
          throw new UsageError(`--limit must be a positive whole number, got ${JSON.stringify(values.limit)}`);
        const runs = await catalogue.listRunsByState(state, limit !== undefined ? { limit } : {});
        print(runs, runs.length === 0 ? `no ${state} runs` : runs.map(line).join('\n'));
        return 0;
      }
      case 'show': {
        if (!uid) throw new UsageError('runs show needs a run uid');
        const run = await catalogue.getRun(uid);
        if (!run) {
          process.stderr.write(`beamline-archive runs: run ${uid} is not in the catalogue\n`);
          return 1;
        }
        const view = await runView(run, await catalogue.listDocuments(uid));
        print(view, showText(view));
        return 0;
      }
      case 'retry': {
        if (!uid) throw new UsageError('runs retry needs a run uid');
        const run = await catalogue.getRun(uid);
        if (!run) throw new Error(`run ${uid} is not in the catalogue`);
        if (run.state !== RunState.Failed && run.state !== RunState.Stalled)
          throw new Error(`run ${uid} is ${run.state ?? 'without a state'}: only FAILED and STALLED runs are retried`);
        const stop = (await catalogue.listDocuments(uid)).find((d) => d.detailType === DetailType.RunStop)?.body as RunStop | undefined;
        if (!stop)
          throw new Error(
            `run ${uid} has no RunStop recorded: the bridge never finished it; restart the bridge on its checkpoint or republish the scan (docs/operations.md, "Run STALLED without RunStop")`,
          );
        const queues = await listQueues(clients.sqs, values['queue-prefix'] ?? env.BEAMLINE_ARCHIVE_QUEUE_PREFIX ?? DEFAULT_QUEUE_PREFIX);
        const writerQueue = queues.find((q) => /scan-?writer/i.test(q.name) && q.deadLetterArn !== undefined);
        if (!writerQueue)
          throw new Error(
            `the scan-writer's queue is not among ${queues.map((q) => q.name).join(', ') || 'no queues'} (check --queue-prefix)`,
          );
        const at = new Date().toISOString();
        if ((await catalogue.runRetried(uid, at)) === 'not-ended')
          throw new Error(`run ${uid} changed state meanwhile; look again with runs show`);
        // The event as the bus rule delivers it (the scan-writer validates it like any other), from the
        // source of the run's own beamline's bridge, the only one the scan-writer accepts for it.
        if (!run.dataPolicy) throw new Error(`run ${uid} has no data policy recorded (no RunStart): the scan-writer cannot archive it`);
        const event = {
          version: '0',
          id: `retry-${uid}-${Date.parse(at)}`,
          'detail-type': DetailType.RunStop,
          source: bridgeSourceOf(run.dataPolicy.beamline),
          time: at.replace(/\.\d{3}Z$/, 'Z'),
          region: env.AWS_REGION ?? 'eu-west-1',
          resources: [],
          detail: stop,
        };
        await sendToQueue(clients.sqs, writerQueue.url, JSON.stringify(event));
        print(
          { runUid: uid, previous: run.state, state: RunState.Recording, retriedAt: at, queue: writerQueue.name },
          `run ${uid}: ${run.state} → RECORDING; its RunStop is on ${writerQueue.name} (beamline-archive runs show ${uid} to follow it)`,
        );
        return 0;
      }
      default:
        throw new UsageError(`unknown runs command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    process.stderr.write(`beamline-archive runs: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

function line(r: RunSummary): string {
  const scan = r.scanId !== undefined ? `scan ${r.scanId}` : 'scan ?';
  const where = r.dataPolicy
    ? ` ${r.dataPolicy.proposal}/${r.dataPolicy.beamline}/${r.dataPolicy.session}/${r.dataPolicy.collection}/${r.dataPolicy.dataset}`
    : '';
  return `${r.runUid}  ${r.state.padEnd(9)} since ${r.since}  ${scan}${where}${r.title ? ` "${r.title}"` : ''}${r.stopped ? '' : ' (no RunStop)'}${r.reason ? `\n    ${r.reason}` : ''}`;
}

interface RunView {
  run: RunRecord;
  documents: Record<string, number>;
  chunks: { channel: string; datums: number; pointsStaged: number; pointsSealed?: number | undefined }[];
  missing: { kind: string; message: string }[];
}

async function runView(run: RunRecord, documents: Awaited<ReturnType<DynamoDbRunCatalogue['listDocuments']>>): Promise<RunView> {
  const counts: Record<string, number> = {};
  for (const d of documents) counts[d.detailType] = (counts[d.detailType] ?? 0) + 1;
  const resources = documents.filter((d) => d.detailType === DetailType.StreamResource).map((d) => d.body as StreamResource);
  const datums = documents.filter((d) => d.detailType === DetailType.StreamDatum).map((d) => d.body as StreamDatum);
  const channelOf = new Map(resources.map((r) => [r.uid, r.data_key]));
  const chunks = new Map<string, { datums: number; points: number }>();
  for (const d of datums) {
    const channel = channelOf.get(d.stream_resource) ?? `? (${d.stream_resource})`;
    const c = chunks.get(channel) ?? { datums: 0, points: 0 };
    c.datums++;
    c.points += d.indices.stop - d.indices.start;
    chunks.set(channel, c);
  }
  const ended = run.state === RunState.Archived;
  return {
    run,
    documents: counts,
    chunks: [...new Set([...chunks.keys(), ...resources.map((r) => r.data_key)])].sort().map((channel) => ({
      channel,
      datums: chunks.get(channel)?.datums ?? 0,
      pointsStaged: chunks.get(channel)?.points ?? 0,
      pointsSealed: run.sealedPoints?.[channel],
    })),
    missing: ended ? [] : missingParts(documents).missing.map((m) => ({ kind: m.kind, message: m.message })),
  };
}

function showText(v: RunView): string {
  const r = v.run;
  const lines = [
    `run ${r.runUid}: ${r.state ?? '(no state)'}`,
    ...(r.title || r.scanId !== undefined
      ? [`  scan ${r.scanId ?? '?'} ${r.title ? `"${r.title}"` : ''}${r.scanKey ? ` (${r.scanKey})` : ''}`]
      : []),
    ...(r.dataPolicy
      ? [
          `  dataset ${r.dataPolicy.proposal}/${r.dataPolicy.beamline}/${r.dataPolicy.session}/${r.dataPolicy.collection}/${r.dataPolicy.dataset}`,
        ]
      : []),
    ...(r.startTime ? [`  started ${r.startTime}${r.endTime ? `, ended ${r.endTime} (${r.endReason ?? '?'})` : ', no RunStop'}`] : []),
    ...(r.file ? [`  file s3://${r.file.bucket}/${r.file.key} (${r.file.bytes} bytes, sha256 ${r.file.sha256})`] : []),
    ...(r.failure
      ? [
          `  FAILED at ${r.failure.stage}: ${r.failure.reason}`,
          ...r.failure.errors.slice(0, 10).map((e) => `    - ${e.stream ? `${e.stream}: ` : ''}${e.message}`),
        ]
      : []),
    ...(r.stalled ? [`  STALLED at ${r.stalled.stalled_at}: ${r.stalled.reason}`] : []),
    ...(r.refusedChannels?.length ? ['  refused channels:', ...r.refusedChannels.map((c) => `    - ${c.channel}: ${c.reason}`)] : []),
    `  documents: ${
      Object.entries(v.documents)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none'
    }`,
    '  chunks:',
    ...v.chunks.map(
      (c) =>
        `    ${c.channel}: ${c.datums} chunks, ${c.pointsStaged} points staged${c.pointsSealed !== undefined ? ` of ${c.pointsSealed} sealed` : ''}`,
    ),
    ...(v.missing.length ? ['  missing:', ...v.missing.map((m) => `    - ${m.message}`)] : []),
  ];
  return lines.join('\n');
}
