import { z } from 'zod';

/**
 * An APIM load-balanced backend pool as an ARM template resource (`Microsoft.ApiManagement/service/backends`
 * with `properties.type: 'Pool'`), and the renderings operators apply: ARM JSON, a Bicep block and a table.
 *
 * Ranges follow the ARM API (`BackendPoolItem`, 2024-05-01): `priority` and `weight` are integers 0–100
 * (lower priority value = tried first; weights are relative within a priority). Pool members are referenced
 * as `/backends/<name>` or by the backend's full resource id. Backend names have 1–80 characters; a name this
 * module creates (a pool's) uses only letters, digits and hyphens, starts with a letter and ends with a letter
 * or digit (the template reference's rule). API Management service names: 1–50 characters, a letter first,
 * then letters, digits and hyphens, not ending in a hyphen. Where each rule comes from:
 * `test/fixtures/arm/README.md`.
 */

export const APIM_BACKENDS_TYPE = 'Microsoft.ApiManagement/service/backends';
export const APIM_BACKENDS_API_VERSION = '2024-05-01';

const BACKEND_NAME = '[^\\s/?#\\\\]{1,80}';
const SHORT_ID = new RegExp(`^/backends/${BACKEND_NAME}$`);
const RESOURCE_ID = new RegExp(`^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.ApiManagement/service/[^/]+/backends/${BACKEND_NAME}$`, 'i');
const BACKEND_NAME_ONLY = new RegExp(`^${BACKEND_NAME}$`);
const POOL_NAME = '[A-Za-z](?:[A-Za-z0-9-]{0,78}[A-Za-z0-9])?';
const SERVICE_NAME = '[A-Za-z](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?';

/** The name of an API Management service, as ARM accepts it. */
export const apimServiceNameSchema = z
  .string()
  .regex(new RegExp(`^${SERVICE_NAME}$`), { error: 'an API Management service name has 1–50 letters, digits and hyphens, starts with a letter and does not end with a hyphen' });

export const poolServiceSchema = z.object({
  id: z.string().refine((id) => SHORT_ID.test(id) || RESOURCE_ID.test(id), {
    error: (issue) => `expected /backends/<name> or a backend's full resource id, got ${JSON.stringify(issue.input)}`,
  }),
  priority: z.number().int().min(0).max(100),
  weight: z.number().int().min(0).max(100),
});
export type PoolService = z.infer<typeof poolServiceSchema>;

/** "You can include up to 30 backends in a pool" (Azure API Management, Backends: load-balanced pool). */
export const MAX_POOL_MEMBERS = 30;

