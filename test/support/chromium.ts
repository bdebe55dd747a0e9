import { existsSync } from 'node:fs';
import sparticuz from '@sparticuz/chromium';

/** Where the browser tests' Chromium comes from, said in every failure so a newcomer knows what ran. */
export interface ChromiumBinary {
  executablePath: string;
  source: string;
}

/**
 * The Chromium the browser tests drive. `CHROMIUM_PATH` names one (for example Debian's `/usr/bin/chromium`);
 * otherwise it is the headless build that ships inside the `@sparticuz/chromium` npm package, unpacked into the
 * temporary folder on first use, so `npm ci && npm test` needs nothing installed by hand and downloads nothing.
 */
export async function chromiumBinary(): Promise<ChromiumBinary> {
  const named = process.env['CHROMIUM_PATH'];
  if (named !== undefined && named !== '') {
    if (!existsSync(named)) throw new Error(`CHROMIUM_PATH names ${named}, which does not exist`);
    return { executablePath: named, source: `CHROMIUM_PATH=${named}` };
  }
  return { executablePath: await sparticuz.executablePath(), source: 'the @sparticuz/chromium package' };
}
