import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { DIRECTORY_KINDS } from '../../contracts/directory.js';
import { parseDirectoryCsv, type DirectoryCsvError } from '../../domain/directory-csv.js';
import type { IdentityDirectory } from '../../ports/identity-directory.js';
import { importDirectory } from '../../services/import-directory.js';
import { describeFileError } from '../input-files.js';
import { formatTable } from '../table.js';
import { withConnection, write } from './command-io.js';

export interface DirectoryConnection {
  readonly directory: IdentityDirectory;
  close(): Promise<void>;
}

const FILE_HELP = `
The file is CSV (RFC 4180, UTF-8) with the header identity,displayName,team,costCenter and optionally ,kind
(${DIRECTORY_KINDS.join(', ')}). GUIDs are stored lower-cased. If any line has an error, nothing is imported
and every error is printed with its line number; fix the file and import it again. Identities the file no longer
lists are kept.`;

/**
 * `directory import <file>` and `directory list`. `connect` is called only when the store is needed (a file with
 * errors is refused before connecting), and the connection is always closed. Output goes through the command's
 * output configuration; the subcommands inherit the `directory` command's settings (output, exit override) when
 * they run.
 */
export function directoryCommand(connect: () => Promise<DirectoryConnection>): Command {
  const command = new Command('directory')
    .description('The identity directory: display name, team and cost center of each identity that reports charge.')
    .hook('preSubcommand', (parent, sub) => {
      sub.copyInheritedSettings(parent);
    });

  command
    .command('import')
    .description('Import the identity directory from a CSV file (all or nothing).')
    .argument('<file>', 'CSV file: identity,displayName,team,costCenter[,kind]')
    .addHelpText('after', FILE_HELP)
    .action(async (file: string, _options: unknown, cmd: Command) => {
      const text = await readText(file, cmd);
      // Checked before connecting, so a faulty file is reported even when the store is unreachable.
      const checked = parseDirectoryCsv(text);
      if (checked.errors.length > 0) return refuse(cmd, file, checked.errors);
      const result = await withConnection(connect, ({ directory }) => importDirectory(text, directory));
      if (result.errors.length > 0) return refuse(cmd, file, result.errors);
      write(cmd, 'out', `imported ${result.imported} ${result.imported === 1 ? 'identity' : 'identities'}\n`);
    });

  command
    .command('list')
    .description('Print every identity in the directory, sorted by identity.')
    .action(async (_options: unknown, cmd: Command) => {
      const all = await withConnection(connect, ({ directory }) => directory.getAll());
      if (all.size === 0) {
        write(cmd, 'out', 'the directory is empty\n');
        return;
      }
      const rows = [...all.values()]
        .sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0))
        .map((r) => [r.identity, r.displayName, r.team, r.costCenter, r.kind ?? '']);
      write(cmd, 'out', formatTable(['identity', 'displayName', 'team', 'costCenter', 'kind'], rows) + '\n');
    });

  return command;
}

async function readText(file: string, cmd: Command): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    // Node names no path for EISDIR: the file given is the path in question either way.
    const reason = describeFileError({ ...(error as NodeJS.ErrnoException), path: file }) ?? (error as Error).message;
    return failed(cmd, `cannot read the directory CSV: ${reason}`, 'tokenledger.directory.unreadableFile');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return failed(cmd, `${file} is not UTF-8 text (save it as "CSV UTF-8")`, 'tokenledger.directory.unreadableFile');
  }
}

function refuse(cmd: Command, file: string, errors: readonly DirectoryCsvError[]): never {
  for (const error of errors) write(cmd, 'err', `line ${error.line}: ${error.reason}\n`);
  const count = errors.length === 1 ? '1 error' : `${errors.length} errors`;
  return failed(cmd, `imported nothing: ${count} in ${file}`, 'tokenledger.directory.invalidFile');
}

/** Reports a failure that is not a usage mistake (no help after it) and exits with code 1. */
function failed(cmd: Command, message: string, code: string): never {
  cmd.showHelpAfterError(false);
  cmd.error(message, { exitCode: 1, code });
}

