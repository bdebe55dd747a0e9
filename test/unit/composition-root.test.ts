import { describe, expect, it } from 'vitest';
import { directoryFromEnvironment } from '../../src/config/composition-root.js';
import type { Settings } from '../../src/config/settings.js';

describe('the function app wiring', () => {
  it('makes one identity directory client, and so one managed identity credential, per process, not one per request', () => {
    const settings = { Tables__endpoint: 'https://tokenledgerdirectory.table.core.windows.net' } as Settings;
    expect(directoryFromEnvironment(settings)).toBe(directoryFromEnvironment(settings));
  });
});
