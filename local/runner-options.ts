/** How the local runner (local/runner.ts) is configured, what it logs and what it counts. */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SqsHandler } from './handler-module.js';
import type { ProvisionedResources } from './provision.js';

export interface RunnerLogEntry {
  level: 'INFO' | 'WARN' | 'ERROR';
  message: string;
  timestamp: string;
  function: string;
  [key: string]: unknown;
}

export interface LocalLambdaRunnerOptions {
  resources: Pick<ProvisionedResources, 'functions' | 'eventSourceMappings' | 'queues' | 'region' | 'accountId'> &
    Partial<Pick<ProvisionedResources, 'schedules'>>;
  sqs: SQSClient;
  /** Endpoint the handlers' own AWS clients must use (set as AWS_ENDPOINT_URL for them). */
  awsEndpoint?: string;
  /** Short names of the functions to run; default every function with an enabled mapping. */
  functions?: string[];
  /** Replace a function's handler: a module path (exporting `handler`) or the function itself. */
  handlers?: Record<string, string | SqsHandler>;
  /** Concurrent pollers per mapping (each one invocation at a time). @default 1 */
  pollersPerMapping?: number;
  /** ReceiveMessage long-poll wait. @default 1 */
  waitTimeSeconds?: number;
  /**
   * Visibility timeout (s) given to failed messages so they come back quickly; `'queue'` keeps the
   * queue's own visibility timeout as real Lambda does. @default 1
   */
  retryVisibilityTimeoutSeconds?: number | 'queue';
  /** Fail the batch when the handler runs past the function timeout. @default true */
  enforceTimeout?: boolean;
  /** Where the structured JSON lines go. @default one line on stdout each */
  log?: (entry: RunnerLogEntry) => void;
  /** Add `account` to EventBridge events delivered without it (moto). @default true */
  completeEventBridgeEnvelopes?: boolean;
  /** Extra variables for every function (after the template's environment). */
  environment?: Record<string, string>;
  /**
   * Scheduled functions (EventBridge schedule rules targeting Lambda, e.g. the run-watchdog):
   * `'rate'` invokes them on their `rate(...)` expression, `'on-demand'` only through
   * invokeScheduled() (tests). @default 'rate'
   */
  schedules?: 'rate' | 'on-demand';
}
export interface FunctionStats {
  invocations: number;
  messages: number;
  succeeded: number;
  failed: number;
  /** moved to the DLQ by the runner (the emulator did not redrive) */
  redriven: number;
  errors: number;
}
