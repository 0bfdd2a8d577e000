import { Interrupted } from '../errors.js';

/**
 * A follower's stop: once `stop()` is called, reads end and every wait of the staging pipeline
 * (retry backoff, the memory budget) returns at once with `Interrupted`.
 */
export class Stopper {
  stopping = false;
  private wake!: () => void;
  /** Resolves when the follower is asked to stop. */
  readonly signal = new Promise<void>((resolve) => {
    this.wake = resolve;
  });

  stop(): void {
    this.stopping = true;
    this.wake();
  }

  /** Sleeps `ms`, or less when stopped; throws Interrupted once stopping. */
  async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise((r) => {
        timer = setTimeout(r, ms);
      }),
      this.signal,
    ]);
    clearTimeout(timer);
    if (this.stopping) throw new Interrupted();
  }

  throwIfStopping(): void {
    if (this.stopping) throw new Interrupted();
  }
}
