/**
 * Every file of functions/ loaded as the Azure Functions Node.js worker loads the app, against a stand-in for the
 * worker's core API. `@azure/functions` registers through `require('@azure/functions-core')`, which the worker
 * provides; the worker's `registerFunction` refuses a second function of one id (its name, as `@azure/functions`
 * sends no other): "A function with id … has already been registered" (azure-functions-nodejs-worker#692), and on
 * Node 20 and later an error while loading an entry point stops the whole app (azure-functions-nodejs-worker#697).
 */
import Module from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';

interface Registration {
  readonly name: string;
  readonly bindings: Record<string, Record<string, unknown>>;
  readonly retryOptions?: Record<string, unknown>;
}

const registered = new Map<string, Registration>();
const loadErrors: { file: string; message: string }[] = [];

const workerCoreApi = {
  version: '3.10.1',
  setProgrammingModel() {},
  getProgrammingModel() {},
  registerHook: () => ({ dispose() {} }),
  log() {},
  registerFunction(metadata: Registration & { functionId?: string }) {
    const id = metadata.functionId || metadata.name;
    if (registered.has(id)) throw new Error(`A function with id "${id}" has already been registered.`);
    registered.set(id, metadata);
    return { dispose() {} };
  },
};

const triggerOf = (registration: Registration) => Object.values(registration.bindings).find((binding) => String(binding['type']).endsWith('Trigger'))!;

beforeAll(async () => {
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = loader._load;
  loader._load = function (request: string, ...rest: unknown[]) {
    return request === '@azure/functions-core' ? workerCoreApi : load.call(this, request, ...rest);
  };
  try {
    // package.json's main is dist/functions/*.js: the worker loads every file of the folder, in name order.
    const folder = join(import.meta.dirname, '../../functions');
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.ts')).sort()) {
      try {
        await import(join(folder, file));
      } catch (error) {
        loadErrors.push({ file, message: (error as Error).message });
      }
    }
  } finally {
    loader._load = load;
  }
});

describe('the function app as the Node.js worker loads it', () => {
  it('loads every entry point: no two functions share a name', () => {
    expect(loadErrors).toEqual([]);
  });

  it('registers every HTTP route the README lists, and each timer with its schedule setting', () => {
    const triggers = [...registered.values()].map(triggerOf);
    const routes = triggers.filter((t) => t['type'] === 'httpTrigger').map((t) => t['route']);
    expect(routes).toEqual(expect.arrayContaining(['chargeback', 'requests', 'latency', 'weights', 'traffic', 'reconciliation', 'directory']));
    const schedules = triggers.filter((t) => t['type'] === 'timerTrigger').map((t) => t['schedule']);
    expect(schedules).toEqual(expect.arrayContaining(['%WEIGHTS_SCHEDULE%']));
    expect(schedules).toHaveLength(5);
  });

  it("sets in local.settings.example.json each app setting a timer's schedule names, to the schedule the app defaults to", () => {
    // Learn, "Azure Functions binding expression patterns": app setting expressions are wrapped in percent signs, and
    // "when a function is running locally, app setting values come from the local.settings.json file". The host
    // cannot index a timer whose setting is missing; the app's own defaults (src/config/settings.ts) are not the host's.
    const example = JSON.parse(readFileSync(join(import.meta.dirname, '../../local.settings.example.json'), 'utf8')) as { Values: Record<string, string> };
    const defaults = loadSettings({ CosmosDB__accountEndpoint: 'https://account.documents.azure.com:443/' }) as unknown as Record<string, unknown>;
    const settings = [...registered.values()].map(triggerOf).filter((t) => t['type'] === 'timerTrigger').map((t) => /^%(\w+)%$/.exec(String(t['schedule']))![1]!);
    expect(settings).toHaveLength(5);
    for (const name of settings) expect({ name, value: example.Values[name] }).toEqual({ name, value: defaults[name] });
  });

  it('binds the ingest trigger to bodies as bytes, a batch at a time, with a finite retry policy', () => {
    const ingest = registered.get('ingest')!;
    expect(triggerOf(ingest)).toMatchObject({ type: 'eventHubTrigger', cardinality: 'many', dataType: 'binary', connection: 'EventHubConnection' });
    expect(ingest.retryOptions).toMatchObject({ strategy: expect.any(String), maxRetryCount: 5 });
  });
});
