/**
 * Runs a background pass again and again: at once while passes find work, and after
 * `pollMs` when one finds none. At most one pass runs at a time, whether the loop or a
 * caller of run() started it, and stop() waits for the pass in progress.
 */
export class PassLoop {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  /**
   * @param pass one pass; returns how many items it handled, 0 when there was nothing to do
   * @param onError logs a failed pass; the loop goes on after `pollMs`
   */
  constructor(
    private readonly pass: () => Promise<number>,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    this.#stopped = false;
    const loop = async (): Promise<void> => {
      if (this.#stopped) return;
      let handled = 0;
      try {
        handled = await this.run();
      } catch (error) {
        this.onError(error);
      }
      if (this.#stopped) return;
      this.#timer = setTimeout(() => void loop(), handled > 0 ? 0 : this.pollMs);
      this.#timer.unref();
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running;
  }

  /** Runs one pass, or joins the one in progress; returns how many items it handled. */
  run(): Promise<number> {
    this.#running ??= this.pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }
}
