import { Command } from 'commander';

/** A connection to deployed stores that a subcommand opens when it needs them. */
export interface Connection {
  close(): Promise<void>;
}

/** Runs `use` on a fresh connection and always closes it. */
export async function withConnection<C extends Connection, T>(connect: () => Promise<C>, use: (connection: C) => Promise<T>): Promise<T> {
  const connection = await connect();
  try {
    return await use(connection);
  } finally {
    await connection.close();
  }
}

/** Writes through the command's output configuration (tests capture it), else to the process' stream. */
export function write(cmd: Command, stream: 'out' | 'err', text: string): void {
  const output = cmd.configureOutput();
  const writer = stream === 'out' ? output.writeOut : output.writeErr;
  if (writer) writer(text);
  else (stream === 'out' ? process.stdout : process.stderr).write(text);
}

/** A command whose subcommands do the work, each inheriting its output and exit settings (tests capture them). */
export function commandGroup(name: string, description: string): Command {
  return new Command(name).description(description).hook('preSubcommand', (parent, sub) => {
    sub.copyInheritedSettings(parent);
  });
}
