import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sparticuz from '@sparticuz/chromium';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach } from 'vitest';

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

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** Where the browser tests leave their screenshots. */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

interface TestBrowser {
  readonly context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/**
 * Headless Chromium in a fresh profile, 1440 × 1000. Throws an error that says which Chromium failed and why: a
 * test file keeps it and fails every test with it (none is skipped).
 */
async function launchTestBrowser(): Promise<TestBrowser> {
  let browser: ChromiumBinary;
  try {
    browser = await chromiumBinary();
  } catch (error) {
    throw new Error(`No Chromium for the browser tests: ${(error as Error).message}`);
  }
  await mkdir(ARTIFACTS, { recursive: true });
  const userDataDir = await mkdtemp(join(tmpdir(), 'tokenledger-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: browser.executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 1000 },
      timeout: 30_000,
    });
    return {
      context,
      async close() {
        await context.close();
        await rm(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw new Error(`Chromium from ${browser.source} (${browser.executablePath}) could not start: ${(error as Error).message}`);
  }
}

/** Records what a page must never do: script errors, Content-Security-Policy violations, dialogs (an `alert` would be injected markup running). */
function recordFaults(page: Page, faults: string[]): void {
  page.on('pageerror', (error) => faults.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) faults.push(`CSP: ${message.text()}`);
  });
  page.on('dialog', (dialog) => {
    faults.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
}

/** Waits until the dashboard in `page` has loaded what it asked for. */
export async function dashboardReady(page: Page): Promise<void> {
  await page.locator('body[data-state="ready"]').waitFor({ timeout: 30_000 });
}

export interface BrowserSuite {
  /** Faults the suite's tabs reported: script errors, CSP violations, dialogs (see `recordFaults`). */
  readonly faults: string[];
  /** A new tab (its own sessionStorage) whose faults go to `faults`. */
  newTab(): Promise<Page>;
}

/**
 * A test file's Chromium. Its `beforeAll` launches the browser first, then runs `setUp` (the stack, the API): if
 * Chromium cannot start, every test fails at once with the reason (none is skipped), not after the setup. Its
 * `afterAll` closes the browser, then runs `tearDown`.
 */
export function useTestBrowser(setUp: () => Promise<void>, tearDown: () => Promise<void>): BrowserSuite {
  let browser: TestBrowser | undefined;
  let failure: Error | undefined;
  const faults: string[] = [];
  beforeAll(async () => {
    try {
      browser = await launchTestBrowser();
    } catch (error) {
      failure = error as Error;
      return;
    }
    await setUp();
  }, 120_000);
  beforeEach(() => {
    if (failure) throw failure;
  });
  afterAll(async () => {
    await browser?.close();
    await tearDown();
  });
  return {
    faults,
    async newTab() {
      if (browser === undefined) throw failure ?? new Error('Chromium was not started');
      const page = await browser.context.newPage();
      recordFaults(page, faults);
      return page;
    },
  };
}
