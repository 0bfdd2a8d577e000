/** Loads a function's handler module the way the Lambda runtime would (local/runner.ts plays the service). */
import { pathToFileURL } from 'node:url';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { LocalFunction } from './provision.js';

export type SqsHandler = (
  event: SQSEvent,
  context: Context,
) => Promise<SQSBatchResponse | void | undefined> | SQSBatchResponse | void | undefined;

export class HandlerLoadError extends Error {
  override name = 'HandlerLoadError';
  constructor(
    message: string,
    readonly functionName: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * The handler of `fn`: `override` itself when it is a function, else the `handler` export of the
 * `override` module, else the entry's declared export. `beforeImport` runs just before the module
 * is imported (the runner sets the function's environment: handlers read it once, at import).
 */
export async function loadHandlerModule(
  fn: LocalFunction,
  override: string | SqsHandler | undefined,
  beforeImport: () => void,
): Promise<SqsHandler> {
  const m = { fn };
  if (typeof override === 'function') return override;
  const path = override ?? m.fn.entryPath;
  if (!path)
    throw new HandlerLoadError(`function ${m.fn.name} has no entry (Metadata BeamlineArchive:Entry) and no handler override`, m.fn.name);
  beforeImport();
  const url = pathToFileURL(path).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION')
      throw new HandlerLoadError(`cannot import ${path}: ${errorText(e)}`, m.fn.name, { cause: e });
    // Not started with `--import tsx`: load the TypeScript module through tsx's API.
    const { tsImport } = await import('tsx/esm/api');
    mod = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
  const exportName = override ? 'handler' : m.fn.handlerExport;
  const handler = mod[exportName];
  if (typeof handler !== 'function') throw new HandlerLoadError(`${path} does not export a function ${exportName}`, m.fn.name);
  return handler as SqsHandler;
}
