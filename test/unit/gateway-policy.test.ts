import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GATEWAY_EVENT_SCHEMA_V1, MAX_TEXT_LENGTH, gatewayEventV1Schema } from '../../src/contracts/gateway-event.js';
import { policyCaller } from '../support/policy-caller.js';

const gatewayDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../gateway');
const xmlFiles = readdirSync(gatewayDir)
  .filter((name) => name.endsWith('.xml'))
  .sort();
const readGatewayFile = (name: string): string => readFileSync(join(gatewayDir, name), 'utf8');

/** APIM's limit for one policy fragment. */
const MAX_FRAGMENT_BYTES = 32 * 1024;

// ---------------------------------------------------------------------------------------------
// Field names of the v1 contract, read from the zod schema itself.

type AnySchema = z.core.$ZodType;

/** The object schema inside optional/nullable/default/catch/readonly/pipe wrappers, if any. */
function unwrapToObject(schema: AnySchema, depth = 0): z.ZodObject | undefined {
  if (schema instanceof z.ZodObject) return schema;
  if (depth > 20) return undefined;
  const def = schema._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema; out?: AnySchema };
  if (def.innerType) return unwrapToObject(def.innerType, depth + 1);
  if (def.type === 'pipe' && def.in && def.out) {
    return unwrapToObject(def.in, depth + 1) ?? unwrapToObject(def.out, depth + 1);
  }
  return undefined;
}

/** Dotted paths of every field, nested objects included: "gateway", "gateway.service", ... */
function fieldPaths(shape: Record<string, AnySchema>, prefix = ''): string[] {
  return Object.entries(shape).flatMap(([key, schema]) => {
    const path = `${prefix}${key}`;
    const nested = unwrapToObject(schema);
    return nested ? [path, ...fieldPaths(nested.shape, `${path}.`)] : [path];
  });
}

const schemaPaths = fieldPaths(gatewayEventV1Schema.shape);
const nestedObjects = Object.entries(gatewayEventV1Schema.shape)
  .filter(([, schema]) => unwrapToObject(schema) !== undefined)
  .map(([key]) => key);

// ---------------------------------------------------------------------------------------------
// XML helpers.

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

/** Decodes the five predefined XML entities and character references, as APIM's XML reader does. */
function decodeXmlEntities(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_match, entity: string) => {
    switch (entity) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(
          entity.startsWith('#x') ? Number.parseInt(entity.slice(2), 16) : Number.parseInt(entity.slice(1), 10),
        );
    }
  });
}

interface FoundElement {
  file: string;
  node: unknown;
}

/** Every element called `name`, at any depth (fast-xml-parser gives repeated elements as arrays). */
function findElements(node: unknown, name: string, file: string): FoundElement[] {
  if (Array.isArray(node)) return node.flatMap((item) => findElements(item, name, file));
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node as Record<string, unknown>).flatMap(([key, value]) => {
    const own = key === name ? [value].flat().map((found) => ({ file, node: found })) : [];
    return [...own, ...findElements(value, name, file)];
  });
}

/** Element names used anywhere below `node`. */
function elementNames(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(elementNames);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node as Record<string, unknown>)
    .filter(([key]) => !key.startsWith('@_') && key !== '#text')
    .flatMap(([key, value]) => [key, ...elementNames(value)]);
}

const parsed = xmlFiles.map((file) => ({ file, document: parser.parse(readGatewayFile(file)) as unknown }));
const logElements = parsed.flatMap(({ file, document }) => findElements(document, 'log-to-eventhub', file));

