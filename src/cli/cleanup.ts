/** Exit codes of a process ended by a signal, as shells report them (128 + the signal's number). */
const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143, SIGPIPE: 141 };

/** SIGPIPE stands for a standard output or error whose reader has gone (see `stopWhenReaderLeaves`). */
export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGPIPE';

/** The cleanups not yet run to their end: the reader of the output leaving stops them as a signal would. */
const active = new Set<Cleanup>();

/**
 * Ends the process quietly when the reader of `stream` goes away (`tokenledger analyze … | head`), as SIGPIPE ends
 * other command-line tools, with status 141. Node ignores SIGPIPE, so each later write fails with EPIPE instead,
 * which would crash with a stack trace. A command that holds a `Cleanup` is stopped through it and releases what it
 * holds first.
 */
export function stopWhenReaderLeaves(stream: NodeJS.WritableStream): void {
  let stopping = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    // Every later write fails the same way: the first failure decides.
    if (stopping) return;
    stopping = true;
    const cleanups = [...active];
    for (const cleanup of cleanups) cleanup.stop('SIGPIPE');
    void Promise.all(cleanups.map((cleanup) => cleanup.run())).then(() => process.exit(SIGNAL_EXIT_CODES['SIGPIPE']));
  });
}

/**
 * What a long command holds (child processes, servers, temporary folders), released once in reverse order: when
 * the command ends, when it fails, or when Ctrl-C (SIGINT) or SIGTERM arrives, or the reader of its output leaves
 * (`stopWhenReaderLeaves`), while it runs.
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
    active.add(this);
  }

  /** Acts as if `signal` had arrived. */
  stop(signal: StopSignal): void {
    this.onSignal(signal);
  }

  /**
   * Adds a release step; steps run last-added first. A step added once the release has begun (what an interrupted
   * command took hold of after the signal) runs when the others are done.
   */
  add(step: () => Promise<void>): void {
    if (this.running) this.running = this.running.then(() => this.runStep(step));
    else this.steps.unshift(step);
  }

  /** Resolves with the first SIGINT, SIGTERM or SIGPIPE that arrives from now on. */
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
      for (const step of this.steps.splice(0)) await this.runStep(step);
      // Only now: the reader of the output leaving meanwhile waits for these steps before the process ends.
      active.delete(this);
    })();
    return this.running;
  }

  private async runStep(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      process.stderr.write(`cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }

  /** Releases everything (steps added meanwhile too), then ends the process as the signal would have. */
  async exitOn(signal: StopSignal): Promise<never> {
    for (let done: Promise<void> | null = null; done !== this.run(); ) {
      done = this.run();
      await done;
    }
    process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
  }
}
