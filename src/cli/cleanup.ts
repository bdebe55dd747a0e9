/** Exit codes of a process ended by a signal, as shells report them (128 + the signal's number). */
const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

export type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * What a long command holds (child processes, servers, temporary folders), released once in reverse order: when
 * the command ends, when it fails, or when Ctrl-C (SIGINT) or SIGTERM arrives while it runs.
 */
export class Cleanup {
  private readonly steps: (() => Promise<void>)[] = [];
  private running: Promise<void> | null = null;
  private readonly listeners = new Set<(signal: StopSignal) => void>();
  private readonly onSignal = (signal: StopSignal) => {
    for (const listener of this.listeners) listener(signal);
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Adds a release step; steps run last-added first. */
  add(step: () => Promise<void>): void {
    this.steps.unshift(step);
  }

  /** Resolves with the first SIGINT or SIGTERM that arrives from now on. */
  signal(): Promise<StopSignal> {
    return new Promise((resolve) => {
      const listener = (signal: StopSignal) => {
        this.listeners.delete(listener);
        resolve(signal);
      };
      this.listeners.add(listener);
    });
  }

  /** Runs every step once (a failing step does not stop the others) and stops listening for signals. */
  run(): Promise<void> {
    this.running ??= (async () => {
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
      for (const step of this.steps.splice(0)) {
        try {
          await step();
        } catch (error) {
          process.stderr.write(`cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
        }
      }
    })();
    return this.running;
  }

  /** Releases everything, then ends the process as the signal would have. */
  async exitOn(signal: StopSignal): Promise<never> {
    await this.run();
    process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
  }
}
