/**
 * Plays the Lambda service locally for the SQS event source mappings of the provisioned
 * templates: long-polls each queue, builds a real SQSEvent, invokes the function's handler module
 * (the .ts entry, through tsx) with a Lambda-like context, deletes what succeeded, leaves
 * `batchItemFailures` (or the whole batch, when the handler throws or times out) for redelivery,
 * and moves a message to the DLQ once its receive count passes maxReceiveCount if the emulator
 * does not do it itself.
 */
import { createHash } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { loadHandlerModule, type SqsHandler } from './handler-module.js';
import {
  batchItemFailures,
  buildLambdaContext,
  buildSqsEvent,
  completeEventBridgeEnvelope,
  functionEnvironment,
  rateMilliseconds,
  scheduledEvent,
} from './lambda-invocation.js';
import type { LocalFunction, ProvisionedSchedule } from './provision.js';
import type { FunctionStats, LocalLambdaRunnerOptions, RunnerLogEntry } from './runner-options.js';
import { queueDepthsOf, redriveExhausted, releaseMessages, type ActiveMapping } from './sqs-queue-ops.js';

export { HandlerLoadError, type SqsHandler } from './handler-module.js';
export {
  batchItemFailures,
  buildLambdaContext,
  buildSqsEvent,
  completeEventBridgeEnvelope,
  functionEnvironment,
  rateMilliseconds,
} from './lambda-invocation.js';
export type { FunctionStats, LocalLambdaRunnerOptions, RunnerLogEntry } from './runner-options.js';

interface ActiveSchedule {
  fn: LocalFunction;
  schedule: ProvisionedSchedule;
  handler?: (event: unknown, context: Context) => unknown;
  timer?: NodeJS.Timeout;
}

