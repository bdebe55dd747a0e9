import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAvroFile, listCaptureFolder, writeCaptureLines } from '../adapters/files/event-hubs-capture.js';
import { Cleanup } from './cleanup.js';
import { checkInput } from './input-files.js';
import type { Progress } from './progress.js';

const EVENTS = { option: '--events', kind: 'file', holding: 'gateway events as JSON lines (one Event Hubs body per line)', text: true, jsonLines: true } as const;
const WANTED = 'expected a file of gateway events as JSON lines (one Event Hubs body per line), or Event Hubs Capture files (.avro)';

/** What `--events` names: a JSON lines file, or Event Hubs Capture files. */
export type EventsInput = { readonly path: string; readonly capture: null } | { readonly path: string; readonly capture: { readonly files: readonly string[]; readonly bytes: number } };

/** Checks `--events` before any work: a JSON lines file (`checkInput`), an Avro file, or a folder of Avro files only. */
export async function checkEvents(path: string): Promise<EventsInput> {
  const capture = await captureFiles(path);
  if (!capture) await checkInput(path, EVENTS);
  return { path, capture };
}

/** The Capture files `--events` names (an Avro file, or a folder of them), or null for anything else. */
async function captureFiles(path: string): Promise<{ files: readonly string[]; bytes: number } | null> {
  const found = await stat(path).catch(() => null);
  if (found?.isFile()) return (await isAvroFile(path)) ? { files: [path], bytes: found.size } : null;
  if (!found?.isDirectory()) return null;
  const folder = await listCaptureFolder(path);
  const named = `--events ${JSON.stringify(path)}`;
  if (folder.others.length > 0) {
    const more = folder.others.length > 1 ? ` (and ${folder.others.length - 1} other file${folder.others.length > 2 ? 's' : ''})` : '';
    throw new Error(`${named} is a folder, and ${JSON.stringify(folder.others[0])} in it${more} is not an Avro file: ${WANTED}; a folder holds Capture files only`);
  }
  if (folder.files.length === 0) throw new Error(`${named} is a folder with no file in it: ${WANTED}`);
  return folder;
}

/**
 * Runs `analyse` on the events `--events` names: a JSON lines file as it is, or Event Hubs Capture files (an Avro
 * file, or a folder of them as azcopy downloads a Capture container), whose bodies are first written a line each
 * to a temporary file, removed when the command ends or is stopped.
 */
export async function withEventsFile<T>({ path, capture }: EventsInput, progress: Progress, analyse: (eventsFile: string) => Promise<T>): Promise<T> {
  if (!capture) return analyse(path);
  const cleanup = new Cleanup();
  void cleanup.signal().then((signal) => cleanup.exitOn(signal));
  try {
    const count = capture.files.length;
    progress.step(`reading ${count.toLocaleString('en-US')} Event Hubs Capture file${count === 1 ? '' : 's'} (${(capture.bytes / 2 ** 20).toFixed(1)} MiB) into a temporary file of JSON lines`);
    const folder = await mkdtemp(join(tmpdir(), 'tokenledger-capture-'));
    cleanup.add(() => rm(folder, { recursive: true, force: true }));
    const eventsFile = join(folder, 'events.jsonl');
    const lines = await writeCaptureLines(capture.files, eventsFile);
    const withoutBody = lines.withoutBody > 0 ? `; ${lines.withoutBody.toLocaleString('en-US')} without a body, not analysed` : '';
    progress.step(`${lines.events.toLocaleString('en-US')} event${lines.events === 1 ? '' : 's'} from ${count.toLocaleString('en-US')} Capture file${count === 1 ? '' : 's'}${withoutBody}`);
    return await analyse(eventsFile);
  } finally {
    await cleanup.run();
  }
}
