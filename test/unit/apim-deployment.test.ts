import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { oversizedPools, poolNameFor, toArmTemplate, toBicepFile, type PoolRendering } from '../../src/contracts/apim-backend-pool.js';
import { buildTiles } from '../../src/domain/latency-tile.js';
import { backendStatsFromTile, recommendWeights } from '../../src/domain/weights.js';
import { poolTiles } from '../../src/services/latency-report.js';
import { BACKENDS, DEPLOYMENTS } from '../../src/simulator/population.js';
import { shapeViolations, type JsonShape } from '../support/json-shape.js';
import { simulatedSources } from '../support/simulated-sources.js';

const ARM_SHAPE = JSON.parse(readFileSync(new URL('../fixtures/arm/backend-pool-template.schema.json', import.meta.url), 'utf8')) as JsonShape;

/** The pools of a simulated day, as the weights report builds them: one per deployment, members are backends. */
function simulatedPools(): PoolRendering[] {
  const { records, entries } = simulatedSources({ requests: 3000, seed: 7, day: '2026-11-21' });
  const tiles = poolTiles(buildTiles({ records, entries }, 'hour'));
  return [...new Set(tiles.map((t) => t.key.deployment))].sort().map((deployment) => {
    const rec = recommendWeights({ deployment, backends: tiles.filter((t) => t.key.deployment === deployment).map((t) => backendStatsFromTile(t.key.backendId, t)) });
    return { name: poolNameFor(deployment), weights: rec.weights, description: rec.explanation };
  });
}

describe('weights as an ARM deployment template (format apim)', () => {
  const pools = simulatedPools();
  const template = JSON.parse(JSON.stringify(toArmTemplate('contoso-ai-gateway', pools))) as { resources: { name: string; properties: { pool: { services: { id: string; weight: number }[] } } }[] };

  it('matches the ARM shape of Microsoft.ApiManagement/service/backends pools', () => {
    expect(shapeViolations(template, ARM_SHAPE)).toEqual([]);
  });

  it('names one pool per deployment <service>/<deployment>-pool, whose members are the backends the events name', () => {
    expect(template.resources.map((r) => r.name)).toEqual(DEPLOYMENTS.map((d) => `contoso-ai-gateway/${d.deployment}-pool`).sort());
    for (const resource of template.resources) {
      expect(resource.properties.pool.services.map((s) => s.id).sort()).toEqual(BACKENDS.map((b) => `/backends/${b.backendId}`).sort());
      expect(resource.properties.pool.services.reduce((sum, s) => sum + s.weight, 0)).toBe(100);
    }
  });

  it('would catch a template that does not deploy', () => {
    const broken = structuredClone(template);
    broken.resources[0]!.name = 'gpt-4o-prod-pool';
    broken.resources[0]!.properties.pool.services[0]!.weight = 100.5;
    broken.resources[0]!.properties.pool.services[1]!.id = 'eastus';
    expect(shapeViolations(broken, ARM_SHAPE)).toEqual([
      expect.stringMatching(/^\$\.resources\[0\]\.name: /),
      expect.stringMatching(/^\$\.resources\[0\]\.properties\.pool\.services\[0\]\.weight: expected integer/),
      expect.stringMatching(/^\$\.resources\[0\]\.properties\.pool\.services\[1\]\.id: /),
    ]);
  });

  it('turns a deployment name into a valid pool name and refuses an invalid service name', () => {
    expect(poolNameFor('gpt-4.1-mini')).toBe('gpt-4-1-mini-pool');
    expect(poolNameFor('4o_batch')).toBe('pool-4o-batch-pool');
    expect(poolNameFor('x'.repeat(200))).toHaveLength(80);
    expect(() => toArmTemplate('contoso ai', pools)).toThrow(/service name/);
    expect(() => toArmTemplate('-gateway', pools)).toThrow(/service name/);
  });

  it('refuses a pool of more backends than APIM takes (30, "Backends in API Management"), naming it', () => {
    const members = (n: number) => Array.from({ length: n }, (_, i) => ({ backendId: `aoai-${i}`, weight: i === 0 ? 100 : 0 }));
    expect(() => toArmTemplate('gw', [{ name: 'big-pool', weights: members(30) }])).not.toThrow();
    expect(() => toArmTemplate('gw', [{ name: 'big-pool', weights: members(31) }])).toThrow(/at most 30 backends/);
    expect(() => toBicepFile('gw', [{ name: 'big-pool', weights: members(31) }])).toThrow(/at most 30 backends/);
    expect(oversizedPools([{ name: 'big-pool', weights: members(31) }, { name: 'small-pool', weights: members(2) }])).toEqual(['pool big-pool has 31 backends']);
  });

  it('keeps a description that starts with [ literal (ARM would evaluate it as an expression)', () => {
    const [resource] = toArmTemplate('gw', [{ name: 'p-pool', weights: [{ backendId: 'a', weight: 100 }], description: "[concat('a')]" }]).resources;
    expect(resource!.properties.description).toBe("[[concat('a')]");
  });
});

describe('weights as a Bicep file (format bicep)', () => {
  const pools = simulatedPools();
  const bicep = toBicepFile('contoso-ai-gateway', pools);
  const lines = bicep.split('\n');

  it('declares the service as existing and one pool resource under it per deployment', () => {
    expect(lines.slice(0, 3)).toEqual(["resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {", "  name: 'contoso-ai-gateway'", '}']);
    expect(lines.filter((l) => l.startsWith("resource ") && l.includes("'Microsoft.ApiManagement/service/backends@2024-05-01'"))).toHaveLength(DEPLOYMENTS.length);
    expect(lines.filter((l) => l === '  parent: apim')).toHaveLength(DEPLOYMENTS.length);
    for (const { deployment } of DEPLOYMENTS) expect(lines).toContain(`  name: '${deployment}-pool'`);
    const symbols = lines.filter((l) => l.startsWith('resource ')).map((l) => l.split(' ')[1]);
    expect(new Set(symbols).size).toBe(symbols.length);
    for (const backend of BACKENDS) expect(lines.filter((l) => l === `          id: '/backends/${backend.backendId}'`)).toHaveLength(DEPLOYMENTS.length);
  });
});
