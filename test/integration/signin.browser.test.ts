import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { HttpHost } from '../../src/local/http-host.js';
import { startLocalApi } from '../../src/local/local-api.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { DEMO_PRINCIPALS, demoTokens } from '../../src/local/token-issuer.js';
import { ARTIFACTS, dashboardReady, useTestBrowser } from '../support/chromium.js';

const RANGE = { from: '2026-10-15', to: '2026-10-16' };
/**
 * Signed-in tokens live 70 s: the dashboard renews a token 60 s before it expires (oidc-client-ts's default), so
 * a renewal with the refresh token follows about 10 s after each sign-in.
 */
const SIGN_IN_TOKEN_LIFETIME_SECONDS = 70;
const COST_PANELS = ['panel-team', 'panel-invoice', 'panel-identity', 'panel-top-spenders', 'panel-cached', 'panel-models'] as const;
const OPERATIONS_PANELS = ['panel-latency', 'panel-weights', 'panel-bypass', 'panel-unattributed', 'panel-reconciliation'] as const;
/** The page's Web Storage, as the page sees it (the tests' own types have no DOM). */
interface PageStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
}
type PageGlobals = { sessionStorage: PageStorage; localStorage: PageStorage };

const OWN_IDENTITY_NOTICE = "You see only your own identity's usage: your account does not have the Chargeback.ReadAll role.";

