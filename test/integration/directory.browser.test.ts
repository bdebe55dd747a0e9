import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { APP_ROLES } from '../../src/contracts/access.js';
import type { ChargebackRow } from '../../src/domain/chargeback.js';
import { runDemo, type DemoSummary } from '../../src/local/demo.js';
import type { HttpHost } from '../../src/local/http-host.js';
import { startLocalApi } from '../../src/local/local-api.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { demoTokens } from '../../src/local/token-issuer.js';
import { ARTIFACTS, dashboardReady, useTestBrowser } from '../support/chromium.js';

const DAY = '2026-10-15';
const RANGE = { from: '2026-10-15', to: '2026-10-16' };
const NEW_TEAM = 'Directory <b>Edited</b> Team';

const silent = { step: () => {}, bar: () => ({ increment: () => {}, stop: () => {} }) };

interface ApiEntry {
  identity: string;
  displayName: string;
  team: string;
  costCenter: string;
  kind?: string;
  etag: string;
}

describe('directory edit in the dashboard, in Chromium, on the local stack', () => {
  let stack: LocalStack;
  let api: HttpHost;
  let summary: DemoSummary;
  let tokens: { admin: string; finance: string; operator: string };
  const { faults, newTab } = useTestBrowser(
    async () => {
      stack = await startLocalStack();
      summary = await runDemo(stack, { requests: 2000, seed: 29, day: DAY }, silent);
      api = await startLocalApi(stack);
      const demo = await demoTokens(stack.issuer);
      const admin = await stack.issuer.issue({ oid: '7d3e9f10-0000-4000-8000-0000000d1ead', name: 'Directory Admin', roles: [APP_ROLES.directoryWrite, APP_ROLES.chargebackReadAll] });
      tokens = { admin, finance: demo.finance, operator: demo.operator };
    },
    async () => {
      await api?.stop();
      await stack?.stop();
    },
  );

  const apiGet = async <T>(path: string, token: string): Promise<T> => {
    const response = await fetch(`${api.url}/api/${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };
  const directoryEntry = async (identity: string) => (await apiGet<{ entries: ApiEntry[] }>('directory', tokens.admin)).entries.find((e) => e.identity === identity);
  const report = (groupBy: string) => apiGet<{ rows: { key: string; cost: string; requests: number }[] }>(`chargeback?from=${RANGE.from}&to=${RANGE.to}&groupBy=${groupBy}`, tokens.admin);

  async function directoryPanel(page: Page, mode: string) {
    const panel = page.locator(`[data-testid="panel-directory"][data-mode="${mode}"]`);
    await panel.waitFor({ timeout: 30_000 });
    return panel;
  }

  /** Opens the dashboard in a new tab, pastes the token into the token form, and sets the range. */
  async function openDashboard(token: string): Promise<Page> {
    const page = await newTab();
    await page.goto(`${api.url}/api/dashboard/`);
    await dashboardReady(page);
    await page.getByTestId('token-input').fill(token);
    await page.getByTestId('token-save').click();
    await dashboardReady(page);
    await page.getByTestId('filter-from').fill(RANGE.from);
    await page.getByTestId('filter-to').fill(RANGE.to);
    await page.getByTestId('filter-apply').click();
    await dashboardReady(page);
    return page;
  }

  it("directory edit: changes an identity's team in the page, and the API's directory and the team report follow", async () => {
    const identityReport = summary.chargeback.identity.rows.filter((r: ChargebackRow) => r.identityKind !== 'unattributed' && r.team !== null && r.team !== '(unmapped)');
    const edited = identityReport.reduce((a, b) => (b.costPico > a.costPico ? b : a));
    const before = (await directoryEntry(edited.key))!;
    expect(before.team).toBe(edited.team);

    const page = await openDashboard(tokens.admin);
    const panel = await directoryPanel(page, 'edit');
    const row = panel.locator(`tbody [data-testid="directory-row"][data-identity="${edited.key}"]`);
    await expect(row.getByTestId('team').textContent()).resolves.toBe(before.team);

    // A value the API refuses: its reason is shown and nothing changes.
    await row.getByTestId('directory-edit').click();
    await expect(panel.getByTestId('directory-identity').inputValue()).resolves.toBe(edited.key);
    await panel.getByTestId('directory-team').fill('   ');
    await panel.getByTestId('directory-save').click();
    await panel.getByTestId('directory-error').filter({ hasText: 'team: must not be empty' }).waitFor();
    expect((await directoryEntry(edited.key))!.team).toBe(before.team);

    const generation = await page.locator('body').getAttribute('data-generation');
    await panel.getByTestId('directory-team').fill(NEW_TEAM);
    await panel.getByTestId('directory-save').click();
    await page.getByTestId('directory-message').filter({ hasText: `Saved ${edited.key}.` }).waitFor({ timeout: 30_000 });
    await page.locator(`body[data-state="ready"]:not([data-generation="${generation}"])`).waitFor({ timeout: 30_000 });

    const after = (await directoryEntry(edited.key))!;
    expect(after).toEqual({ ...before, team: NEW_TEAM, etag: expect.any(String) });
    expect(after.etag).not.toBe(before.etag);
    const own = (await report('identity')).rows.find((r) => r.key === edited.key)!;
    expect((await report('team')).rows.find((r) => r.key === NEW_TEAM)).toMatchObject({ cost: own.cost, requests: own.requests });
    await expect(page.getByTestId('panel-team').locator(`tbody [data-testid="team-row"][data-key="${NEW_TEAM}"]`).count()).resolves.toBe(1);
    await expect(page.getByTestId('panel-directory').locator(`[data-identity="${edited.key}"] [data-testid="team"]`).textContent()).resolves.toBe(NEW_TEAM);
    await expect(page.locator('b').count()).resolves.toBe(0);

    // Someone else changes the entry after the page loaded it: the page's save is refused (If-Match), not applied.
    const editedPanel = page.getByTestId('panel-directory');
    await editedPanel.locator(`[data-identity="${edited.key}"]`).getByTestId('directory-edit').click();
    const meanwhile = await fetch(`${api.url}/api/directory/${edited.key}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json', 'if-match': after.etag },
      body: JSON.stringify({ ...before, etag: undefined, team: 'Changed elsewhere' }),
    });
    expect(meanwhile.status).toBe(200);
    await editedPanel.getByTestId('directory-cost-center').fill('CC-LOST');
    await editedPanel.getByTestId('directory-save').click();
    await editedPanel.getByTestId('directory-error').filter({ hasText: '412' }).waitFor();
    expect(await directoryEntry(edited.key)).toMatchObject({ team: 'Changed elsewhere', costCenter: before.costCenter });

    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-directory-edit.png'), fullPage: true });
    expect(faults).toEqual([]);
    await page.close();
  });

  it('shows finance the directory read-only and the operator a plain message, with no way to change it', async () => {
    const finance = await openDashboard(tokens.finance);
    const readOnly = await directoryPanel(finance, 'read-only');
    await expect(readOnly.getByTestId('directory-message').textContent()).resolves.toContain('Read-only: changing the directory needs the app role Directory.Write.');
    expect(await readOnly.locator('[data-testid="directory-row"]').count()).toBeGreaterThan(0);
    await expect(readOnly.locator('[data-testid="directory-edit"], [data-testid="directory-delete"]').count()).resolves.toBe(0);
    await expect(readOnly.getByTestId('directory-form').isVisible()).resolves.toBe(false);
    await finance.close();

    const operator = await openDashboard(tokens.operator);
    const refused = await directoryPanel(operator, 'refused');
    await expect(refused.getByTestId('directory-message').textContent()).resolves.toMatch(/Directory\.Write or Chargeback\.ReadAll — 403 Forbidden: requires one of the app roles Directory\.Write, Chargeback\.ReadAll/);
    await expect(refused.locator('[data-testid="directory-row"]').count()).resolves.toBe(0);
    await expect(refused.getByTestId('directory-form').isVisible()).resolves.toBe(false);
    expect(faults).toEqual([]);
    await operator.close();
  });

  // WCAG 2.4.3 Focus Order: deleting from the keyboard leaves focus in the directory panel, not at the top of the page.
  it('keeps keyboard focus in the directory panel after an entry is deleted: on the next row, else the last one', async () => {
    // Sorted last (the demo's identities are ids in lower case and digits), so the second is also the last row.
    const [first, second] = ['zz-focus-after-delete-1', 'zz-focus-after-delete-2'];
    await stack.directory.upsertRows([first, second].map((identity) => ({ identity, displayName: identity, team: 'Focus team', costCenter: 'CC-0' })));
    const page = await openDashboard(tokens.admin);
    const panel = await directoryPanel(page, 'edit');
    const focused = () => page.locator('body').evaluate((body) => ({ testid: body.ownerDocument.activeElement.dataset['testid'], identity: body.ownerDocument.activeElement?.closest('tr')?.dataset['identity'] ?? null }));
    const deleteFromKeyboard = async (identity: string) => {
      const del = panel.locator(`[data-testid="directory-row"][data-identity="${identity}"] [data-testid="directory-delete"]`);
      await del.focus();
      await page.keyboard.press('Enter');
      await expect(del.textContent()).resolves.toBe('Confirm delete');
      await page.keyboard.press('Enter');
      await panel.locator(`[data-testid="directory-row"][data-identity="${identity}"]`).waitFor({ state: 'detached', timeout: 30_000 });
      await expect(panel.getByTestId('directory-message').textContent()).resolves.toContain(`Removed ${identity}.`);
    };

    await deleteFromKeyboard(first);
    expect(await focused()).toEqual({ testid: 'directory-delete', identity: second });
    await deleteFromKeyboard(second);
    const last = await panel.locator('tbody [data-testid="directory-row"]').last().getAttribute('data-identity');
    expect(await focused()).toEqual({ testid: 'directory-delete', identity: last });
    expect(faults).toEqual([]);
    await page.close();
  });
});
