import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import functions from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeightsHandler } from '../../functions/handlers/operations-reports.js';
import { apimBackendPoolSchema } from '../../src/contracts/apim-backend-pool.js';
import { startHttpHost, type HttpHost } from '../../src/local/http-host.js';
import { hourTiles } from '../support/latency-tiles.js';
import { MemoryAggregateStore, MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';

const run = promisify(execFile);
const { HttpRequest } = functions;

const DAY = '2026-10-20';
const RANGE = `from=${DAY}&to=${DAY}T06:00:00Z`;
const HOURS = [0, 1, 2, 3, 4, 5];

function weightsOver(aggregates: MemoryAggregateStore) {
  const handler = createWeightsHandler(() => ({ aggregates, ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore() }));
  return async (query: string) => {
    const response = await handler(new HttpRequest({ method: 'GET', url: `https://tokenledger.example/api/weights?${query}` }));
    return { status: response.status, json: response.jsonBody as { reason?: string; resources?: unknown[]; recommendations?: { weights: { backendId: string }[] }[] }, body: response.body };
  };
}

describe('weights as APIM backend pools', () => {
  const named = new MemoryAggregateStore();
  const misnamed = new MemoryAggregateStore();
  const backends = [
    { backendId: 'aoai-swedencentral', region: 'swedencentral', ms: 200 },
    { backendId: 'https://aoai-eastus.openai.azure.com/openai', region: 'eastus', ms: 400 },
    { backendId: 'aoai westus', region: 'westus', ms: 900 },
  ];
  beforeAll(async () => {
    await named.upsertLatencyTiles(hourTiles(DAY, 'chat', [backends[0]!, { backendId: '/backends/aoai-eastus', region: 'eastus', ms: 400 }], HOURS));
    await misnamed.upsertLatencyTiles(hourTiles(DAY, 'chat', backends, HOURS));
    await misnamed.upsertLatencyTiles(hourTiles(DAY, 'batch', backends.slice(1), HOURS));
  });

  it('renders backends named as APIM names them into a template and a Bicep file', async () => {
    const weights = weightsOver(named);
    const template = await weights(`${RANGE}&format=apim&apimService=contoso-ai-gateway`);
    expect(template.status).toBe(200);
    expect(template.json.resources).toHaveLength(1);
    expect(apimBackendPoolSchema.safeParse(template.json.resources![0]).success).toBe(true);
    expect((await weights(`${RANGE}&format=bicep&apimService=contoso-ai-gateway`)).body).toContain("id: '/backends/aoai-eastus'");
  });

  it('answers 422 naming each backend id that cannot be a pool member and why, where it answered 500', async () => {
    const weights = weightsOver(misnamed);
    for (const format of ['apim', 'bicep']) {
      const response = await weights(`${RANGE}&format=${format}&apimService=contoso-ai-gateway`);
      expect(response.status, format).toBe(422);
      expect(response.json.reason).toBe(
        `format=${format} makes the backends of each deployment members of an APIM backend pool, and 2 cannot be: ` +
          '"aoai westus" is not an APIM backend name or id: it holds white space; ' +
          '"https://aoai-eastus.openai.azure.com/openai" is not an APIM backend name or id: it is a URL, and a pool member is the APIM backend that calls it. ' +
          "A backend id is the gateway events' gateway.backendId (the policy's tokenledger-backend-id variable): it must be the name of the APIM backend. " +
          'format=json answers the weights of these backends as they are.',
      );
    }
  });

  it('answers 422 for two backend ids of one pool that name one APIM backend in two cases', async () => {
    const twice = new MemoryAggregateStore();
    await twice.upsertLatencyTiles(hourTiles(DAY, 'chat', [{ backendId: 'aoai-eastus', region: 'eastus', ms: 300 }, { backendId: 'AOAI-EastUS', region: 'eastus', ms: 500 }], HOURS));
    const response = await weightsOver(twice)(`${RANGE}&format=apim&apimService=contoso-ai-gateway`);
    expect(response.status).toBe(422);
    expect(response.json.reason).toMatch(/and this one cannot be: "(AOAI-EastUS|aoai-eastus)" names the same APIM backend as "(aoai-eastus|AOAI-EastUS)" in pool chat-pool \(APIM names ignore case\)\./);
  });

  it('answers 422 for deployments whose pools would share a name, and their weights as JSON', async () => {
    const alike = new MemoryAggregateStore();
    const member = [{ backendId: 'aoai-eastus', region: 'eastus', ms: 300 }];
    for (const deployment of ['gpt-4.1', 'gpt-4_1', 'GPT-4-1', 'chat']) await alike.upsertLatencyTiles(hourTiles(DAY, deployment, member, HOURS));
    const weights = weightsOver(alike);
    for (const format of ['apim', 'bicep']) {
      const response = await weights(`${RANGE}&format=${format}&apimService=contoso-ai-gateway`);
      expect(response.status, format).toBe(422);
      expect(response.json.reason).toMatch(new RegExp(`^format=${format} names each deployment's pool <deployment>-pool, .*, and "GPT-4-1" and "gpt-4\\.1" and "gpt-4_1" all make the pool name GPT-4-1-pool: two pools of one name do not deploy side by side\\.`));
    }
    expect((await weights(`${RANGE}&format=apim&apimService=contoso-ai-gateway&deployment=chat`)).status).toBe(200);
    expect((await weights(RANGE)).json.recommendations).toHaveLength(4);
  });

  it('still answers the weights of such backends as JSON', async () => {
    const response = await weightsOver(misnamed)(`${RANGE}&deployment=chat`);
    expect(response.status).toBe(200);
    expect(response.json.recommendations![0]!.weights.map((w) => w.backendId).sort()).toEqual(backends.map((b) => b.backendId).sort());
  });

  describe('from the CLI', () => {
    let host: HttpHost;
    beforeAll(async () => {
      host = await startHttpHost([{ route: 'weights', methods: ['GET'], handler: createWeightsHandler(() => ({ aggregates: misnamed, ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore() })) }]);
    });
    afterAll(async () => host?.stop());

    it('says which backend ids cannot be pool members, without a stack trace', async () => {
      const cli = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'weights', '--from', DAY, '--to', `${DAY}T06:00Z`, '--format', 'bicep', '--apim-service', 'contoso-ai-gateway', '--api', host.url, '--token', 't'], {
        cwd: new URL('../..', import.meta.url).pathname,
      });
      const failure = (await cli.then(() => null, (error: unknown) => error)) as { code: number; stdout: string; stderr: string } | null;
      expect(failure).not.toBeNull();
      expect(failure!.code).toBe(1);
      expect(failure!.stdout).toBe('');
      expect(failure!.stderr).toMatch(/^tokenledger: \/api\/weights answered 422: format=bicep makes the backends of each deployment members of an APIM backend pool, and 2 cannot be: "aoai westus" is not an APIM backend name/);
      expect(failure!.stderr).not.toMatch(/\n\s+at /);
      expect(failure!.stderr.trimEnd().split('\n')).toHaveLength(1);
    });
  });
});
