import { readFileSync } from 'node:fs';
import { loadPriceTable, type PriceTable } from '../contracts/price-table.js';
import type { RollupOptions } from '../services/rollup-chargeback.js';
import { readPackageFile } from './package-files.js';
import type { Settings } from './settings.js';

/*
 * What the settings mean for the functional core (prices, identity options), apart from the composition root:
 * the commands that read files need these and none of the Azure SDK clients the composition root builds.
 */

/** The price table: `PRICE_TABLE_PATH` when set, else the shipped `prices/default-prices.json`. */
export function loadPrices(settings: Pick<Settings, 'PRICE_TABLE_PATH'>): PriceTable {
  const text = settings.PRICE_TABLE_PATH ? readFileSync(settings.PRICE_TABLE_PATH, 'utf8') : readPackageFile('prices/default-prices.json');
  return loadPriceTable(JSON.parse(text));
}

export function gatewayObjectIds(settings: Pick<Settings, 'GATEWAY_OBJECT_IDS'>): Set<string> {
  return new Set((settings.GATEWAY_OBJECT_IDS ?? '').split(',').map((id) => id.trim().toLowerCase()).filter(Boolean));
}

export function rollupOptionsFrom(settings: Settings): RollupOptions {
  return { identity: { gatewayObjectIds: gatewayObjectIds(settings) } };
}
