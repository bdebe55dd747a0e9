import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { describeIssues, DIRECTORY_KINDS, directoryRowSchema, normalizeIdentityKey, type DirectoryRow } from '../../contracts/directory.js';
import { directoryCsvText, NOT_UTF8_CSV, parseDirectoryCsv, type DirectoryCsvError } from '../../domain/directory-csv.js';
import type { EditableIdentityDirectory } from '../../ports/identity-directory.js';
import { findDirectoryEntry, removeDirectoryEntry, replaceDirectoryEntry } from '../../services/directory-entry.js';
import { importDirectory } from '../../services/import-directory.js';
import { ApiIdentityDirectory, tokenFor, type ApiTarget } from '../directory-client.js';
import { describeFileError, notText } from '../input-files.js';
import { formatTable } from '../table.js';
import { commandGroup, withConnection, write } from './command-io.js';

export interface DirectoryConnection {
  readonly directory: EditableIdentityDirectory;
  close(): Promise<void>;
}

/** Options every subcommand takes to work through a deployment's API instead of the storage account. */
interface TargetOptions {
  readonly api?: string;
  readonly token?: string;
  readonly scope?: string;
}

const TARGET_HELP = `
With --api (or TOKENLEDGER_API), the command works through that deployment's HTTP API, as a caller with the app
role Directory.Write (list also works with Chargeback.ReadAll): the token is --token (or TOKENLEDGER_TOKEN), or one
DefaultAzureCredential acquires for --scope (or TOKENLEDGER_SCOPE), the API's application ID URI followed by
/.default, e.g. after \`az login\`. Without --api, it writes the storage account's table directly
(TOKENLEDGER_TABLES_CONNECTION_STRING, or Tables__endpoint with Entra ID).`;

async function connectToApi(target: ApiTarget): Promise<DirectoryConnection> {
  return { directory: new ApiIdentityDirectory(target.api, await tokenFor(target)), close: async () => {} };
}

