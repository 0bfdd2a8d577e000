/**
 * The bridge's errors. Every error it raises on purpose is a BridgeError (itself an ArchiveError,
 * so the context a person needs travels with it). Two kinds matter to the followers:
 *
 * - `RunFailure`: the run cannot be archived; the follower ends it with a `Run Failed` event whose
 *   reason and errors are this error's.
 * - `Interrupted`: the bridge is stopping; the work is left where the checkpoint says, nothing is
 *   failed. (Once two classes, `Interrupted` in the scan follower and `Stopping` in the Bluesky one.)
 */
import type { RunError } from '../src/core/contract/generated-types.js';
import { ArchiveError, type ErrorContext } from '../src/core/errors.js';
import { bridgeSourceOf } from '../src/core/access/edge-source.js';

/** Base class of the errors the bridge raises on purpose. */
export class BridgeError extends ArchiveError {
  override name = 'BridgeError';
}

/** A failure that ends the run with a `Run Failed` event (`reason`, `errors`). */
export class RunFailure extends BridgeError {
  override name = 'RunFailure';
  constructor(
    readonly reason: string,
    readonly errors: RunError[],
    options?: ErrorOptions,
    context?: ErrorContext,
  ) {
    super(
      `${reason}: ${errors.map((e) => e.message).join('; ')}`,
      context ?? (errors[0]?.stream ? { stream: errors[0].stream } : {}),
      options,
    );
  }
}

/** The bus refused documents for good (they are in the dead-letter file); the run fails. */
export class RefusedByBus extends RunFailure {
  override name = 'RefusedByBus';
}

/** The bridge is stopping: leave the work where the checkpoint says, no Run Failed. */
export class Interrupted extends BridgeError {
  override name = 'Interrupted';
  constructor(message = 'the bridge is stopping') {
    super(message);
  }
}

/** The checkpoint file cannot be used as it stands (named, never silently reset). */
export class CheckpointError extends BridgeError {
  override name = 'CheckpointError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, {}, options);
  }
}

/** A run error (stream, index, message) from any error, with the context it carries. */
export function runErrorOf(error: unknown): RunError {
  const context = error instanceof ArchiveError ? error.context : {};
  return {
    message: error instanceof Error ? error.message : String(error),
    ...(typeof context.stream === 'string' ? { stream: context.stream } : {}),
    ...(Number.isSafeInteger(context.index) && (context.index as number) >= 0 ? { index: context.index as number } : {}),
  };
}

/**
 * The bus source of this bridge, `beamline-archive.bridge.<beamline>` (docs/access.md, "The edge"):
 * the bridge does not start without a beamline name its IAM role can be conditioned on.
 */
export function edgeSourceOf(beamline: string | undefined): string {
  try {
    return bridgeSourceOf(beamline ?? '');
  } catch (error) {
    throw new BridgeError(`--beamline (BEAMLINE) is required and must be this bridge's beamline: ${(error as Error).message}`);
  }
}
