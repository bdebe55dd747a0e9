import { Command, InvalidArgumentError, Option } from 'commander';
import type { DeadLetterHeader } from '../../contracts/dead-letter.js';
import { reasonCounts, type ReasonCount } from '../../domain/dead-letter-reasons.js';
import { deadLetterKind, replayDeadLetters, type DeadLetterFilter, type DeadLetterReplayPorts, type DeadLetterReplayResult } from '../../services/replay-dead-letters.js';
import { formatTable } from '../table.js';
import { terminalSafe } from '../terminal-text.js';
import { commandGroup, withConnection, write } from './command-io.js';

export interface DeadLetterConnection {
  readonly ports: DeadLetterReplayPorts;
  close(): Promise<void>;
}

const REPLAY_HELP = `
Every event ingest rejected is kept as a dead letter: its payload (in the Cosmos DB container "deadletters", or
in the Blob container "dead-letters" when too large), where it was received, and why. Fix the cause (a newer
TokenLedger that accepts it), then replay: each payload goes through the same ingest service as the trigger, at
its original position, many payloads per call. A payload now accepted becomes ledger entries (or diagnostic
records) and its dead letter is removed; one rejected again stays, with today's reason. Conflicting duplicates,
entries the ledger refused and records the join rejected are no events: they are skipped. Ledger and dead-letter
ids are deterministic, so replaying twice changes nothing.`;

function reasonText(value: string): string {
  if (value === '') throw new InvalidArgumentError('give the text a reason must contain');
  return value;
}

/** The table's columns, at fixed widths so that rows print as pages arrive; the reason, last, is not padded. */
const COLUMNS: readonly { readonly title: string; readonly width: number; readonly numeric?: true }[] = [
  { title: 'id', width: 32 },
  { title: 'partition', width: 9 },
  { title: 'sequence', width: 12, numeric: true },
  { title: 'offset', width: 14, numeric: true },
  { title: 'enqueued (UTC)', width: 24 },
  { title: 'item', width: 4, numeric: true },
  { title: 'bytes', width: 11, numeric: true },
  { title: 'payload', width: 7 },
  { title: 'reason', width: 0 },
];

function tableLine(cells: readonly string[]): string {
  return cells
    .map((cell, i) => (COLUMNS[i]!.numeric ? cell.padStart(COLUMNS[i]!.width) : cell.padEnd(COLUMNS[i]!.width)))
    .join('  ')
    .trimEnd();
}

const TABLE_HEAD = `${tableLine(COLUMNS.map((c) => c.title))}\n${tableLine(COLUMNS.map((c) => '-'.repeat(Math.max(c.width, c.title.length))))}\n`;

function tableRow(letter: DeadLetterHeader): string {
  const { position } = letter;
  const unknown = (value: string | number | null) => (value === null ? '-' : terminalSafe(String(value)));
  const reason = letter.duplicateOf ? `${letter.reason} (of ledger document ${letter.duplicateOf.id})` : letter.reason;
  return tableLine([
    terminalSafe(letter.id),
    terminalSafe(position.partitionId),
    unknown(position.sequenceNumber),
    unknown(position.offset),
    unknown(position.enqueuedTimeUtc),
    unknown(position.itemIndex),
    letter.raw.bytes.toLocaleString('en-US'),
    letter.raw.blob ? 'blob' : 'inline',
    terminalSafe(reason),
  ]);
}

/** A letter as `list --format json` gives it: where its payload is, and what kind of letter it is (what replay does with it). */
function jsonLetter(letter: DeadLetterHeader): object {
  const { raw } = letter;
  return {
    id: letter.id,
    pk: letter.pk,
    reason: letter.reason,
    kind: deadLetterKind(letter),
    position: letter.position,
    payload: { location: raw.blob ? 'blob' : 'inline', encoding: raw.encoding, bytes: raw.bytes, ...(raw.blob ? { blob: raw.blob } : {}) },
    ...(letter.duplicateOf ? { duplicateOf: letter.duplicateOf } : {}),
  };
}

/** Writes a listing as its pages arrive (one page in memory at a time), then the count per reason. */
interface Listing {
  page(letters: readonly DeadLetterHeader[]): void;
  end(reasons: readonly ReasonCount[], total: number): void;
}

