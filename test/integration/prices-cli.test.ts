import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { temporaryFolder } from '../support/temporary-folder.js';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: new URL('../..', import.meta.url).pathname });
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/retail-prices/${name}`, import.meta.url));

/** One gateway event: 1,500 prompt tokens (500 cached) and 300 completion tokens of gpt-4o 2024-08-06. */
function event(id: string, time: string): string {
  return JSON.stringify({
    schema: 'tokenledger.gateway/v1',
    gatewayRequestId: id,
    apimRequestId: null,
    time,
    gateway: { service: 'apim-contoso' },
    caller: { oid: '11111111-1111-4111-8111-111111111111', tid: '22222222-2222-4222-8222-222222222222', idtyp: 'user' },
    deployment: 'chat',
    model: 'gpt-4o-2024-08-06',
    operation: 'ChatCompletions_Create',
    status: 200,
    usage: { promptTokens: 1500, cachedTokens: 500, completionTokens: 300 },
  });
}

type Analysis = { chargeback: { cost: string; priceVersion: string | null; unpriced: boolean }[]; totals: { cost: string } };

describe('tokenledger prices import', () => {
  it('prints the region the file names with its control characters escaped, one line', async () => {
    const dir = await temporaryFolder('tokenledger-prices-');
    // OSC 0 retitles the window and CSI 2J clears the screen of whoever runs the import; a line feed would forge a line.
    const hostile = 'eastus\u001b]0;owned\u0007\u001b[2J\nwarning: forged';
    const page = JSON.parse(await readFile(fixture('eastus-page-1.json'), 'utf8')) as { Items: { armRegionName: string }[] };
    for (const item of page.Items) item.armRegionName = hostile;
    const input = join(dir, 'retail.json');
    await writeFile(input, JSON.stringify(page));
    const { stderr } = await cli('prices', 'import', '--retail', input, '--out', join(dir, 'prices.json'), '--as-of', '2025-08-25');
    expect(stderr).toMatch(/^\d+ price entries from \d+ items \(eastus\\x1b\]0;owned\\x07\\x1b\[2J\\x0awarning: forged\)$/m);
    expect(stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  }, 60_000);

  it('writes a price file from saved Retail Prices pages that analyze uses to price requests exactly', async () => {
    const dir = await temporaryFolder('tokenledger-prices-');
    const out = join(dir, 'prices.json');
    const imported = await cli('prices', 'import', '--retail', fixture('eastus-page-1.json'), fixture('eastus-page-2.json'), '--out', out, '--as-of', '2025-08-25');
    expect(imported.stderr).toMatch(/^10 price entries from 23 items \(eastus\)$/m);
    expect(imported.stderr).toMatch(/^ {2}1 a Batch API price/m);
    const written = JSON.parse(await readFile(out, 'utf8')) as { currency: string; source: string; retrieved: string };
    expect(written).toMatchObject({ currency: 'USD', retrieved: '2025-08-25', source: expect.stringMatching(/^Azure Retail Prices API \(eastus-page-1\.json, eastus-page-2\.json\)/) });

    const events = join(dir, 'events.jsonl');
    await writeFile(events, `${event('req-now', '2025-09-10T10:00:00Z')}\n${event('req-before', '2024-09-15T10:00:00Z')}\n`);
    const { stdout } = await cli('analyze', '--events', events, '--prices', out, '--format', 'json', '--threads', '1');
    const result = JSON.parse(stdout) as Analysis;
    // 1,000 × 2.50 + 500 × 1.25 + 300 × 10.00 per 1M tokens = 0.006125; before 2024-10-01 there was no cached
    // price and cached tokens cost the input price: 1,500 × 2.50 + 300 × 10.00 per 1M = 0.00675.
    expect(result.chargeback.map((row) => [row.priceVersion, row.cost]).sort()).toEqual([
      ['gpt-4o-2024-08-06@2024-08-01', '0.006750'],
      ['gpt-4o-2024-08-06@2024-10-01', '0.006125'],
    ]);
    expect(result.totals.cost).toBe('0.012875');

    // The saved page itself, given to --prices, prices the same (Global prices in effect today).
    const direct = JSON.parse((await cli('analyze', '--events', events, '--prices', fixture('eastus-page-1.json'), '--format', 'json', '--threads', '1')).stdout) as Analysis;
    expect(direct.totals.cost).toBe('0.012875');
  });

  it('refuses a file that is not JSON with its name, line and column, and another currency by name', async () => {
    const dir = await temporaryFolder('tokenledger-prices-');
    const broken = join(dir, 'page.json');
    await writeFile(broken, '{\n  "Items": [\n    {"meterName": "x",}\n  ]\n}\n');
    await expect(cli('prices', 'import', '--retail', broken, '--out', join(dir, 'out.json'))).rejects.toMatchObject({ stderr: expect.stringMatching(/page\.json: not JSON: line 3, column 23/) });
    const eur = join(dir, 'eur.json');
    await writeFile(eur, (await readFile(fixture('eastus-page-1.json'), 'utf8')).replace('"BillingCurrency": "USD"', '"BillingCurrency": "EUR"'));
    const events = join(dir, 'events.jsonl');
    await writeFile(events, '\n');
    await expect(cli('analyze', '--events', events, '--prices', eur)).rejects.toMatchObject({ stderr: expect.stringMatching(/eur\.json: BillingCurrency is "EUR": TokenLedger prices in USD/) });
  });
});
