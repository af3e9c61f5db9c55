/**
 * The run loop of a reader of the event log (the stream pump and the webhook dispatchers):
 * it runs when woken, by an announcement, by a fallback timer for announcements lost or made
 * on another node, or by a caller. At most one run is in progress. A wake-up during a run
 * makes the loop run again after it, and stop() waits for the run in progress.
 */
export interface WakeSources {
  /** Starts listening for announcements; returns the function that stops listening. */
  listen(): (() => void) | undefined;
  /** Called at start and on each fallback tick; it wakes the owner (usually via wake()). */
  tick(): void;
}

export class WakeLoop {
  readonly #intervalMs: number;
  readonly #run: () => Promise<void>;
  #stopListening: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  /**
   * @param intervalMs interval of the fallback tick, in milliseconds
   * @param run one run of the owner's work; it logs its own errors and must not reject,
   *   because stop() and settle() wait for it
   */
  constructor(intervalMs: number, run: () => Promise<void>) {
    this.#intervalMs = intervalMs;
    this.#run = run;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Whether a run is in progress. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  start(sources: WakeSources): void {
    this.#stopped = false;
    this.#stopListening = sources.listen();
    this.#timer = setInterval(() => sources.tick(), this.#intervalMs);
    this.#timer.unref();
    sources.tick();
  }

  /** Stops listening and ticking, and waits for the run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopListening?.();
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Runs soon; a call during a run makes the loop run once more afterwards. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#runUntilIdle().finally(() => {
      this.#running = undefined;
      // A wake-up after the last check of #again would otherwise wait for the next tick.
      if (this.#again) this.wake();
    });
  }

  /** Waits until no run is in progress. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #runUntilIdle(): Promise<void> {
    do {
      this.#again = false;
      await this.#run();
    } while (this.#again && !this.#stopped);
  }
}