export const apimBackendPoolSchema = z.object({
  type: z.literal(APIM_BACKENDS_TYPE),
  apiVersion: z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/),
  /** `<apim service>/<pool>` inside a template, or the pool name alone. */
  name: z.string().regex(new RegExp(`^(?:${SERVICE_NAME}/)?${POOL_NAME}$`), { error: 'expected <pool> or <apim service>/<pool>' }),
  properties: z.object({
    description: z.string().max(2000).optional(),
    type: z.literal('Pool'),
    pool: z.object({
      services: z
        .array(poolServiceSchema)
        .min(1)
        .max(MAX_POOL_MEMBERS, { error: `APIM takes at most ${MAX_POOL_MEMBERS} backends in a load-balanced pool` })
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

/** Why a backend id cannot be a pool member, or null when it can: a backend name, `/backends/<name>` or a resource id. */
export function poolMemberProblem(backendId: string): string | null {
  if (SHORT_ID.test(backendId) || RESOURCE_ID.test(backendId) || BACKEND_NAME_ONLY.test(backendId)) return null;
  const character = /[\s/?#\\]/.exec(backendId)?.[0];
  const why =
    backendId === '' ? 'it is empty' :
    /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(backendId) ? 'it is a URL, and a pool member is the APIM backend that calls it' :
    character === undefined ? 'it is longer than 80 characters' :
    /\s/.test(character) ? 'it holds white space' :
    `it holds ${JSON.stringify(character)}`;
  return `is not an APIM backend name or id: ${why}`;
}

/**
 * The backend ids of `pools` that cannot be pool members, each once and with why: ids that are no backend name or
 * id, and ids of one pool that name the same backend in another case (a pool's members must be distinct, and APIM
 * names ignore case).
 */
export function poolMemberProblems(pools: readonly PoolRendering[]): string[] {
  const problems = new Map<string, string>();
  for (const pool of pools) {
    const members = new Map<string, string>();
    for (const { backendId } of pool.weights) {
      const problem = poolMemberProblem(backendId);
      const member = problem === null ? poolMemberId(backendId).toLowerCase() : null;
      const same = member === null ? undefined : members.get(member);
      if (member !== null && same === undefined) members.set(member, backendId);
      const why = problem ?? (same === undefined ? null : `names the same APIM backend as ${JSON.stringify(same)} in pool ${pool.name} (APIM names ignore case)`);
      if (why !== null && !problems.has(backendId)) problems.set(backendId, `${JSON.stringify(backendId)} ${why}`);
    }
  }
  return [...problems.values()];
}

/** The pool member id for a backend id: a name becomes `/backends/<name>`; ids are kept as they are. */
export function poolMemberId(backendId: string): string {
  const problem = poolMemberProblem(backendId);
  if (problem !== null) throw new RangeError(`${JSON.stringify(backendId)} ${problem}`);
  return SHORT_ID.test(backendId) || RESOURCE_ID.test(backendId) ? backendId : `/backends/${backendId}`;
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

/**
 * The pool name for a model deployment: `<deployment>-pool`, with every run of characters a backend name may
 * not hold turned into one hyphen (`gpt-4.1-mini` → `gpt-4-1-mini-pool`), a leading `pool-` when the name would
 * not start with a letter, and cut to 80 characters.
 */
export function poolNameFor(deployment: string): string {
  let base = deployment.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (!/^[A-Za-z]/.test(base)) base = base === '' ? 'pool' : `pool-${base}`;
  return `${base.slice(0, 80 - '-pool'.length).replace(/-+$/, '')}-pool`;
}

/**
 * Deployments whose pools would share a name (`gpt-4.1` and `gpt-4_1` both make `gpt-4-1-pool`; APIM names ignore
 * case, and long names are cut), each clash once and with the name: a template with two resources of one name
 * does not deploy, or one pool overwrites the other.
 */
/** The pools with more members than APIM takes, each with its count. */
export function oversizedPools(pools: readonly PoolRendering[]): string[] {
  return pools.filter((pool) => pool.weights.length > MAX_POOL_MEMBERS).map((pool) => `pool ${pool.name} has ${pool.weights.length} backends`);
}

export function poolNameClashes(deployments: readonly string[]): string[] {
  const byName = new Map<string, string[]>();
  for (const deployment of new Set(deployments)) {
    const name = poolNameFor(deployment).toLowerCase();
    byName.set(name, [...(byName.get(name) ?? []), deployment]);
  }
  return [...byName.values()]
    .filter((group) => group.length > 1)
    .map((group) => `${group.map((d) => JSON.stringify(d)).join(' and ')} all make the pool name ${poolNameFor(group[0]!)}`);
}

/** One pool to render: its name and members, and an optional description (the recommendation's explanation). */
export interface PoolRendering {
  readonly name: string;
  readonly weights: readonly PoolMemberWeight[];
  readonly description?: string;
}

export const ARM_DEPLOYMENT_TEMPLATE_SCHEMA = 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#';

export interface ArmDeploymentTemplate {
  readonly $schema: typeof ARM_DEPLOYMENT_TEMPLATE_SCHEMA;
  readonly contentVersion: '1.0.0.0';
  readonly resources: readonly ApimBackendPool[];
}

/** ARM evaluates a string that starts with `[` as a template expression; `[[` keeps it literal. */
function armLiteral(value: string): string {
  return value.startsWith('[') ? `[${value}` : value;
}

/** ARM caps a backend's description at 2000 characters. */
function description(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const line = oneLine(text);
  return line.length <= 2000 ? line : `${line.slice(0, 1999)}…`;
}

/**
 * A complete ARM deployment template with one backend-pool resource per pool, named `<service>/<pool>`:
 * `az deployment group create --resource-group <group of the service> --template-file <file>` applies it as
 * written. The member backends must exist already (ARM refuses a pool member it cannot find).
 */
export function toArmTemplate(apimServiceName: string, pools: readonly PoolRendering[]): ArmDeploymentTemplate {
  const service = apimServiceNameSchema.parse(apimServiceName);
  const resources = pools.map((pool) => {
    const resource = toBackendPool(pool.name, pool.weights, { apimServiceName: service, ...(pool.description === undefined ? {} : { description: description(pool.description)! }) });
    const d = resource.properties.description;
    return { ...resource, properties: { ...(d === undefined ? {} : { description: armLiteral(d) }), type: resource.properties.type, pool: resource.properties.pool } };
  });
  return { $schema: ARM_DEPLOYMENT_TEMPLATE_SCHEMA, contentVersion: '1.0.0.0', resources };
}

/**
 * A complete Bicep file: the API Management service as an `existing` resource and one backend-pool resource
 * per pool under it (`az deployment group create --template-file <file>` deploys it as written).
 */
export function toBicepFile(apimServiceName: string, pools: readonly PoolRendering[]): string {
  const service = apimServiceNameSchema.parse(apimServiceName);
  const symbols = new Set<string>(['apim']);
  const blocks = pools.map((pool) => {
    let symbol = bicepSymbol(pool.name);
    for (let n = 2; symbols.has(symbol); n++) symbol = `${bicepSymbol(pool.name)}${n}`;
    symbols.add(symbol);
    const d = description(pool.description);
    return toBicepSnippet(pool.name, pool.weights, { parentSymbol: 'apim', symbol, ...(d === undefined ? {} : { description: d }) });
  });
  return [
    `resource apim 'Microsoft.ApiManagement/service@${APIM_BACKENDS_API_VERSION}' existing = {`,
    `  name: ${bicepString(service)}`,
    '}',
    ...blocks.flatMap((block) => ['', block]),
    '',
  ].join('\n');
}
