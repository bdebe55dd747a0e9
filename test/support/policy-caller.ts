/**
 * Runs the caller block of gateway/tokenledger-log-policy.xml (the C# that copies claims from the validated
 * token in context variable "jwt" into the event's `caller`) on a token's claims, by transliterating that
 * block's few C# constructs to JavaScript. Nothing of the block's logic is re-written here: it is read from the file.
 *
 * APIM semantics used (https://learn.microsoft.com/azure/api-management/api-management-policy-expressions#ContextVariables):
 * `Jwt.Claims` is an `IReadOnlyDictionary<string, string[]>`, and `Claims.GetValueOrDefault(name, default)` returns the
 * claim's values joined by commas, or `default` when the token has no such claim.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const policyPath = resolve(dirname(fileURLToPath(import.meta.url)), '../../gateway/tokenledger-log-policy.xml');

function decodeXml(text: string): string {
  return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&apos;', "'").replaceAll('&amp;', '&');
}

/** The `if (jwt != null) { ... }` statement of the caller block, as C#. */
export function callerBlockSource(): string {
  const source = decodeXml(readFileSync(policyPath, 'utf8'));
  const start = source.indexOf('if (jwt != null)');
  if (start < 0) throw new Error('caller block not found in the policy');
  let depth = 0;
  let i = source.indexOf('{', start);
  for (; i < source.length; i++) {
    if (source[i] === '{') depth++;
    else if (source[i] === '}' && --depth === 0) break;
  }
  return source.slice(start, i + 1);
}

type Claims = Record<string, string | readonly string[]>;

/**
 * The `caller` object the policy sends for a token with these claims (after the policy's own
 * "empty or blank strings are sent as null" pass), or null.
 */
export function policyCaller(claims: Claims): Record<string, string | null> | null {
  const js = callerBlockSource().replace(/\bstring (\w+) =/g, 'let $1 =');
  const jwt = {
    Claims: {
      GetValueOrDefault(name: string, fallback: string): string {
        const value = claims[name];
        if (value === undefined) return fallback;
        return typeof value === 'string' ? value : value.join(',');
      },
    },
  };
  function JObject(...properties: [string, unknown][]) {
    return Object.fromEntries(properties);
  }
  function JProperty(name: string, value: unknown) {
    return [name, value];
  }
  const run = new Function('jwt', 'JObject', 'JProperty', `let caller = null;\n${js}\nreturn caller;`) as (
    jwt: unknown,
    o: unknown,
    p: unknown,
  ) => Record<string, string> | null;
  const caller = run(jwt, JObject, JProperty);
  if (caller === null) return null;
  return Object.fromEntries(Object.entries(caller).map(([k, v]) => [k, typeof v === 'string' && v.trim() === '' ? null : v]));
}
