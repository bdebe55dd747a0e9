import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Database } from '@azure/cosmos';
import { CONTAINERS, ensureContainers } from '../../src/config/composition-root.js';
import { settingsSchema } from '../../src/config/settings.js';
import { REQUEST_RESPONSE_CONTAINER } from '../../src/domain/archive-layout.js';

// Structural checks of infra/ (Bicep) against the code, without a Bicep compiler: the app settings the code reads
// are all set, nothing uses keys, local auth is off, every role is assigned, and every loaded file exists.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const infraDir = join(root, 'infra');
const readRepoFile = (path: string): string => readFileSync(join(root, path), 'utf8');

function listFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? listFiles(path, suffix) : path.endsWith(suffix) ? [path] : [];
    })
    .sort();
}

// ---------------------------------------------------------------------------------------------
// A small Bicep scanner: comments blanked, string contents masked, so braces can be matched.

interface BicepFile {
  readonly path: string;
  readonly name: string;
  /** The text with comments blanked (same length and line breaks as the file). */
  readonly code: string;
  /** `code` with the characters inside string literals (not interpolations) replaced by `~`. */
  readonly structure: string;
}

function scanBicep(text: string): { code: string; structure: string } {
  let code = '';
  let structure = '';
  const stack: Array<'string' | 'interpolation' | '{' | '[' | '('> = [];
  const closers: Record<string, '{' | '[' | '('> = { '}': '{', ']': '[', ')': '(' };
  const emit = (c: string, masked: string = c): void => {
    code += c;
    structure += masked;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (stack.at(-1) === 'string') {
      if (c === '\\') {
        emit(c + (next ?? ''), '~~');
        i += 2;
      } else if (c === '$' && next === '{') {
        stack.push('interpolation');
        emit('${');
        i += 2;
      } else if (c === "'") {
        stack.pop();
        emit(c);
        i += 1;
      } else {
        if (c === '\n') throw new Error(`unterminated string at offset ${i}`);
        emit(c, '~');
        i += 1;
      }
      continue;
    }
    if (text.startsWith("'''", i)) {
      const end = text.indexOf("'''", i + 3);
      if (end === -1) throw new Error(`unterminated multi-line string at offset ${i}`);
      const body = text.slice(i + 3, end);
      emit(`'''${body}'''`, `'''${body.replace(/[^\n]/g, '~')}'''`);
      i = end + 3;
    } else if (c === "'") {
      stack.push('string');
      emit(c);
      i += 1;
    } else if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      emit(' '.repeat(stop - i));
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) throw new Error(`unterminated comment at offset ${i}`);
      const blank = text.slice(i, end + 2).replace(/[^\n]/g, ' ');
      emit(blank);
      i = end + 2;
    } else {
      if (c === '{' || c === '[' || c === '(') stack.push(c);
      const opener = closers[c];
      if (opener) {
        const top = stack.pop();
        if (c === '}' && top === 'interpolation') {
          // back inside the string
        } else if (top !== opener) {
          throw new Error(`unbalanced '${c}' at line ${text.slice(0, i).split('\n').length}`);
        }
      }
      emit(c);
      i += 1;
    }
  }
  if (stack.length > 0) throw new Error(`unclosed ${stack.join(', ')} at end of file`);
  return { code, structure };
}

const bicepPaths = existsSync(infraDir) ? listFiles(infraDir, '.bicep') : [];
const scanErrors: string[] = [];
const bicepFiles: BicepFile[] = bicepPaths.flatMap((path) => {
  const name = relative(root, path);
  try {
    return [{ path, name, ...scanBicep(readFileSync(path, 'utf8')) }];
  } catch (error) {
    scanErrors.push(`${name}: ${(error as Error).message}`);
    return [];
  }
});
const bicepByName = (name: string): BicepFile => {
  const file = bicepFiles.find((f) => f.name === name);
  if (!file) throw new Error(`${name} is missing`);
  return file;
};