function defaultLog(entry: RunnerLogEntry): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LocalLambdaRunner {
  private readonly mappings: ActiveMapping[];
  private readonly schedules: ActiveSchedule[];
  private readonly abort = new AbortController();
  private readonly pollers: Promise<void>[] = [];
  private readonly savedEnv = new Map<string, string | undefined>();
  private inFlight = 0;
  private started = false;
  private stopped = false;
  readonly stats: Record<string, FunctionStats> = {};

  constructor(private readonly options: LocalLambdaRunnerOptions) {
    const { resources } = options;
    const wanted = options.functions ? new Set(options.functions) : undefined;
    const fnByPhysical = new Map(Object.values(resources.functions).map((f) => [f.functionName, f]));
    this.mappings = resources.eventSourceMappings.flatMap((mapping): ActiveMapping[] => {
      const fn = fnByPhysical.get(mapping.functionName);
      if (!fn || !mapping.enabled || (wanted && !wanted.has(fn.name))) return [];
      const queue = resources.queues[mapping.queueLogicalId];
      const dl = queue?.deadLetter;
      return [
        {
          fn,
          mapping,
          deadLetter: dl?.url ? { url: dl.url, maxReceiveCount: dl.maxReceiveCount } : undefined,
          visibilityTimeoutSeconds: queue?.visibilityTimeoutSeconds ?? 30,
        },
      ];
    });
    const fnByArn = new Map(Object.values(resources.functions).map((f) => [f.arn, f]));
    this.schedules = (resources.schedules ?? []).flatMap((schedule): ActiveSchedule[] => {
      const fn = fnByArn.get(schedule.functionArn);
      if (!fn || schedule.state !== 'ENABLED' || (wanted && !wanted.has(fn.name))) return [];
      return [{ fn, schedule }];
    });
    for (const name of wanted ?? []) {
      if (!this.mappings.some((m) => m.fn.name === name) && !this.schedules.some((x) => x.fn.name === name)) {
        throw new Error(`no enabled SQS event source mapping or schedule for function ${name}`);
      }
    }
    for (const m of this.mappings) this.stats[m.fn.name] = { invocations: 0, messages: 0, succeeded: 0, failed: 0, redriven: 0, errors: 0 };
  }

  /** Names of the functions this runner plays. */
  get functionNames(): string[] {
    return [...new Set([...this.mappings.map((m) => m.fn.name), ...this.schedules.map((x) => x.fn.name)])];
  }

  /** Names of the scheduled functions (played on their rate unless `schedules: 'on-demand'`). */
  get scheduledFunctionNames(): string[] {
    return this.schedules.map((x) => x.fn.name);
  }

  /**
   * Invokes a scheduled function now with the Scheduled Event EventBridge would send, and returns
   * what its handler returned (the run-watchdog's report).
   */
  async invokeScheduled(name: string): Promise<unknown> {
    const x = this.schedules.find((s) => s.fn.name === name);
    if (!x) throw new Error(`no schedule targets function ${name}`);
    x.handler ??= (await this.loadHandler(x.fn)) as unknown as ActiveSchedule['handler'];
    const { region, accountId } = this.options.resources;
    const started = Date.now();
    const context = buildLambdaContext(x.fn, region, started + x.fn.timeoutSeconds * 1000);
    const event = scheduledEvent(region, accountId, x.schedule.ruleName);
    this.applyEnvironment(x.fn);
    this.inFlight++;
    try {
      const result = await x.handler!(event, context);
      this.log({
        level: 'INFO',
        message: 'scheduled invocation',
        function: x.fn.name,
        functionName: x.fn.functionName,
        requestId: context.awsRequestId,
        outcome: 'success',
        durationMs: Date.now() - started,
      });
      return result;
    } catch (e) {
      this.log({
        level: 'ERROR',
        message: 'scheduled invocation',
        function: x.fn.name,
        functionName: x.fn.functionName,
        requestId: context.awsRequestId,
        outcome: 'error',
        error: errorText(e),
        durationMs: Date.now() - started,
      });
      throw e;
    } finally {
      this.inFlight--;
    }
  }

  private log(entry: Omit<RunnerLogEntry, 'timestamp'>): void {
    // Key order of the Powertools logger the functions use: level, message, timestamp, then the rest.
    const { level, message, ...rest } = entry;
    (this.options.log ?? defaultLog)({ level, message, timestamp: new Date().toISOString(), ...rest } as RunnerLogEntry);
  }

  private environmentFor(fn: LocalFunction): Record<string, string> {
    return functionEnvironment(fn, this.options.resources.region, this.options.awsEndpoint, this.options.environment);
  }

  /**
   * process.env is one per process: the function's variables are set before its module is imported
   * (handlers read their configuration once, at import) and again before each invocation.
   */
  private applyEnvironment(fn: LocalFunction): void {
    for (const [k, v] of Object.entries(this.environmentFor(fn))) {
      if (!this.savedEnv.has(k)) this.savedEnv.set(k, process.env[k]);
      process.env[k] = v;
    }
  }

  private loadHandler(fn: LocalFunction): Promise<SqsHandler> {
    return loadHandlerModule(fn, this.options.handlers?.[fn.name], () => this.applyEnvironment(fn));
  }

  /** Loads every handler module (one at a time, each under its own environment) and starts polling. */
  async start(): Promise<this> {
    if (this.started) return this;
    this.started = true;
    for (const m of this.mappings) m.handler = await this.loadHandler(m.fn);
    const pollers = Math.max(1, this.options.pollersPerMapping ?? 1);
    for (const m of this.mappings) {
      for (let i = 0; i < pollers; i++) this.pollers.push(this.poll(m));
    }
    if ((this.options.schedules ?? 'rate') === 'rate') {
      for (const x of this.schedules) {
        const every = rateMilliseconds(x.schedule.scheduleExpression);
        if (every === undefined) {
          this.log({
            level: 'WARN',
            message: 'schedule not played locally (only rate() is): invoke it on demand',
            function: x.fn.name,
            scheduleExpression: x.schedule.scheduleExpression,
          });
          continue;
        }
        x.timer = setInterval(() => {
          this.invokeScheduled(x.fn.name).catch(() => undefined);
        }, every);
        x.timer.unref();
      }
    }
    return this;
  }

  private async poll(m: ActiveMapping): Promise<void> {
    const { sqs } = this.options;
    while (!this.stopped) {
      let messages: Message[];
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: m.mapping.queueUrl,
            MaxNumberOfMessages: Math.min(10, Math.max(1, m.mapping.batchSize)),
            WaitTimeSeconds: this.options.waitTimeSeconds ?? 1,
            AttributeNames: ['All'],
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = out.Messages ?? [];
      } catch (e) {
        if (this.stopped) return;
        this.log({ level: 'ERROR', message: 'receive failed', function: m.fn.name, error: errorText(e) });
        await sleep(500);
        continue;
      }
      if (messages.length === 0) continue;
      if (this.stopped) {
        // Received while stopping: hand them back at once instead of hiding them for the queue's visibility timeout.
        await this.release(m, messages);
        return;
      }
      this.inFlight++;
      try {
        await this.handleBatch(m, messages);
      } catch (e) {
        this.log({ level: 'ERROR', message: 'runner error', function: m.fn.name, error: errorText(e) });
      } finally {
        this.inFlight--;
      }
    }
  }

  private release(m: ActiveMapping, messages: Message[], visibilityTimeout = 0): Promise<void> {
    return releaseMessages(this.options.sqs, m, messages, visibilityTimeout);
  }

  private redriveExhausted(m: ActiveMapping, messages: Message[]): Promise<Message[]> {
    return redriveExhausted(this.options.sqs, m, messages, this.stats[m.fn.name], (entry) => this.log(entry));
  }

  private async handleBatch(m: ActiveMapping, received: Message[]): Promise<void> {
    const messages = await this.redriveExhausted(m, received);
    if (messages.length === 0) return;
    const { region } = this.options.resources;
    const event = buildSqsEvent(messages, m.mapping.queueArn, region);
    if (this.options.completeEventBridgeEnvelopes !== false) {
      for (const record of event.Records) {
        const completed = completeEventBridgeEnvelope(record.body, this.options.resources.accountId);
        if (completed !== undefined) {
          record.body = completed;
          record.md5OfBody = createHash('md5').update(completed).digest('hex');
        }
      }
    }
    const started = Date.now();
    const timeoutMs = m.fn.timeoutSeconds * 1000;
    const context = buildLambdaContext(m.fn, region, started + timeoutMs);
    const stats = this.stats[m.fn.name] ?? { invocations: 0, messages: 0, succeeded: 0, failed: 0, redriven: 0, errors: 0 };
    stats.invocations++;
    stats.messages += messages.length;

    this.applyEnvironment(m.fn);
    let failedIds: Set<string>;
    let outcome: 'success' | 'partial' | 'error' | 'timeout';
    let error: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const handler = m.handler;
      if (!handler) throw new Error('handler not loaded');
      const invocation = Promise.resolve(handler(event, context));
      const response =
        this.options.enforceTimeout === false
          ? await invocation
          : await Promise.race([
              invocation,
              new Promise<never>((_, reject) => {
                timer = setTimeout(
                  () =>
                    reject(Object.assign(new Error(`Task timed out after ${m.fn.timeoutSeconds}.00 seconds`), { name: 'TimeoutError' })),
                  timeoutMs,
                );
              }),
            ]);
      failedIds = batchItemFailures(m.mapping.reportBatchItemFailures, response, messages);
      outcome = failedIds.size === 0 ? 'success' : 'partial';
    } catch (e) {
      failedIds = new Set(messages.map((x) => x.MessageId ?? ''));
      outcome = e instanceof Error && e.name === 'TimeoutError' ? 'timeout' : 'error';
      error = errorText(e);
      stats.errors++;
    } finally {
      clearTimeout(timer);
    }

    const succeeded = messages.filter((x) => !failedIds.has(x.MessageId ?? ''));
    const failed = messages.filter((x) => failedIds.has(x.MessageId ?? ''));
    stats.succeeded += succeeded.length;
    stats.failed += failed.length;
    if (succeeded.length) {
      const out = await this.options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: m.mapping.queueUrl,
          Entries: succeeded.map((x, i) => ({ Id: String(i), ReceiptHandle: x.ReceiptHandle })),
        }),
      );
      if (out.Failed?.length) this.log({ level: 'ERROR', message: 'delete failed', function: m.fn.name, failed: out.Failed });
    }
    const retry = this.options.retryVisibilityTimeoutSeconds ?? 1;
    if (failed.length && retry !== 'queue') await this.release(m, failed, retry);
    this.log({
      level: outcome === 'success' ? 'INFO' : 'WARN',
      message: 'lambda invocation',
      function: m.fn.name,
      functionName: m.fn.functionName,
      requestId: context.awsRequestId,
      batchSize: messages.length,
      failures: failed.length,
      outcome,
      durationMs: Date.now() - started,
      ...(error ? { error } : {}),
      ...(failed.length
        ? {
            failedMessageIds: failed.map((x) => x.MessageId),
            receiveCounts: failed.map((x) => Number(x.Attributes?.ApproximateReceiveCount ?? 1)),
          }
        : {}),
    });
  }
  /**
   * Resolves when nothing is left to do: no invocation running and every mapped queue empty
   * (visible, in flight and delayed), seen twice in a row. Rejects after `timeoutMs`.
   */
  async waitForIdle(options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    const interval = options.intervalMs ?? 100;
    const queueUrls = [...new Set(this.mappings.map((m) => m.mapping.queueUrl))];
    let quiet = 0;
    while (quiet < 2) {
      if (Date.now() > deadline)
        throw new Error(`runner not idle after ${options.timeoutMs ?? 30_000} ms: ${JSON.stringify(await this.queueDepths())}`);
      const depths = this.inFlight > 0 ? undefined : await this.queueDepths(queueUrls);
      const empty = depths !== undefined && this.inFlight === 0 && Object.values(depths).every((d) => d === 0);
      quiet = empty ? quiet + 1 : 0;
      if (quiet < 2) await sleep(interval);
    }
  }

  /** Alias of waitForIdle(). */
  idle(options?: { timeoutMs?: number; intervalMs?: number }): Promise<void> {
    return this.waitForIdle(options);
  }

  /** Messages per mapped queue (visible + in flight + delayed). */
  async queueDepths(queueUrls = [...new Set(this.mappings.map((m) => m.mapping.queueUrl))]): Promise<Record<string, number>> {
    return queueDepthsOf(this.options.sqs, queueUrls);
  }

  /**
   * Stops polling, waits for running invocations, and restores process.env. A long poll in
   * progress is let finish (at most waitTimeSeconds) and whatever it receives is made visible
   * again: aborting it client-side would leave the server to hand the next messages to a caller
   * that is gone, hiding them for the queue's visibility timeout. `{ abort: true }` stops at once.
   */
  async stop(options: { abort?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const x of this.schedules) clearInterval(x.timer);
    if (options.abort) this.abort.abort();
    await Promise.allSettled(this.pollers);
    for (const [k, v] of this.savedEnv) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    this.savedEnv.clear();
  }
}

/** Creates and starts a runner. */
export async function startLocalLambdaRunner(options: LocalLambdaRunnerOptions): Promise<LocalLambdaRunner> {
  return new LocalLambdaRunner(options).start();
}
