import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInput, checkOutput, describeFileError } from '../../src/cli/input-files.js';

const EVENTS = { option: '--events', kind: 'file', holding: 'gateway events as JSON lines' } as const;
const ARCHIVE = { option: '--diagnostics', kind: 'folder', holding: 'RequestResponse archive records' } as const;

describe('paths given on the command line', () => {
  let folder: string;
  let file: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tokenledger-inputs-'));
    file = join(folder, 'events.jsonl');
    await writeFile(file, '{}\n');
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('accepts a file where a file is expected and a folder where a folder is', async () => {
    await expect(checkInput(file, EVENTS)).resolves.toBeUndefined();
    await expect(checkInput(folder, ARCHIVE)).resolves.toBeUndefined();
  });

  it('names the option, the path and what belongs there when the path is missing', async () => {
    const missing = join(folder, 'nope.jsonl');
    await expect(checkInput(missing, EVENTS)).rejects.toThrow(`--events ${JSON.stringify(missing)} does not exist: expected a file of gateway events as JSON lines`);
  });

  it('says a folder is a folder and a file is a file, instead of EISDIR or ENOTDIR', async () => {
    await expect(checkInput(folder, EVENTS)).rejects.toThrow(`--events ${JSON.stringify(folder)} is a folder: expected a file of gateway events as JSON lines`);
    await expect(checkInput(file, ARCHIVE)).rejects.toThrow(`--diagnostics ${JSON.stringify(file)} is a file: expected a folder of RequestResponse archive records`);
  });

  it('refuses to write a file over a folder or a folder over a file, and accepts a new name', async () => {
    await expect(checkOutput(folder, { option: '--json', kind: 'file' })).rejects.toThrow(/--json .* is a folder: expected the name of a file to write/);
    await expect(checkOutput(file, { option: '--out', kind: 'folder' })).rejects.toThrow(/--out .* is a file: expected a folder to write into/);
    await expect(checkOutput(join(folder, 'new'), { option: '--out', kind: 'folder' })).resolves.toBeUndefined();
  });

  it('words a file-system error with its path, and leaves other errors alone', () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'prices.json'"), { code: 'ENOENT', path: 'prices.json', syscall: 'open' });
    expect(describeFileError(enoent)).toBe('"prices.json" does not exist');
    const eisdir = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR', syscall: 'read' });
    expect(describeFileError(eisdir)).toBe('a folder was given where a file was expected');
    expect(describeFileError(new Error('something else'))).toBeNull();
  });
});