/** Index of the bracket closing the one at `open`. */
function matchingClose(structure: string, open: number): number {
  let depth = 0;
  for (let i = open; i < structure.length; i += 1) {
    const c = structure[i];
    if (c === '{' || c === '[' || c === '(') depth += 1;
    else if (c === '}' || c === ']' || c === ')') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  throw new Error(`no bracket closes offset ${open}`);
}

/** A piece of a file: an object literal `{ … }` (or any bracketed text) with its masked twin. */
interface Fragment {
  readonly code: string;
  readonly structure: string;
}

interface BicepResource {
  readonly file: string;
  readonly symbol: string;
  readonly type: string;
  readonly apiVersion: string;
  readonly existing: boolean;
  readonly body: Fragment;
}

function resourcesOf(file: BicepFile): BicepResource[] {
  const found: BicepResource[] = [];
  const declaration = /\bresource\s+(\w+)\s+'([^'@]+)@([^']+)'(\s+existing)?\s*=/g;
  for (const match of file.code.matchAll(declaration)) {
    const at = match.index;
    if (file.structure.slice(at, at + 8) !== 'resource') continue; // inside a string
    const open = file.structure.indexOf('{', at + match[0].length);
    const close = matchingClose(file.structure, open);
    found.push({
      file: file.name,
      symbol: match[1]!,
      type: match[2]!,
      apiVersion: match[3]!,
      existing: match[4] !== undefined,
      body: { code: file.code.slice(open, close + 1), structure: file.structure.slice(open, close + 1) },
    });
  }
  return found;
}

const resources = bicepFiles.flatMap(resourcesOf);
const declared = (type: string): BicepResource[] =>
  resources.filter((r) => r.type.toLowerCase() === type.toLowerCase() && !r.existing);

/** Top-level entries `key: value` of an object literal, value as written (trimmed). */
function entries(object: Fragment): Map<string, Fragment> {
  const result = new Map<string, Fragment>();
  const { code, structure } = object;
  if (structure[0] !== '{') throw new Error(`not an object: ${code.slice(0, 40)}`);
  let depth = 0;
  let i = 0;
  let atEntryStart = false;
  while (i < structure.length) {
    const c = structure[i]!;
    if (depth === 1 && atEntryStart && !/\s/.test(c)) {
      atEntryStart = false;
      const key = /^([A-Za-z_$][\w$]*|'[^']*')\s*:/.exec(code.slice(i));
      if (key) {
        const valueStart = i + key[0].length;
        let j = valueStart;
        let inner = 0;
        while (j < structure.length) {
          const d = structure[j]!;
          if (d === '{' || d === '[' || d === '(') inner += 1;
          else if (d === '}' || d === ']' || d === ')') {
            if (inner === 0) break;
            inner -= 1;
          } else if (inner === 0 && (d === '\n' || d === ',')) break;
          j += 1;
        }
        const raw = code.slice(valueStart, j);
        const lead = raw.length - raw.trimStart().length;
        const value = { code: raw.trim(), structure: structure.slice(valueStart + lead, valueStart + lead + raw.trim().length) };
        result.set(key[1]!.replace(/^'|'$/g, ''), value);
        i = j;
        continue;
      }
    }
    if (c === '{' || c === '[' || c === '(') {
      depth += 1;
      if (depth === 1) atEntryStart = true;
    } else if (c === '}' || c === ']' || c === ')') depth -= 1;
    else if (depth === 1 && (c === '\n' || c === ',')) atEntryStart = true;
    i += 1;
  }
  return result;
}

/** The value at a dotted path of nested object literals, e.g. `properties.functionAppConfig.runtime`. */
function at(object: Fragment, path: string): Fragment | undefined {
  let current: Fragment | undefined = object;
  for (const key of path.split('.')) {
    if (!current || !current.structure.startsWith('{')) return undefined;
    current = entries(current).get(key);
  }
  return current;
}

const valueOf = (object: Fragment, path: string): string | undefined => at(object, path)?.code;

// ---------------------------------------------------------------------------------------------
// What the code reads.

type AnySchema = z.core.$ZodType;

/** The object schema inside refine/optional/default/pipe wrappers (zod 4 keeps refinements as checks on the object). */
function unwrapToObject(schema: AnySchema, depth = 0): z.ZodObject | undefined {
  if (schema instanceof z.ZodObject) return schema;
  if (depth > 20) return undefined;
  const def = schema._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema; out?: AnySchema; schema?: AnySchema };
  const inner = def.innerType ?? def.schema;
  if (inner) return unwrapToObject(inner, depth + 1);
  if (def.type === 'pipe' && def.in && def.out) return unwrapToObject(def.in, depth + 1) ?? unwrapToObject(def.out, depth + 1);
  return undefined;
}

