import { describe, expect, it } from 'vitest';
import { directoryFromEnvironment, tokenValidatorFrom } from '../../src/config/composition-root.js';
import { loadSettings, type Settings } from '../../src/config/settings.js';

describe('the function app wiring', () => {
  it('makes one identity directory client, and so one managed identity credential, per process, not one per request', () => {
    const settings = { Tables__endpoint: 'https://tokenledgerdirectory.table.core.windows.net' } as Settings;
    expect(directoryFromEnvironment(settings)).toBe(directoryFromEnvironment(settings));
  });

  it('makes one token validator, and so one signing key cache, per process for every route, not one per route', () => {
    const base = { CosmosDB__accountEndpoint: 'https://cosmos.example:443/', AUTH_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47', AUTH_AUDIENCE: '6e74172b-be56-4843-9ff4-e66a39bb12e3' };
    expect(tokenValidatorFrom(loadSettings(base))).toBe(tokenValidatorFrom(loadSettings(base)));
    expect(tokenValidatorFrom(loadSettings({ ...base, AUTH_AUDIENCE: 'api://another' }))).not.toBe(tokenValidatorFrom(loadSettings(base)));
  });
});