function targeting(command: Command): Command {
  return command
    .option('--api <url>', "the deployment's API base URL, e.g. https://<app>.azurewebsites.net (env TOKENLEDGER_API)", process.env['TOKENLEDGER_API'])
    .option('--token <jwt>', 'bearer token with Directory.Write (env TOKENLEDGER_TOKEN)', process.env['TOKENLEDGER_TOKEN'])
    .option('--scope <scope>', "without --token: the API's <application ID URI>/.default, for a token from DefaultAzureCredential (env TOKENLEDGER_SCOPE)", process.env['TOKENLEDGER_SCOPE'])
    .addHelpText('after', TARGET_HELP);
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
export function directoryCommand(connect: () => Promise<DirectoryConnection>, connectApi: (target: ApiTarget) => Promise<DirectoryConnection> = connectToApi): Command {
  const command = commandGroup('directory', 'The identity directory: display name, team and cost center of each identity that reports charge.');
  const open = (options: TargetOptions) => () => (options.api ? connectApi({ api: options.api, ...(options.token ? { token: options.token } : {}), ...(options.scope ? { scope: options.scope } : {}) }) : connect());

  targeting(
    command
      .command('import')
      .description('Import the identity directory from a CSV file (a file with any faulty line imports nothing).')
      .argument('<file>', 'CSV file: identity,displayName,team,costCenter[,kind]')
      .addHelpText('after', FILE_HELP),
  ).action(async (file: string, options: TargetOptions, cmd: Command) => {
    const text = await readText(file, cmd);
    // Checked before connecting, so a faulty file is reported even when the store is unreachable.
    const checked = parseDirectoryCsv(text);
    if (checked.errors.length > 0) return refuse(cmd, file, checked.errors);
    const result = await withConnection(open(options), ({ directory }) => importDirectory(text, directory));
    if (result.errors.length > 0) return refuse(cmd, file, result.errors);
    write(cmd, 'out', `imported ${result.imported} ${result.imported === 1 ? 'identity' : 'identities'}\n`);
  });

  targeting(
    command
      .command('list')
      .description('Print every identity in the directory, sorted by identity.')
      .addOption(new Option('--format <format>', 'table, or json with each entry\'s etag (for set/remove --if-match)').choices(['table', 'json']).default('table')),
  ).action(async (options: TargetOptions & { format: string }, cmd: Command) => {
    const all = await withConnection(open(options), ({ directory }) => directory.listVersioned());
    const sorted = [...all.values()].sort((a, b) => (a.row.identity < b.row.identity ? -1 : a.row.identity > b.row.identity ? 1 : 0));
    if (options.format === 'json') {
      write(cmd, 'out', JSON.stringify(sorted.map(({ row, etag }) => ({ ...row, etag })), null, 2) + '\n');
      return;
    }
    if (sorted.length === 0) {
      write(cmd, 'out', 'the directory is empty\n');
      return;
    }
    const rows = sorted.map(({ row: r }) => [r.identity, r.displayName, r.team, r.costCenter, r.kind ?? '']);
    write(cmd, 'out', formatTable(['identity', 'displayName', 'team', 'costCenter', 'kind'], rows) + '\n');
  });

  targeting(
    command
      .command('set')
      .description('Add one identity, or change the fields given of one (the others are kept); the same checks as the import.')
      .argument('<identity>', 'report key: the object (principal) id of a user, service principal or managed identity, an application id only for callers whose tokens carry no object id, or an APIM subscription id')
      .option('--display-name <name>', 'display name')
      .option('--team <team>', 'team charged')
      .option('--cost-center <code>', 'cost center charged')
      .addOption(new Option('--kind <kind>', 'identity kind').choices([...DIRECTORY_KINDS]))
      .option('--no-kind', 'clear the kind')
      .option('--if-match <etag>', 'change the entry only if it is still at this etag (from list --format json)'),
  ).action(async (identity: string, options: TargetOptions & { displayName?: string; team?: string; costCenter?: string; kind?: string | false; ifMatch?: string }, cmd: Command) => {
    const key = normalizeIdentityKey(identity);
    const outcome = await withConnection(open(options), async ({ directory }) => {
      const current = await findDirectoryEntry(directory, identity);
      const given: Partial<DirectoryRow> = {
        ...(options.displayName !== undefined ? { displayName: options.displayName } : {}),
        ...(options.team !== undefined ? { team: options.team } : {}),
        ...(options.costCenter !== undefined ? { costCenter: options.costCenter } : {}),
      };
      const { kind: currentKind, ...kept } = current?.row ?? {};
      const kind = options.kind === false ? undefined : (options.kind ?? currentKind);
      const parsed = directoryRowSchema.safeParse({ ...kept, ...given, identity, ...(kind === undefined ? {} : { kind }) });
      if (!parsed.success) {
        const missing = current === null ? ` (${key} is not in the directory yet: give --display-name, --team and --cost-center)` : '';
        return failed(cmd, `invalid entry: ${describeIssues(parsed.error)}${missing}`, 'tokenledger.directory.invalidEntry');
      }
      // The entry read is the version changed: an edit made meanwhile is refused, never overwritten.
      const ifMatch = options.ifMatch ?? current?.etag;
      return ifMatch === undefined ? directory.create(parsed.data) : replaceDirectoryEntry(directory, identity, parsed.data, { ifMatch });
    });
    if (outcome.outcome === 'written') return write(cmd, 'out', `${outcome.created ? 'added' : 'changed'} ${key} (etag ${outcome.etag})\n`);
    return failed(cmd, `${key} changed while it was being set (${outcome.outcome === 'exists' ? 'someone added it' : 'its etag no longer matches'}): list it and try again`, 'tokenledger.directory.conflict');
  });

  targeting(
    command
      .command('remove')
      .description('Remove one identity from the directory.')
      .argument('<identity>', 'report key: the object (principal) id of a user, service principal or managed identity, an application id only for callers whose tokens carry no object id, or an APIM subscription id')
      .option('--if-match <etag>', 'remove the entry only if it is still at this etag (from list --format json)'),
  ).action(async (identity: string, options: TargetOptions & { ifMatch?: string }, cmd: Command) => {
    const key = normalizeIdentityKey(identity);
    const removeOptions = options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch };
    const outcome = await withConnection(open(options), ({ directory }) => removeDirectoryEntry(directory, identity, removeOptions));
    if (outcome.outcome === 'deleted') return write(cmd, 'out', `removed ${key}\n`);
    if (outcome.outcome === 'absent') return failed(cmd, `${key} is not in the directory`, 'tokenledger.directory.notFound');
    return failed(cmd, `${key} changed since etag ${options.ifMatch}: list it and try again`, 'tokenledger.directory.conflict');
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
  const text = directoryCsvText(bytes);
  if (text !== null) return text;
  const other = notText(bytes);
  return failed(cmd, other ? `${file} is ${other.is}: ${other.fix}` : `${file} ${NOT_UTF8_CSV}`, 'tokenledger.directory.unreadableFile');
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