const settingsObject = unwrapToObject(settingsSchema);
const settingsKeys = settingsObject ? Object.keys(settingsObject.shape).sort() : [];

/** Settings that carry a key or secret: accepted for local emulators only, never set in Azure. */
const KEY_SETTING = /(__key|key|secret|password|sas|connectionstring)$/i;
const keySettings = settingsKeys.filter((key) => KEY_SETTING.test(key));

/** The app setting a trigger/binding connection is resolved from, identity-based, by binding kind. */
function connectionSettings(kind: string, connection: string): string[] {
  const service = /^cosmos/i.test(kind)
    ? `${connection}__accountEndpoint`
    : /^storage/i.test(kind)
      ? `${connection}__accountName`
      : `${connection}__fullyQualifiedNamespace`; // eventHub, serviceBus…
  return [service, `${connection}__credential`, `${connection}__clientId`];
}

const functionSources = listFiles(join(root, 'functions'), '.ts').map((path) => ({
  name: relative(root, path),
  text: readFileSync(path, 'utf8'),
}));

const placeholders = [...new Set(functionSources.flatMap(({ text }) => [...text.matchAll(/%([A-Za-z_][A-Za-z0-9_]*)%/g)].map((m) => m[1]!)))].sort();

const connections = functionSources.flatMap(({ name, text }) =>
  [...text.matchAll(/\bconnection\s*:\s*['"`]([^'"`]+)['"`]/g)].map((m) => {
    const before = text.slice(0, m.index);
    const kinds = [...before.matchAll(/\b(?:app|input|output|trigger)\.(\w+)\s*\(/g)];
    return { file: name, connection: m[1]!, kind: kinds.at(-1)?.[1] ?? 'eventHub' };
  }),
);

const requiredFromConnections = connections.flatMap(({ kind, connection }) => connectionSettings(kind, connection));

/** The Functions host's own storage, always identity-based. */
const HOST_STORAGE = ['AzureWebJobsStorage__accountName', 'AzureWebJobsStorage__credential', 'AzureWebJobsStorage__clientId'];

const requiredSettings = [
  ...new Set([...settingsKeys.filter((key) => !keySettings.includes(key)), ...placeholders, ...requiredFromConnections, ...HOST_STORAGE]),
].sort();

// ---------------------------------------------------------------------------------------------
// What the Bicep sets.

const siteConfigs = declared('Microsoft.Web/sites/config').filter((r) => valueOf(r.body, 'name') === "'appsettings'");
const sites = declared('Microsoft.Web/sites');

function appSettingsOf(): Map<string, string> {
  const settings = new Map<string, string>();
  for (const config of siteConfigs) {
    const properties = at(config.body, 'properties');
    if (properties) for (const [key, value] of entries(properties)) settings.set(key, value.code);
  }
  for (const site of sites) {
    const list = at(site.body, 'properties.siteConfig.appSettings');
    if (!list) continue;
    for (const item of list.code.matchAll(/name\s*:\s*'([^']+)'\s*[\n,]\s*value\s*:\s*([^\n]+)/g)) settings.set(item[1]!, item[2]!.trim());
  }
  return settings;
}

const appSettings = appSettingsOf();

/** Built-in Azure roles TokenLedger assigns (Azure RBAC role definition ids). */
const BUILT_IN_ROLES: Record<string, string> = {
  'a638d3c7-ab3a-418d-83e6-5f17a39d4fde': 'Azure Event Hubs Data Receiver',
  '2b629674-e913-4c01-ae53-ef4638d8f975': 'Azure Event Hubs Data Sender',
  '73c42c96-874c-492b-b04d-ab87d138a893': 'Log Analytics Reader',
  '43d0d8ad-25c7-4714-9337-8ba259a9fe05': 'Monitoring Reader',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': 'Storage Blob Data Reader',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};
const COSMOS_DATA_CONTRIBUTOR = '00000000-0000-0000-0000-000000000002';
const COSMOS_DATA_READER = '00000000-0000-0000-0000-000000000001';
const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Text that means a key, a SAS or a key-bearing connection string. */
const KEY_PATTERNS: Array<[RegExp, string]> = [
  [/\blist[A-Z]\w*\s*\(/, 'a list*() function (listKeys, listConnectionStrings, listAccountSas, …)'],
  [/AccountKey/i, 'a storage account key'],
  [/SharedAccess(Key|Signature)/i, 'a shared access key or signature'],
  [/\b(primary|secondary)(Master|ReadonlyMaster)?Key\b/i, 'a primary/secondary key'],
  [/\b(primary|secondary)ConnectionString\b/i, 'a key-bearing connection string'],
  [/\bconnectionStrings\s*:/, 'site connectionStrings'],
  [/__key\b/i, 'a key-based setting'],
  [/APPINSIGHTS_INSTRUMENTATIONKEY/i, 'the instrumentation-key setting'],
  [/\bsasToken\b|\bsig=/i, 'a SAS token'],
];

// ---------------------------------------------------------------------------------------------

describe('infra/: files and syntax', () => {
  it('has azure.yaml with the function app service', () => {
    const yaml = readRepoFile('azure.yaml');
    const service = /^services:\s*\n\s+api:\s*\n((?:\s{4,}\S.*\n?)+)/m.exec(yaml);
    expect(service, 'services.api in azure.yaml').not.toBeNull();
    const body = service![1]!;
    expect(body).toMatch(/^\s+project:\s*\.\s*$/m);
    expect(body).toMatch(/^\s+language:\s*ts\s*$/m);
    expect(body).toMatch(/^\s+host:\s*function\s*$/m);
  });

  it('has main.bicep, roles.bicep and modules', () => {
    const names = bicepFiles.map((f) => f.name);
    expect(names).toContain(join('infra', 'main.bicep'));
    expect(names).toContain(join('infra', 'roles.bicep'));
    expect(names.filter((n) => n.startsWith(join('infra', 'modules')))).not.toHaveLength(0);
  });

  it('scans every .bicep file with balanced brackets and terminated strings', () => {
    expect(scanErrors).toEqual([]);
    expect(bicepFiles.length).toBe(bicepPaths.length);
    for (const file of bicepFiles) expect(file.code.length, file.name).toBeGreaterThan(0);
  });

  it('declares every resource with an API version and gives every module a path that exists', () => {
    for (const file of bicepFiles) {
      for (const match of file.code.matchAll(/\bresource\s+\w+\s+'([^']+)'/g)) {
        expect(match[1], `${file.name}: ${match[0]}`).toMatch(/^[\w.]+\/[\w./]+@\d{4}-\d{2}-\d{2}(-preview)?$/);
      }
      for (const match of file.code.matchAll(/\bmodule\s+\w+\s+'([^']+)'/g)) {
        const target = match[1]!;
        if (target.startsWith('br/') || target.startsWith('br:') || target.startsWith('ts/')) continue;
        expect(existsSync(resolve(dirname(file.path), target)), `${file.name}: module '${target}'`).toBe(true);
      }
    }
  });

  it('loads only files that exist, and every gateway policy fragment', () => {
    const loaded = bicepFiles.flatMap((file) =>
      [...file.code.matchAll(/\bload(?:Text|Json|Yaml|FileAsBase64)Content\(\s*'([^']+)'/g)].map((m) => resolve(dirname(file.path), m[1]!)),
    );
    expect(loaded.length).toBeGreaterThan(0);
    for (const path of loaded) {
      expect(existsSync(path), relative(root, path)).toBe(true);
      // loadTextContent refuses files above 131,072 characters.
      expect(readFileSync(path, 'utf8').length, relative(root, path)).toBeLessThanOrEqual(131_072);
    }
    const fragments = readdirSync(join(root, 'gateway'))
      .filter((name) => name.endsWith('.xml'))
      .map((name) => join(root, 'gateway', name));
    for (const fragment of fragments) expect(loaded, relative(root, fragment)).toContain(fragment);
  });

  it('has a parameters file whose parameters main.bicep declares, covering the required ones', () => {
    const parameters = JSON.parse(readRepoFile('infra/main.parameters.json')) as { parameters: Record<string, unknown> };
    const main = bicepByName(join('infra', 'main.bicep'));
    const declaredParams = new Map(
      [...main.code.matchAll(/^param\s+(\w+)\s+\w+(\s*=)?/gm)].map((m) => [m[1]!, m[2] !== undefined] as const),
    );
    for (const name of Object.keys(parameters.parameters)) expect(declaredParams.has(name), `parameter ${name}`).toBe(true);
    for (const [name, hasDefault] of declaredParams) {
      if (!hasDefault) expect(Object.keys(parameters.parameters), `required parameter ${name}`).toContain(name);
    }
  });
});

describe('infra/: the function app sets every setting the code reads', () => {
  it('derives the settings from the code', () => {
    expect(settingsObject, 'settingsSchema wraps a zod object').toBeDefined();
    expect(settingsKeys).toContain('CosmosDB__accountEndpoint');
    expect(placeholders.length, 'placeholders %NAME% in functions/').toBeGreaterThan(0);
    expect(connections.length, "connection: '…' in functions/").toBeGreaterThan(0);
  });

  it('finds the app settings in one appsettings config of a Flex Consumption site', () => {
    expect(sites).toHaveLength(1);
    expect(siteConfigs.length + sites.filter((s) => at(s.body, 'properties.siteConfig.appSettings')).length).toBe(1);
    expect(appSettings.size).toBeGreaterThan(0);
  });

  it('sets every settingsSchema key (except emulator keys), %NAME% placeholder and connection setting', () => {
    const missing = requiredSettings.filter((key) => !appSettings.has(key));
    expect(missing, `app settings missing from the Bicep`).toEqual([]);
  });

  it('names in the runbook every app setting it writes', () => {
    const runbook = readRepoFile('infra/README.md');
    // The runbook writes a group of settings as `Prefix__a`, `__b`, `__c`.
    const named = (key: string) => {
      const [prefix, suffix] = key.split('__');
      return runbook.includes(key) || (suffix !== undefined && runbook.includes(`${prefix}__`) && runbook.includes(`\`__${suffix}\``));
    };
    expect([...appSettings.keys()].filter((key) => !named(key)), 'app settings infra/README.md never names').toEqual([]);
  });

  it('never sets a key-based setting', () => {
    expect(keySettings, 'the settings schema has an emulator-only key').toContain('CosmosDB__key');
    for (const key of appSettings.keys()) expect(KEY_SETTING.test(key) && !/^APPLICATIONINSIGHTS_CONNECTION_STRING$/.test(key), key).toBe(false);
    expect(appSettings.has('AzureWebJobsStorage'), 'AzureWebJobsStorage as a connection string').toBe(false);
  });

  it('connects with the managed identity', () => {
    const prefixes = [...new Set([...connections.map((c) => c.connection), 'AzureWebJobsStorage'])];
    for (const prefix of prefixes) {
      expect(appSettings.get(`${prefix}__credential`), `${prefix}__credential`).toBe("'managedidentity'");
      expect(appSettings.get(`${prefix}__clientId`), `${prefix}__clientId`).toMatch(/clientId/i);
    }
    expect(appSettings.get('CosmosDB__clientId')).toMatch(/clientId/i);
    expect(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toMatch(/Authorization=AAD/);
    expect(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toMatch(/ClientId=\$\{\w+\}/);
  });

  it('runs Node 22 on Flex Consumption with identity-based deployment storage, while the package still accepts Node 20', () => {
    const [site] = sites;
    expect(valueOf(site!.body, 'properties.functionAppConfig.runtime.name')).toBe("'node'");
    expect(valueOf(site!.body, 'properties.functionAppConfig.runtime.version')).toBe("'22'");
    // Node 20 is end of life in Azure, yet the code and lockfile keep working on it (local machines, CI).
    expect(JSON.parse(readRepoFile('package.json')).engines.node).toBe('>=20.12');
    expect(valueOf(site!.body, 'properties.functionAppConfig.deployment.storage.authentication.type')).toMatch(/AssignedIdentity'$/);
    expect(valueOf(site!.body, 'identity.type')).toBe("'UserAssigned'");
    const plans = declared('Microsoft.Web/serverfarms');
    expect(plans).toHaveLength(1);
    expect(valueOf(plans[0]!.body, 'sku.name')).toBe("'FC1'");
    expect(valueOf(plans[0]!.body, 'sku.tier')).toBe("'FlexConsumption'");
    // Flex Consumption rejects these: the runtime comes from functionAppConfig.
    for (const key of ['FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_EXTENSION_VERSION', 'WEBSITE_RUN_FROM_PACKAGE', 'WEBSITE_NODE_DEFAULT_VERSION', 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING']) {
      expect(appSettings.has(key), key).toBe(false);
    }
  });

  it('names the hub, consumer group, database and archive container the local settings and the code use', () => {
    const local = JSON.parse(readRepoFile('local.settings.example.json')) as { Values: Record<string, string> };
    const database = settingsSchema.parse({ CosmosDB__accountEndpoint: 'https://example.documents.azure.com:443/' }).TOKENLEDGER_DATABASE;
    const main = bicepByName(join('infra', 'main.bicep')).code;
    expect(main).toContain(`'${local.Values.EVENTHUB_NAME}'`);
    expect(main).toContain(`'${local.Values.EVENTHUB_CONSUMER_GROUP}'`);
    expect(main).toMatch(new RegExp(`databaseName = '${database}'`));
    expect(main).toMatch(/partitionCount:\s*4\b/);
    // The archive container Azure Monitor writes and the join reads.
    expect(main).toMatch(new RegExp(`archiveContainerName = '${REQUEST_RESPONSE_CONTAINER}'`));
    expect(declared('Microsoft.EventHub/namespaces/eventhubs')).toHaveLength(1);
    expect(declared('Microsoft.EventHub/namespaces/eventhubs/consumergroups')).toHaveLength(1);
  });
});

describe('infra/: no keys, local auth off', () => {
  it('uses no key, SAS or key-bearing connection string anywhere', () => {
    const files = [...bicepFiles.map((f) => ({ name: f.name, text: readFileSync(f.path, 'utf8') })), { name: 'infra/main.parameters.json', text: readRepoFile('infra/main.parameters.json') }, { name: 'azure.yaml', text: readRepoFile('azure.yaml') }];
    for (const { name, text } of files) {
      for (const [pattern, what] of KEY_PATTERNS) expect(pattern.test(text), `${name} holds ${what}: ${pattern}`).toBe(false);
    }
  });

  it('outputs no secret', () => {
    for (const file of bicepFiles) {
      for (const match of file.code.matchAll(/^output\s+(\w+)\s+\w+\s*=\s*(.+)$/gm)) {
        expect(match[1], `${file.name}: output ${match[1]}`).not.toMatch(/key|secret|password|connectionstring|sas_?token|access_?token/i);
        expect(match[2], `${file.name}: output ${match[1]}`).not.toMatch(/\blist\w*\(|ConnectionString/i);
      }
      expect(file.code, `${file.name}: @secure() output`).not.toMatch(/@secure\(\)\s*\n\s*output/);
    }
  });

  it('disables local auth on Cosmos DB (serverless) and Event Hubs', () => {
    const cosmos = declared('Microsoft.DocumentDB/databaseAccounts');
    expect(cosmos).toHaveLength(1);
    for (const account of cosmos) {
      expect(valueOf(account.body, 'properties.disableLocalAuth')).toBe('true');
      expect(valueOf(account.body, 'properties.disableKeyBasedMetadataWriteAccess')).toBe('true');
      expect(valueOf(account.body, 'properties.capabilities')).toMatch(/'EnableServerless'/);
    }
    const namespaces = declared('Microsoft.EventHub/namespaces');
    expect(namespaces).toHaveLength(1);
    for (const namespace of namespaces) expect(valueOf(namespace.body, 'properties.disableLocalAuth')).toBe('true');
  });

  it('disables shared key access and public blobs on storage', () => {
    const accounts = declared('Microsoft.Storage/storageAccounts');
    expect(accounts).toHaveLength(1);
    for (const account of accounts) {
      expect(valueOf(account.body, 'properties.allowSharedKeyAccess')).toBe('false');
      expect(valueOf(account.body, 'properties.minimumTlsVersion')).toBe("'TLS1_2'");
      expect(valueOf(account.body, 'properties.allowBlobPublicAccess')).toBe('false');
    }
  });

  it('disables local auth on Log Analytics and Application Insights', () => {
    const workspaces = declared('Microsoft.OperationalInsights/workspaces');
    expect(workspaces).toHaveLength(1);
    for (const workspace of workspaces) expect(valueOf(workspace.body, 'properties.features.disableLocalAuth')).toBe('true');
    const components = declared('Microsoft.Insights/components');
    expect(components).toHaveLength(1);
    for (const component of components) expect(valueOf(component.body, 'properties.DisableLocalAuth')).toBe('true');
  });
});

describe('infra/: roles and data', () => {
  const assignments = declared('Microsoft.Authorization/roleAssignments');
  const assignedRoles = assignments.flatMap((r) => (valueOf(r.body, 'properties.roleDefinitionId') ?? '').match(GUID) ?? []).map((g) => g.toLowerCase());

  it('assigns each built-in role TokenLedger needs', () => {
    const missing = Object.entries(BUILT_IN_ROLES)
      .filter(([guid]) => !assignedRoles.includes(guid))
      .map(([guid, name]) => `${name} (${guid})`);
    expect(missing).toEqual([]);
  });

  it('assigns only known role definition ids, each by role definition resource id', () => {
    for (const assignment of assignments) {
      const roleDefinitionId = valueOf(assignment.body, 'properties.roleDefinitionId') ?? '';
      expect(roleDefinitionId, `${assignment.file}: ${assignment.symbol}`).toMatch(/subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions',/);
      for (const guid of roleDefinitionId.match(GUID) ?? []) expect(Object.keys(BUILT_IN_ROLES), `${assignment.file}: ${assignment.symbol}`).toContain(guid.toLowerCase());
      expect(valueOf(assignment.body, 'properties.principalId'), `${assignment.file}: ${assignment.symbol}`).toBeDefined();
      expect(valueOf(assignment.body, 'name'), `${assignment.file}: ${assignment.symbol}`).toMatch(/^guid\(/);
    }
  });

  it('keeps the role assignments in roles.bicep and the role modules', () => {
    for (const assignment of [...assignments, ...declared('Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments')]) {
      expect(assignment.file, assignment.symbol).toMatch(/(^|[\\/])(roles\.bicep|[\w-]*roles\.bicep)$/);
    }
  });

  it('gives the function identity the Cosmos DB data-plane Data Contributor role', () => {
    const cosmosAssignments = declared('Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments');
    const contributor = cosmosAssignments.filter((r) => (valueOf(r.body, 'properties.roleDefinitionId') ?? '').includes(`sqlRoleDefinitions/${COSMOS_DATA_CONTRIBUTOR}`));
    expect(contributor).toHaveLength(1);
    expect(valueOf(contributor[0]!.body, 'properties.principalId')).toBe('identityPrincipalId');
    for (const assignment of cosmosAssignments) {
      expect(valueOf(assignment.body, 'properties.roleDefinitionId')).toMatch(new RegExp(`sqlRoleDefinitions/(${COSMOS_DATA_CONTRIBUTOR}|${COSMOS_DATA_READER})'$`));
    }
  });

  it('creates the database and every container the code uses, partitioned as the code expects', () => {
    const cosmos = readFileSync(join(infraDir, 'modules', 'cosmos.bicep'), 'utf8');
    const wanted = [...Object.values(CONTAINERS).map((c) => ({ id: c.id, partitionKey: c.partitionKey })), { id: 'aggregates', partitionKey: '/pk' }];
    for (const { id, partitionKey } of wanted) {
      expect(cosmos, `container ${id}`).toMatch(new RegExp(`name:\\s*'${id}',?\\s*partitionKey:\\s*'${partitionKey.replace('/', '\\/')}'`));
    }
    expect(declared('Microsoft.DocumentDB/databaseAccounts/sqlDatabases')).toHaveLength(1);
    expect(declared('Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers')).toHaveLength(1);
  });

  it('partitions the containers the local stack creates as infra deploys them: Hash, version 2 (large partition keys)', async () => {
    const cosmos = readFileSync(join(infraDir, 'modules', 'cosmos.bicep'), 'utf8');
    expect(cosmos).toMatch(/partitionKey: \{\s*paths: \[\s*container\.partitionKey\s*\]\s*kind: 'Hash'\s*version: 2\s*\}/);
    const created: { id: string; partitionKey: unknown }[] = [];
    const database = { containers: { createIfNotExists: async (body: (typeof created)[number]) => void created.push(body) } } as unknown as Database;
    await ensureContainers(database);
    expect(created).toEqual(Object.values(CONTAINERS).map((c) => ({ id: c.id, partitionKey: { paths: [c.partitionKey], kind: 'Hash', version: 2 } })));
  });

  it('gives the function identity Monitoring Reader on each subscription of the Azure OpenAI accounts, where metrics:getBatch is called', () => {
    const roles = readFileSync(join(infraDir, 'modules', 'openai-roles.bicep'), 'utf8');
    expect(roles).toMatch(/^targetScope = 'subscription'$/m);
    expect(roles).toContain('43d0d8ad-25c7-4714-9337-8ba259a9fe05');
    expect(roles).not.toMatch(/^\s+scope:/m);
    const main = readFileSync(join(infraDir, 'main.bicep'), 'utf8');
    expect(main).toMatch(/module openAiRoles 'modules\/openai-roles\.bicep' = \[\s*for \(subscriptionId, i\) in openAiSubscriptions: \{[^]*?scope: subscription\(subscriptionId\)/);
    expect(main).toMatch(/var openAiSubscriptions = union\(map\(openAiAccountIds, accountId => split\(accountId, '\/'\)\[2\]\), \[\]\)/);
  });

  it('archives an account’s logs only to a storage account in its region', () => {
    const diagnostics = declared('Microsoft.Insights/diagnosticSettings')[0]!.body;
    expect(valueOf(diagnostics, 'properties.storageAccountId')).toMatch(/toLower\(account\.location\) == toLower\(archiveLocation\)/);
    expect(readFileSync(join(infraDir, 'main.bicep'), 'utf8')).toMatch(/archiveLocation: location/);
  });

  it('sends the Azure OpenAI RequestResponse logs to the workspace', () => {
    const diagnostics = declared('Microsoft.Insights/diagnosticSettings');
    expect(diagnostics).toHaveLength(1);
    const body = diagnostics[0]!.body;
    expect(valueOf(body, 'scope')).toBeDefined();
    expect(valueOf(body, 'properties.workspaceId')).toBeDefined();
    expect(valueOf(body, 'properties.logs')).toMatch(/category:\s*'RequestResponse'/);
    expect(valueOf(body, 'properties.logAnalyticsDestinationType'), 'RequestResponse is read from AzureDiagnostics').toBeUndefined();
  });
});

describe('infra/: the gateway side', () => {
  it('creates the Event Hubs logger with the managed identity, not a connection string', () => {
    const loggers = declared('Microsoft.ApiManagement/service/loggers');
    expect(loggers).toHaveLength(1);
    const body = loggers[0]!.body;
    expect(valueOf(body, 'properties.loggerType')).toBe("'azureEventHub'");
    expect(valueOf(body, 'properties.credentials.endpointAddress')).toBeDefined();
    expect(valueOf(body, 'properties.credentials.identityClientId')).toBe("'SystemAssigned'");
    expect(valueOf(body, 'properties.credentials.connectionString')).toBeUndefined();
  });

  it('creates the named value the fragment sends through', () => {
    const namedValues = declared('Microsoft.ApiManagement/service/namedValues');
    const names = namedValues.map((r) => valueOf(r.body, 'name')?.replace(/'/g, ''));
    const fragment = readRepoFile('gateway/tokenledger-log-policy.xml');
    for (const [, name] of fragment.matchAll(/\{\{([\w-]+)\}\}/g)) expect(names, `named value ${name}`).toContain(name);
    for (const namedValue of namedValues) expect(valueOf(namedValue.body, 'properties.secret')).toBe('false');
  });

  it('imports every fragment as xml', () => {
    const fragments = declared('Microsoft.ApiManagement/service/policyFragments');
    expect(fragments.length).toBe(readdirSync(join(root, 'gateway')).filter((n) => n.endsWith('.xml')).length);
    for (const fragment of fragments) {
      expect(valueOf(fragment.body, 'properties.format')).toBe("'xml'");
      expect(valueOf(fragment.body, 'properties.value')).toMatch(/^loadTextContent\('[^']+\.xml'\)$/);
    }
  });

  it('deploys the gateway side only when an API Management service is named', () => {
    const main = bicepByName(join('infra', 'main.bicep')).code;
    expect(main).toMatch(/param apimServiceName string = ''/);
    expect(main).toMatch(/module \w+ '[^']*apim[^']*\.bicep' = if \(/);
  });
});
