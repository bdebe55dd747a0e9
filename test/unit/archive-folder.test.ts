import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArchiveBlob } from '../../src/adapters/archive/archive-diagnostics-source.js';
import { requestResponseFolder } from '../../src/adapters/archive/folder-archive.js';
import { checkArchiveFolder } from '../../src/cli/input-files.js';
import { readArchiveFolder } from '../../src/services/analyze-files.js';
import { temporaryFolder } from '../support/temporary-folder.js';

const FIXTURE = new URL('../fixtures/aoai-requestresponse.archive.jsonl', import.meta.url);
/** Where a diagnostic setting writes an account's records of one hour, inside the container (see archive-layout.ts). */
const BLOB = 'resourceId=/SUBSCRIPTIONS/12CABCB4-86E8-404F-A3D2-1DC9982F45CA/RESOURCEGROUPS/OBS-OPENAI-SERVICE-RS/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/OBS-OPENAI-SERVICE/y=2024/m=04/d=09/h=19/m=00/PT1H.json';
const DIAGNOSTICS = { option: '--diagnostics', kind: 'folder', holding: 'RequestResponse archive records' } as const;

/** A download of the archive as `azcopy copy '…/insights-logs-requestresponse' <root> --recursive` makes it. */
async function downloadedArchive(): Promise<{ root: string; container: string }> {
  const root = await temporaryFolder('tokenledger-archive-');
  const container = join(root, 'insights-logs-requestresponse');
  await mkdir(dirname(join(container, BLOB)), { recursive: true });
  await writeFile(join(container, BLOB), await readFile(FIXTURE));
  // Other files beside the container are not records.
  await writeFile(join(root, 'events.jsonl'), '{}\n');
  return { root, container };
}

describe('a local copy of the RequestResponse archive', () => {
  it('is read from the folder holding the container, from the container itself, or from a copy of its contents', async () => {
    const { root, container } = await downloadedArchive();
    const contents = await temporaryFolder('tokenledger-archive-contents-');
    await cp(join(container, 'resourceId='), join(contents, 'resourceId='), { recursive: true });
    const expected = parseArchiveBlob(`insights-logs-requestresponse/${BLOB}`, await readFile(FIXTURE, 'utf8'));
    expect(expected.records.length).toBeGreaterThan(0);
    for (const dir of [root, container, contents]) {
      const read = await readArchiveFolder(dir);
      expect(read.records).toEqual(expected.records);
      expect(read.rejected).toBe(expected.rejected.length);
      await expect(checkArchiveFolder(dir, DIAGNOSTICS)).resolves.toBeUndefined();
    }
    expect(await requestResponseFolder(root)).toBe(container);
  });

  it('is read through links to its blobs, as a copy made with cp -rs holds them', async () => {
    const { container } = await downloadedArchive();
    const linked = join(await temporaryFolder('tokenledger-archive-links-'), 'insights-logs-requestresponse');
    await mkdir(dirname(join(linked, BLOB)), { recursive: true });
    await symlink(join(container, BLOB), join(linked, BLOB));
    const read = await readArchiveFolder(linked);
    expect(read.records).toEqual((await readArchiveFolder(container)).records);
    expect(read.records.length).toBeGreaterThan(0);
  });

  it('is refused, saying what belongs there, when the folder holds no container and is none', async () => {
    const { root } = await downloadedArchive();
    const elsewhere = await temporaryFolder('tokenledger-not-archive-');
    await writeFile(join(elsewhere, 'events.jsonl'), '{}\n');
    // Another category's container, with the same layout inside.
    const audit = join(root, 'insights-logs-audit');
    await cp(join(root, 'insights-logs-requestresponse'), audit, { recursive: true });
    for (const dir of [elsewhere, audit]) {
      expect(await requestResponseFolder(dir)).toBeNull();
      await expect(readArchiveFolder(dir)).rejects.toThrow(`${dir} holds no insights-logs-requestresponse/ folder and is not one`);
      await expect(checkArchiveFolder(dir, DIAGNOSTICS)).rejects.toThrow(
        `--diagnostics ${JSON.stringify(dir)} holds no insights-logs-requestresponse/ folder and is not one: expected a folder of RequestResponse archive records`,
      );
    }
  });
});