function logElement(): { file: string; loggerId: string; expression: string } {
  expect(logElements).toHaveLength(1);
  const [found] = logElements;
  if (!found || found.node === null || typeof found.node !== 'object') {
    throw new Error('log-to-eventhub has no attributes or expression');
  }
  const element = found.node as Record<string, unknown>;
  const loggerId = element['@_logger-id'];
  const expression = element['#text'];
  if (typeof loggerId !== 'string' || typeof expression !== 'string') {
    throw new Error('log-to-eventhub needs a logger-id attribute and an expression as its text');
  }
  return { file: found.file, loggerId, expression };
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The logging expression as APIM's XML reader gives it: entities decoded. */
function decodedLog(): { expression: string } {
  return { expression: decodeXmlEntities(logElement().expression) };
}

// ---------------------------------------------------------------------------------------------

describe('gateway policy fragments', () => {
  it('has the logging fragment', () => {
    expect(xmlFiles).toContain('tokenledger-log-policy.xml');
  });

  it.each(xmlFiles)('%s is well-formed XML', (file) => {
    const result = XMLValidator.validate(readGatewayFile(file));
    expect(result, JSON.stringify(result)).toBe(true);
  });

  it.each(xmlFiles)('%s is a policy fragment APIM accepts', (file) => {
    const text = readGatewayFile(file);
    expect(Buffer.byteLength(text, 'utf8')).toBeLessThanOrEqual(MAX_FRAGMENT_BYTES);
    const document = parsed.find((entry) => entry.file === file)?.document as Record<string, unknown>;
    expect(Object.keys(document)).toEqual(['fragment']);
    // A fragment may hold neither section identifiers nor <base />.
    const names = elementNames(document.fragment);
    for (const forbidden of ['policies', 'inbound', 'backend', 'outbound', 'on-error', 'base', 'include-fragment']) {
      expect(names, `${file} uses <${forbidden}>`).not.toContain(forbidden);
    }
  });

  it('sends one JSON event through log-to-eventhub in tokenledger-log-policy.xml', () => {
    const { file, loggerId, expression } = logElement();
    expect(file).toBe('tokenledger-log-policy.xml');
    expect(['{{tokenledger-logger-id}}', 'tokenledger-events']).toContain(loggerId);
    expect(expression.startsWith('@{')).toBe(true);
    expect(expression.endsWith('}')).toBe(true);
    expect(expression).toContain(`new JProperty("schema", "${GATEWAY_EVENT_SCHEMA_V1}")`);
    expect(expression).toContain('ToString(Newtonsoft.Json.Formatting.None)');
  });

  describe('sets every field of the v1 schema', () => {
    it('derives the fields from the zod schema, nested objects included', () => {
      expect(nestedObjects).toEqual(expect.arrayContaining(['gateway', 'caller', 'usage', 'timings', 'rateLimit']));
      expect(schemaPaths).toEqual(
        expect.arrayContaining([
          'schema',
          'gatewayRequestId',
          'gateway.backendUrl',
          'caller.idtyp',
          'usage.promptTokens',
          'usage.totalTokens',
          'timings.ttftMs',
          'rateLimit.remainingTokens',
        ]),
      );
    });

    it.each(schemaPaths)('%s', (path) => {
      const { expression } = logElement();
      const name = path.split('.').at(-1) ?? path;
      expect(expression, `the policy does not set "${path}"`).toMatch(
        new RegExp(`new\\s+JProperty\\(\\s*"${escapeRegExp(name)}"`),
      );
    });
  });

  it.each(['apim-request-id', 'x-ms-region', 'x-ratelimit-remaining-requests', 'x-ratelimit-remaining-tokens'])(
    'reads the response header %s',
    (header) => {
      const { expression } = logElement();
      expect(expression).toMatch(new RegExp(`GetValueOrDefault\\(\\s*"${escapeRegExp(header)}"`, 'i'));
    },
  );

  it.each(['oid', 'tid', 'appid', 'azp', 'idtyp', 'upn'])('reads the claim %s of the validated token', (claim) => {
    const { expression } = logElement();
    expect(expression).toMatch(/context\.Variables\["jwt"\]\s+as\s+Jwt|GetValueOrDefault<Jwt>\(\s*"jwt"/);
    expect(expression).toMatch(new RegExp(`Claims\\.GetValueOrDefault\\(\\s*"${escapeRegExp(claim)}"`));
  });

  it('reads the response body with preserveContent: true', () => {
    const { expression } = logElement();
    expect(expression).toMatch(/Response\.Body\??\.As<JObject>\(\s*preserveContent:\s*true\s*\)/);
  });

  it.each(xmlFiles)('%s never reads a body without preserveContent: true', (file) => {
    const text = decodeXmlEntities(readGatewayFile(file));
    for (const call of text.matchAll(/\.\s*As\s*<[^>]*>\s*\(([^)]*)\)/g)) {
      expect(call[1], `${call[0]} consumes the body`).toMatch(/preserveContent\s*:\s*true/);
    }
    // The same without generics: As(...) on a body would be a different, unchecked overload.
    expect(text).not.toMatch(/Body\s*\??\.\s*As\s*\(/);
  });

  it('skips the body of streamed responses', () => {
    const { expression } = logElement();
    expect(expression).toContain('"text/event-stream"');
  });

  it.each(xmlFiles)('%s never touches prompt or completion content', (file) => {
    const text = decodeXmlEntities(readGatewayFile(file));
    for (const field of ['messages', 'choices', 'content', 'input', 'output', 'prompt', 'text', 'delta']) {
      expect(text, `${file} reads "${field}"`).not.toContain(`"${field}"`);
    }
  });

  // Learn, "Azure OpenAI Responses API": GET /openai/v1/responses/{response_id} answers the stored response with its
  // usage; a background response's create answers status "queued" and no usage; cancel "is idempotent—subsequent
  // calls will return the final response object".
  it('takes no usage from a read of a stored Responses API response, unless the response ran in the background', () => {
    const { expression } = decodedLog();
    const read = /bool storedResponseRead = objectType == "response"\s+&& \(context\.Request\.Method == "GET" \|\| path\.EndsWith\("\/cancel", StringComparison\.OrdinalIgnoreCase\)\);/;
    expect(expression).toMatch(read);
    expect(expression).toContain('JToken o = body["object"], b = body["background"];');
    expect(expression).toContain('string objectType = o != null && o.Type == JTokenType.String ? (string)o : "";');
    expect(expression).toContain("string path = context.Request.Url.Path.TrimEnd('/');");
    expect(expression).toContain('bool background = b != null && b.Type == JTokenType.Boolean && (bool)b;');
    expect(expression).toContain('JObject u = (storedResponseRead && !background) || storedCompletionRead || job ? null : body["usage"] as JObject;');
    expect(expression.match(/body\["usage"\]/g)).toHaveLength(1);
  });

  // Learn, "Azure OpenAI stored completions" (store: true); OpenAI API reference: GET /chat/completions/{completion_id}
  // retrieves and POST /chat/completions/{completion_id} updates the metadata of a stored chat completion, each
  // answering the ChatCompletion object (with the create call's usage); POST /chat/completions creates.
  it('takes no usage from a read or metadata update of a stored chat completion, only from its create', () => {
    const { expression } = decodedLog();
    expect(expression).toContain('bool storedCompletionRead = objectType == "chat.completion" && !path.EndsWith("/chat/completions", StringComparison.OrdinalIgnoreCase);');
  });

  // OpenAI OpenAPI spec: a `Batch` object (POST /batches, GET /batches/{batch_id}, POST /batches/{batch_id}/cancel) has
  // `usage` "including input tokens, output tokens [...] and the total tokens used" by its requests; a `RunStepObject`
  // (thread.run.step) has its step's usage, part of its run's; POST /threads/{thread_id}/runs/{run_id} modifies a run.
  it('takes no usage from a Batch API job, an Assistants run step, or a run other than its poll', () => {
    const { expression } = decodedLog();
    expect(expression).toContain('bool job = objectType == "batch" || objectType == "thread.run.step" || (objectType == "thread.run" && context.Request.Method != "GET");');
  });

  it("cuts the deployment, which the caller chooses, to the contract's length, never inside a surrogate pair", () => {
    const { expression } = decodedLog();
    const cut = new RegExp(`if \\(deployment\\.Length > ${MAX_TEXT_LENGTH}\\) \\{ deployment = deployment\\.Substring\\(0, deployment\\[${MAX_TEXT_LENGTH - 1}\\] >= '\\\\uD800' && deployment\\[${MAX_TEXT_LENGTH - 1}\\] <= '\\\\uDBFF' \\? ${MAX_TEXT_LENGTH - 1} : ${MAX_TEXT_LENGTH}\\); \\}`);
    expect(expression).toMatch(cut);
    // After the deployment is chosen (URL segment, else the request body's model), before the event is built.
    expect(expression.indexOf('deployment = requestModel')).toBeLessThan(expression.search(cut));
    expect(expression.search(cut)).toBeLessThan(expression.indexOf('new JProperty("deployment", deployment)'));
  });

  it.each([
    ['audio prompt tokens', 'prompt_tokens_details.audio_tokens', 'input_token_details.audio_tokens', 'audioPrompt'],
    ['audio completion tokens', 'completion_tokens_details.audio_tokens', 'output_token_details.audio_tokens', 'audioCompletion'],
    ['cached tokens', 'input_tokens_details.cached_tokens', 'input_token_details.cached_tokens', 'cached'],
  ])('reads %s as chat completions and as realtime and transcription responses write them', (_, chat, realtime, variable) => {
    const { expression } = decodedLog();
    const read = expression.split('\n').find((line) => line.includes(`SelectToken("${realtime}")`));
    expect(read, `${realtime} is read`).toBeDefined();
    expect(read).toContain(`SelectToken("${chat}")`);
    const next = expression.split('\n')[expression.split('\n').indexOf(read!) + 1]!;
    expect(next).toContain(`{ ${variable} = (long)t; }`);
  });

  it("leaves a realtime response's cached audio (input_token_details.cached_tokens_details) out of its audio prompt tokens, before writing them", () => {
    const { expression } = decodedLog();
    const lines = expression.split('\n');
    const read = lines.findIndex((line) => line.includes('SelectToken("input_token_details.cached_tokens_details.audio_tokens")'));
    expect(read).toBeGreaterThan(lines.findIndex((line) => line.includes('{ audioPrompt = (long)t; }')));
    expect(lines[read + 1]).toContain('audioPrompt = Math.Max(0L, audioPrompt.Value - (long)t);');
    expect(read).toBeLessThan(lines.findIndex((line) => line.includes('new JProperty("audioPromptTokens"')));
  });

  it('asks the backend for an uncompressed answer in the inbound fragment, so that the outbound one can read its usage', () => {
    const inbound = parsed.find((entry) => entry.file === 'tokenledger-log-inbound-policy.xml')?.document as { fragment: Record<string, unknown> };
    const headers = [inbound.fragment['set-header']].flat() as { '@_name': string; '@_exists-action': string; value: string }[];
    expect(headers.map((h) => [h['@_name'], h['@_exists-action'], h.value])).toContainEqual(['Accept-Encoding', 'override', 'identity']);
  });

  describe('the caller block, run on tokens as Entra ID issues them', () => {
    // learn.microsoft.com/entra/identity-platform/access-token-claims-reference and optional-claims-reference: idtyp is
    // optional and marks app-only tokens; upn is not in v2.0 tokens unless asked for (preferred_username is); a user's
    // token may carry roles and no scp when the API authorizes by roles (claims-validation, "Validate the actor").
    const USER = '6e0ac2b1-86f1-4d5c-9a1a-3c4b2c1e0f11';
    const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    const CLIENT = '1fec8e78-bce4-4aaf-ab1b-5451cc387264';
    const user = (idtyp: string | null, upn: string | null) => ({ oid: USER, tid: TENANT, appid: CLIENT, idtyp, upn, sub: 'pairwise-subject' });

    it.each([
      ['a v2.0 delegated token (scp, preferred_username, no idtyp or upn)', { ver: '2.0', oid: USER, tid: TENANT, azp: CLIENT, scp: 'access_as_user', preferred_username: 'alice@contoso.com' }, user('user', 'alice@contoso.com')],
      ['a v1.0 delegated token with app roles and no scp', { ver: '1.0', oid: USER, tid: TENANT, appid: CLIENT, roles: ['Chat.Use'], upn: 'alice@contoso.com', unique_name: 'alice@contoso.com' }, user('user', 'alice@contoso.com')],
      ['a v2.0 delegated token with neither scp nor roles', { ver: '2.0', oid: USER, tid: TENANT, azp: CLIENT, preferred_username: 'alice@contoso.com' }, user('user', 'alice@contoso.com')],
      ["a v1.0 guest's token (unique_name, no upn)", { ver: '1.0', oid: USER, tid: TENANT, appid: CLIENT, scp: 'user_impersonation', unique_name: 'live.com#bob@outlook.com' }, user('user', 'live.com#bob@outlook.com')],
      ['an app-only token without idtyp (roles)', { ver: '1.0', oid: USER, tid: TENANT, appid: CLIENT, roles: ['Chat.Use'] }, user('app', null)],
      ['an app-only token with idtyp', { ver: '2.0', oid: USER, tid: TENANT, azp: CLIENT, idtyp: 'app', roles: ['Chat.Use'] }, user('app', null)],
      ['a token that names neither a user nor roles', { ver: '2.0', oid: USER, tid: TENANT, azp: CLIENT }, user(null, null)],
    ])('%s', (_token, claims, expected) => {
      expect(policyCaller({ ...claims, sub: 'pairwise-subject' })).toEqual(expected);
    });
  });

  it('never reads the request body in the logging expression', () => {
    const { expression } = logElement();
    expect(expression).not.toMatch(/Request\.Body/);
  });

  it("logs before the cache store in the README's response-cache policy, so a cache hit, which resumes after the store, sends no event", () => {
    const readme = readGatewayFile('README.md');
    const section = readme.slice(readme.indexOf('### With a response cache'));
    const policy = /```xml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    expect(XMLValidator.validate(policy)).toBe(true);
    const sectionOf = (name: string) => policy.slice(policy.indexOf(`<${name}>`), policy.indexOf(`</${name}>`));
    const inbound = sectionOf('inbound');
    const outbound = sectionOf('outbound');
    expect(inbound.indexOf('semantic-cache-lookup')).toBeGreaterThan(0);
    expect(inbound.indexOf('fragment-id="tokenledger-log-inbound"')).toBeGreaterThan(inbound.indexOf('semantic-cache-lookup'));
    expect(outbound.indexOf('fragment-id="tokenledger-log"')).toBeGreaterThan(0);
    expect(outbound.indexOf('semantic-cache-store')).toBeGreaterThan(outbound.indexOf('fragment-id="tokenledger-log"'));
  });
});