/** `{ "deadLetters": [ … ], "reasons": [ { reason, deadLetters } ], "total": n }`, a letter a line. */
function jsonListing(cmd: Command): Listing {
  let written = 0;
  return {
    page: (letters) => {
      let text = '';
      for (const letter of letters) text += `${written++ === 0 ? '{\n  "deadLetters": [\n' : ',\n'}    ${JSON.stringify(jsonLetter(letter))}`;
      write(cmd, 'out', text);
    },
    end: (reasons, total) => write(cmd, 'out', `${written === 0 ? '{\n  "deadLetters": [' : '\n  '}],\n  "reasons": ${JSON.stringify(reasons)},\n  "total": ${total}\n}\n`),
  };
}

function tableListing(cmd: Command, reason: string | undefined): Listing {
  let headed = false;
  const matching = reason === undefined ? '' : ` whose reason contains ${terminalSafe(JSON.stringify(reason))}`;
  return {
    page: (letters) => {
      write(cmd, 'out', (headed ? '' : TABLE_HEAD) + letters.map((letter) => tableRow(letter) + '\n').join(''));
      headed = true;
    },
    end: (reasons, total) => {
      if (total === 0) return write(cmd, 'out', `no dead letters${matching}\n`);
      write(cmd, 'out', `\n${plural(total, 'dead letter', 'dead letters')}${matching}, by reason:\n${formatTable(['dead letters', 'reason'], reasons.map((r) => [r.deadLetters, r.reason]))}\n`);
    },
  };
}

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

function summaryLine(r: DeadLetterReplayResult): string {
  return (
    `replayed ${plural(r.replayed, 'dead letter', 'dead letters')}: ${r.accepted.toLocaleString('en-US')} accepted (removed), ` +
    `${r.stillRejected.toLocaleString('en-US')} still rejected; ${r.skipped.toLocaleString('en-US')} skipped (not events), ${r.unreadable.toLocaleString('en-US')} unreadable\n`
  );
}

/**
 * `dead-letters list [--reason TEXT] [--format table|json]` and `dead-letters replay --id ID... | --reason TEXT |
 * --all`. `connect` is called when the stores are needed, and the connection is always closed.
 */
export function deadLettersCommand(connect: () => Promise<DeadLetterConnection>): Command {
  const command = commandGroup('dead-letters', 'Rejected events kept with their payloads, and ingesting them again once their cause is fixed.');

  command
    .command('list')
    .description('Print the dead letters (all, or those whose reason contains --reason): id, position, payload size and place, reason; then the count per reason.')
    .addOption(new Option('--reason <text>', 'only dead letters whose reason contains this text (case-sensitive)').argParser(reasonText))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (opts: { reason?: string; format: string }, cmd: Command) => {
      const listing = opts.format === 'json' ? jsonListing(cmd) : tableListing(cmd, opts.reason);
      const byReason = new Map<string, number>();
      let total = 0;
      await withConnection(connect, async ({ ports }) => {
        for await (const page of ports.deadLetters.listDeadLetterHeaders(opts.reason === undefined ? {} : { reasonContains: opts.reason })) {
          listing.page(page);
          for (const { reason } of page) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
          total += page.length;
        }
      });
      listing.end(reasonCounts(byReason), total);
    });

  command
    .command('replay')
    .description('Ingest dead letters again through the ingest service: those now accepted are removed, the others stay.')
    .addOption(new Option('--id <id...>', 'the dead letters with these ids (from `dead-letters list`)').conflicts(['reason', 'all']))
    .addOption(new Option('--reason <text>', 'every dead letter whose reason contains this text (case-sensitive)').argParser(reasonText).conflicts(['id', 'all']))
    .addOption(new Option('--all', 'every dead letter').conflicts(['id', 'reason']))
    .addOption(new Option('--format <format>', 'a summary line, or the counts as JSON').choices(['text', 'json']).default('text'))
    .addHelpText('after', REPLAY_HELP)
    .action(async (opts: { id?: string[]; reason?: string; all?: boolean; format: string }, cmd: Command) => {
      if (!opts.id && opts.reason === undefined && !opts.all) cmd.error('give --id <id...>, --reason <text> or --all', { exitCode: 1, code: 'tokenledger.deadLetters.nothingChosen' });
      const filter: DeadLetterFilter = opts.id ? { ids: opts.id } : opts.reason !== undefined ? { reasonContains: opts.reason } : {};
      const onUnreadable = (letter: { id: string }, problem: string) => write(cmd, 'err', `dead letter ${terminalSafe(letter.id)} not replayed: ${terminalSafe(problem)}\n`);
      const result = await withConnection(connect, ({ ports }) => replayDeadLetters(filter, ports, { onUnreadable }));
      write(cmd, 'out', opts.format === 'json' ? JSON.stringify(result, null, 2) + '\n' : summaryLine(result));
    });

  return command;
}
