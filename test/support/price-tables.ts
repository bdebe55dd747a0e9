import type { PriceFile } from '../../src/contracts/price-table.js';

/**
 * Per-token prices with audio and per-call entries, a deployment override from 15 October 2026 and a gpt-4o price
 * change on 16 October 2026: every rule of price matching within a few generated days.
 */
export const MIXED_PRICES = {
  currency: 'USD',
  source: 'test prices',
  retrieved: '2026-10-01',
  prices: [
    { model: 'gpt-4o', from: '2024-01-01', to: '2026-10-16', inputPer1M: '2.50', cachedInputPer1M: '1.25', outputPer1M: '10.00', audioInputPer1M: '40.00', audioOutputPer1M: '80.00' },
    { model: 'gpt-4o', from: '2026-10-16', inputPer1M: '2.75', cachedInputPer1M: '1.375', outputPer1M: '11.00' },
    { model: 'gpt-4o-mini', from: '2024-01-01', inputPer1M: '0.15', cachedInputPer1M: '0.075', outputPer1M: '0.60' },
    { model: 'dall-e-3', from: '2024-01-01', perRequest: '0.04' },
    { model: 'whisper', from: '2024-01-01', perRequest: '0.006', inputPer1M: '0.10' },
    { deployment: 'batch', from: '2026-10-15', inputPer1M: '1.25', outputPer1M: '5.00' },
  ],
} satisfies PriceFile;
