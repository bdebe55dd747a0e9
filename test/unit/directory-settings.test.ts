import { describe, expect, it } from 'vitest';
import { directoryFromEnvironment } from '../../src/config/composition-root.js';
import { loadDirectorySettings, loadSettings } from '../../src/config/settings.js';

describe('the settings of the directory commands', () => {
  it('need Table storage only, as the README says (Tables__endpoint with Entra ID), not the Cosmos DB account', () => {
    const env = { Tables__endpoint: 'https://contoso.table.core.windows.net' };
    expect(() => loadSettings(env)).toThrow(/^invalid settings: CosmosDB__accountEndpoint is not set$/);
    expect(loadDirectorySettings(env)).toEqual({ Tables__endpoint: 'https://contoso.table.core.windows.net' });
    expect(directoryFromEnvironment(loadDirectorySettings(env))).toBeDefined();
  });

  it('refuse a Table storage endpoint that is not a URL, naming the setting', () => {
    expect(() => loadDirectorySettings({ Tables__endpoint: 'contoso' })).toThrow(/invalid settings: Tables__endpoint: Invalid URL/);
    expect(() => directoryFromEnvironment(loadDirectorySettings({}))).toThrow(/^Tables__endpoint is not set: the identity directory is in its Table storage$/);
  });
});
