import cliProgress from 'cli-progress';
import { terminalSafe } from './terminal-text.js';

export interface Progress {
  step(label: string): void;
  bar(label: string, total: number): { increment(by?: number): void; stop(): void };
}

/** Progress on stderr: bars on a terminal, one line per step elsewhere (CI logs, pipes). */
export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = Boolean(stream.isTTY) && !process.env['CI'];
  const started = Date.now();
  const elapsed = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s]`;
  return {
    step: (label) => stream.write(`${elapsed()} ${terminalSafe(label)}\n`),
    bar: (unsafeLabel, total) => {
      const label = terminalSafe(unsafeLabel);
      if (!tty) {
        stream.write(`${elapsed()} ${label} (${total.toLocaleString('en-US')})…\n`);
        return { increment: () => {}, stop: () => stream.write(`${elapsed()} done\n`) };
      }
      const bar = new cliProgress.SingleBar(
        { format: `  ${label} [{bar}] {percentage}% {value}/{total} {duration_formatted}`, stream, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
      return { increment: (by = 1) => bar.increment(by), stop: () => bar.stop() };
    },
  };
}
