import { z } from 'zod';

/**
 * An APIM load-balanced backend pool as an ARM template resource (`Microsoft.ApiManagement/service/backends`
 * with `properties.type: 'Pool'`), and the renderings operators apply: ARM JSON, a Bicep block and a table.
 *
 * Ranges follow the ARM API (`BackendPoolItem`, 2024-05-01): `priority` and `weight` are integers 0–100
 * (lower priority value = tried first; weights are relative within a priority). Pool members are referenced
 * as `/backends/<name>` or by the backend's full resource id. Backend names have at most 80 characters.
 */

export const APIM_BACKENDS_TYPE = 'Microsoft.ApiManagement/service/backends';
export const APIM_BACKENDS_API_VERSION = '2024-05-01';

const BACKEND_NAME = '[^\\s/?#\\\\]{1,80}';
const SHORT_ID = new RegExp(`^/backends/${BACKEND_NAME}$`);
const RESOURCE_ID = new RegExp(`^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.ApiManagement/service/[^/]+/backends/${BACKEND_NAME}$`, 'i');
const BACKEND_NAME_ONLY = new RegExp(`^${BACKEND_NAME}$`);

export const poolServiceSchema = z.object({
  id: z.string().refine((id) => SHORT_ID.test(id) || RESOURCE_ID.test(id), {
    error: (issue) => `expected /backends/<name> or a backend's full resource id, got ${JSON.stringify(issue.input)}`,
  }),
  priority: z.number().int().min(0).max(100),
  weight: z.number().int().min(0).max(100),
});
export type PoolService = z.infer<typeof poolServiceSchema>;

export const apimBackendPoolSchema = z.object({
  type: z.literal(APIM_BACKENDS_TYPE),
  apiVersion: z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/),
  /** `<apim service>/<pool>` inside a template, or the pool name alone. */
  name: z.string().regex(new RegExp(`^(?:[A-Za-z0-9-]{1,50}/)?${BACKEND_NAME}$`), { error: 'expected <pool> or <apim service>/<pool>' }),
  properties: z.object({
    description: z.string().max(2000).optional(),
    type: z.literal('Pool'),
    pool: z.object({
      services: z
        .array(poolServiceSchema)
        .min(1)
        .refine((services) => new Set(services.map((s) => s.id.toLowerCase())).size === services.length, { error: 'pool members must be distinct' })
        .refine((services) => services.some((s) => s.weight > 0), { error: 'at least one pool member needs a weight above 0' }),
    }),
  }),
});
export type ApimBackendPool = z.infer<typeof apimBackendPoolSchema>;

/** What the renderings need of a recommendation (`BackendWeight` from `src/domain/weights.ts` fits). */
export interface PoolMemberWeight {
  /** Backend name, `/backends/<name>` or the backend's full resource id. */
  readonly backendId: string;
  readonly weight: number;
  readonly priority?: number;
  readonly regionCode?: string | null;
  readonly reason?: string;
}

export interface BackendPoolOptions {
  /** APIM service name: the resource name becomes `<service>/<pool>`, as an ARM template needs. */
  readonly apimServiceName?: string;
  readonly description?: string;
}

/** The pool member id for a backend id: a name becomes `/backends/<name>`; ids are kept as they are. */
export function poolMemberId(backendId: string): string {
  if (SHORT_ID.test(backendId) || RESOURCE_ID.test(backendId)) return backendId;
  if (!BACKEND_NAME_ONLY.test(backendId)) throw new RangeError(`${JSON.stringify(backendId)} is not an APIM backend name or id`);
  return `/backends/${backendId}`;
}

/** The ARM resource of the pool; validated against `apimBackendPoolSchema` (throws when the weights cannot form a pool). */
export function toBackendPool(name: string, weights: readonly PoolMemberWeight[], options: BackendPoolOptions = {}): ApimBackendPool {
  const pool = {
    type: APIM_BACKENDS_TYPE,
    apiVersion: APIM_BACKENDS_API_VERSION,
    name: options.apimServiceName ? `${options.apimServiceName}/${name}` : name,
    properties: {
      ...(options.description === undefined ? {} : { description: options.description }),
      type: 'Pool' as const,
      pool: { services: weights.map((w) => ({ id: poolMemberId(w.backendId), priority: w.priority ?? 1, weight: w.weight })) },
    },
  };
  return apimBackendPoolSchema.parse(pool);
}

export interface BicepSnippetOptions {
  /** Symbolic name of the API Management service resource in the template (default `apim`). */
  readonly parentSymbol?: string;
  /** Symbolic name of the pool resource (default: derived from the pool name). */
  readonly symbol?: string;
  readonly description?: string;
}

const BICEP_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function bicepString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\$\{/g, '\\${').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}'`;
}

function bicepSymbol(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  const camel = words.map((w, i) => (i === 0 ? w[0]!.toLowerCase() + w.slice(1) : w[0]!.toUpperCase() + w.slice(1))).join('');
  const symbol = camel === '' ? 'pool' : /^[0-9]/.test(camel) ? `pool${camel}` : camel;
  return symbol;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}

/**
 * A Bicep `resource` block for the pool (child of the API Management service `parentSymbol`), each member
 * preceded by a comment with its reason. Validated like `toBackendPool`.
 */
export function toBicepSnippet(name: string, weights: readonly PoolMemberWeight[], options: BicepSnippetOptions = {}): string {
  const pool = toBackendPool(name, weights, options.description === undefined ? {} : { description: options.description });
  const parent = options.parentSymbol ?? 'apim';
  const symbol = options.symbol ?? bicepSymbol(name);
  for (const identifier of [parent, symbol]) {
    if (!BICEP_IDENTIFIER.test(identifier)) throw new RangeError(`${JSON.stringify(identifier)} is not a Bicep identifier`);
  }
  const lines = [`resource ${symbol} '${APIM_BACKENDS_TYPE}@${APIM_BACKENDS_API_VERSION}' = {`, `  parent: ${parent}`, `  name: ${bicepString(name)}`, '  properties: {'];
  if (pool.properties.description !== undefined) lines.push(`    description: ${bicepString(pool.properties.description)}`);
  lines.push("    type: 'Pool'", '    pool: {', '      services: [');
  pool.properties.pool.services.forEach((service, i) => {
    const reason = weights[i]?.reason;
    if (reason) lines.push(`        // ${oneLine(`${weights[i]!.backendId}: ${reason}`)}`);
    lines.push('        {', `          id: ${bicepString(service.id)}`, `          priority: ${service.priority}`, `          weight: ${service.weight}`, '        }');
  });
  lines.push('      ]', '    }', '  }', '}');
  return lines.join('\n');
}

/** The weights as aligned text rows (header first): backend, region, weight, priority, reason. */
export function toWeightsTable(weights: readonly PoolMemberWeight[]): string[] {
  const header = ['backend', 'region', 'weight', 'priority', 'reason'];
  const rows = weights.map((w) => [w.backendId, w.regionCode ?? '-', String(w.weight), String(w.priority ?? 1), oneLine(w.reason ?? '')]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const numeric = new Set([2, 3]);
  const format = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : numeric.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [format(header), ...rows.map(format)];
}