describe('dashboard sign-in in Chromium, at the local OpenID Connect provider', () => {
  let stack: LocalStack;
  let api: HttpHost;
  const { faults, newTab } = useTestBrowser(
    async () => {
      stack = await startLocalStack({ issuer: { signInTokenLifetimeSeconds: SIGN_IN_TOKEN_LIFETIME_SECONDS } });
      api = await startLocalApi(stack);
    },
    async () => {
      await api?.stop();
      await stack?.stop();
    },
  );

  async function newPage(): Promise<Page> {
    const page = await newTab();
    await page.goto(`${api.url}/api/dashboard/?from=${RANGE.from}&to=${RANGE.to}`);
    await dashboardReady(page);
    return page;
  }

  /** Clicks "Sign in", then the demo user on the provider's page, and waits for the dashboard to load signed in. */
  async function signInAs(page: Page, user: keyof typeof DEMO_PRINCIPALS): Promise<void> {
    await page.getByTestId('sign-in').click();
    await page.waitForURL((url) => url.href.startsWith(stack.issuer.authorizationEndpoint));
    await page.getByTestId(`sign-in-as-${user}`).click();
    await page.waitForURL((url) => url.pathname === '/api/dashboard/' && !url.searchParams.has('code'));
    await page.locator('[data-testid="signin"][data-state="signed-in"]').waitFor({ timeout: 30_000 });
    await dashboardReady(page);
  }

  /** Panel test ids in the order a person sees them, top to bottom, left to right. */
  /** The shown panels (not the closed request list or trace), top to bottom. */
  async function panelsInReadingOrder(page: Page): Promise<string[]> {
    return page.locator('main > section[data-testid]').evaluateAll((sections) =>
      sections
        .filter((s) => !s.hasAttribute('hidden'))
        .map((s) => ({ id: s.getAttribute('data-testid')!, box: s.getBoundingClientRect() }))
        .sort((a, b) => a.box.top - b.box.top || a.box.left - b.box.left)
        .map((s) => s.id),
    );
  }

  /** The shown panels in the DOM's order: the order Tab and a screen reader go through them. */
  async function panelsInDomOrder(page: Page): Promise<string[]> {
    return page.locator('main > section[data-testid]').evaluateAll((sections) => sections.filter((s) => !s.hasAttribute('hidden')).map((s) => s.getAttribute('data-testid')!));
  }

  const storedAccessToken = (page: Page) =>
    page.evaluate(() => {
      const { sessionStorage } = globalThis as unknown as PageGlobals;
      for (let i = 0; i < sessionStorage.length; i++) {
        const key = sessionStorage.key(i)!;
        if (key.startsWith('oidc.user:')) return (JSON.parse(sessionStorage.getItem(key)!) as { access_token: string }).access_token;
      }
      return null;
    });

  it('signs finance in by clicking, keeps the filters and the sign-in across a reload of the tab, and leads with the cost panels', async () => {
    const page = await newPage();
    await expect(page.getByTestId('signin').getAttribute('data-state')).resolves.toBe('signed-out');
    await signInAs(page, 'finance');
    const url = new URL(page.url());
    expect([url.searchParams.get('from'), url.searchParams.get('to'), url.searchParams.has('state')]).toEqual([RANGE.from, RANGE.to, false]);
    await expect(page.getByTestId('signin-status').textContent()).resolves.toBe(`Signed in as ${DEMO_PRINCIPALS.finance.name}.`);
    await expect(page.getByTestId('token-status').textContent()).resolves.toContain(DEMO_PRINCIPALS.finance.name);
    await expect(page.locator('main').getAttribute('data-view')).resolves.toBe('finance');
    await expect(page.getByTestId('access-notice').textContent()).resolves.toBe('');
    await expect(page.getByTestId('auth-status').textContent()).resolves.toBe('');
    await expect(page.getByTestId('panel-team').getAttribute('data-state')).resolves.toBe('empty');
    const order = await panelsInReadingOrder(page);
    expect(order.slice(0, COST_PANELS.length).sort()).toEqual([...COST_PANELS].sort());
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.length)).toBe(0);
    await page.reload();
    await dashboardReady(page);
    await expect(page.getByTestId('signin').getAttribute('data-state')).resolves.toBe('signed-in');
    await expect(page.locator('main').getAttribute('data-view')).resolves.toBe('finance');
    await page.screenshot({ path: join(ARTIFACTS, 'signin-finance.png'), fullPage: true });
    expect(faults).toEqual([]);
    await page.close();
  });

  it('signs the operator in by clicking and leads with latency, weights, traffic and reconciliation (in the DOM too, so Tab follows what is shown), saying they see only their own identity', async () => {
    const page = await newPage();
    await signInAs(page, 'operator');
    await expect(page.locator('main').getAttribute('data-view')).resolves.toBe('operations');
    await expect(page.getByTestId('access-notice').textContent()).resolves.toBe(OWN_IDENTITY_NOTICE);
    await expect(page.getByTestId('access-notice').isVisible()).resolves.toBe(true);
    const order = await panelsInReadingOrder(page);
    expect(order.slice(0, OPERATIONS_PANELS.length)).toEqual([...OPERATIONS_PANELS]);
    await expect(panelsInDomOrder(page)).resolves.toEqual(order);
    for (const panel of ['panel-latency', 'panel-weights', 'panel-reconciliation']) {
      expect({ panel, state: await page.getByTestId(panel).getAttribute('data-state') }).toEqual({ panel, state: expect.stringMatching(/^(ready|empty)$/) });
    }
    await expect(page.getByTestId('auth-status').textContent()).resolves.toBe('');
    await page.screenshot({ path: join(ARTIFACTS, 'signin-operator.png'), fullPage: true });
    expect(faults).toEqual([]);
    await page.close();
  });

  it('tells a signed-in caller with no app role that they see only their own identity', async () => {
    const page = await newPage();
    await signInAs(page, 'member');
    await expect(page.locator('main').getAttribute('data-view')).resolves.toBe('own');
    await expect(page.getByTestId('access-notice').textContent()).resolves.toBe(OWN_IDENTITY_NOTICE);
    await expect(page.getByTestId('panel-latency').getAttribute('data-state')).resolves.toBe('unavailable');
    expect(faults).toEqual([]);
    await page.close();
  });

  it('signs the directory admin in by clicking, with the identity directory open for edits', async () => {
    const page = await newPage();
    await signInAs(page, 'admin');
    await expect(page.locator('main').getAttribute('data-view')).resolves.toBe('finance');
    const directory = page.getByTestId('panel-directory');
    await page.locator('[data-testid="panel-directory"][data-mode="edit"]').waitFor({ timeout: 30_000 });
    await expect(directory.getByTestId('directory-message').textContent()).resolves.not.toContain('Read-only');
    expect(faults).toEqual([]);
    await page.close();
  });

  it('renews the access token with the refresh token before it expires, and the API accepts the new one', async () => {
    const page = await newPage();
    await signInAs(page, 'operator');
    const first = await storedAccessToken(page);
    const refreshes = stack.issuer.refreshes;
    const renewal = await page.waitForResponse(
      (response) => response.url() === stack.issuer.tokenEndpoint && (response.request().postData() ?? '').includes('grant_type=refresh_token'),
      { timeout: 45_000 },
    );
    expect(renewal.status()).toBe(200);
    await page.waitForFunction((before) => {
      const { sessionStorage } = globalThis as unknown as PageGlobals;
      for (let i = 0; i < sessionStorage.length; i++) {
        const key = sessionStorage.key(i)!;
        if (key.startsWith('oidc.user:')) return (JSON.parse(sessionStorage.getItem(key)!) as { access_token: string }).access_token !== before;
      }
      return false;
    }, first);
    expect(stack.issuer.refreshes).toBeGreaterThan(refreshes);
    const renewed = await storedAccessToken(page);
    expect(renewed).not.toBe(first);

    const sent = page.waitForRequest((request) => request.url().includes('/api/latency?'));
    await page.getByTestId('filter-apply').click();
    expect((await sent).headers()['authorization']).toBe(`Bearer ${renewed}`);
    await dashboardReady(page);
    await expect(page.getByTestId('auth-status').textContent()).resolves.toBe('');
    expect(faults).toEqual([]);
    await page.close();
  });

  it('still takes a pasted token, for scripts, and lays the page out for its roles', async () => {
    const tokens = await demoTokens(stack.issuer);
    const page = await newPage();
    await page.getByTestId('token-input').fill(tokens.operator);
    await page.getByTestId('token-save').click();
    await dashboardReady(page);
    await expect(page.getByTestId('signin').getAttribute('data-state')).resolves.toBe('signed-out');
    await expect(page.getByTestId('token-status').textContent()).resolves.toContain(DEMO_PRINCIPALS.operator.name);
    await expect(page.locator('main').getAttribute('data-view')).resolves.toBe('operations');
    await expect(page.getByTestId('access-notice').textContent()).resolves.toBe(OWN_IDENTITY_NOTICE);
    await expect(page.getByTestId('auth-status').textContent()).resolves.toBe('');
    expect((await panelsInDomOrder(page)).slice(0, OPERATIONS_PANELS.length)).toEqual([...OPERATIONS_PANELS]);
    // Without the token the page is back in its own order, in the DOM and on screen.
    await page.getByTestId('token-forget').click();
    await expect(page.locator('main').getAttribute('data-view')).resolves.toBeNull();
    const order = await panelsInDomOrder(page);
    expect(order.slice(0, COST_PANELS.length)).toEqual([...COST_PANELS]);
    await expect(panelsInReadingOrder(page)).resolves.toEqual(order);
    expect(faults).toEqual([]);
    await page.close();
  });

  it('signs out of the dashboard, back to a page that asks for a sign-in or a token', async () => {
    const page = await newPage();
    await signInAs(page, 'finance');
    await page.getByTestId('sign-out').click();
    await page.locator('[data-testid="signin"][data-state="signed-out"]').waitFor();
    await dashboardReady(page);
    await expect(page.getByTestId('auth-status').getAttribute('data-status')).resolves.toBe('401');
    await expect(page.locator('main').getAttribute('data-view')).resolves.toBeNull();
    expect(await storedAccessToken(page)).toBeNull();
    expect(faults).toEqual([]);
    await page.close();
  });
});
