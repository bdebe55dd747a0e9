/**
 * Azure Monitor `metrics:getBatch` takes resources of one subscription, one region and one resource type per
 * call, at the endpoint of that region (`https://<region>.metrics.monitor.azure.com`), and at most 50 resource
 * ids a call ("How to migrate from the metrics API to the getBatch API", batching restrictions; Metrics Batch
 * REST reference: "The region should match the region of the requested resources"). This module plans those
 * calls for the Azure OpenAI accounts being reconciled.
 */

/** An account whose metrics are read: its resource id and its Azure region code (e.g. `eastus`). */
export interface MetricsResource {
  readonly resourceId: string;
  readonly region: string;
}

export interface MetricsBatch {
  /** `https://<region>.metrics.monitor.azure.com` */
  readonly endpoint: string;
  readonly region: string;
  readonly subscriptionId: string;
  readonly resourceIds: readonly string[];
}

export const MAX_RESOURCES_PER_BATCH = 50;

const RESOURCE_ID = /^\/subscriptions\/([0-9a-fA-F-]{36})\/resourceGroups\/([^/]+)\/providers\/Microsoft\.CognitiveServices\/accounts\/([^/]+)$/i;
const REGION = /^[a-z][a-z0-9]*$/;

function accountIdParts(resourceId: string): RegExpExecArray {
  const match = RESOURCE_ID.exec(resourceId);
  if (!match) throw new RangeError(`${JSON.stringify(resourceId)} is not an Azure OpenAI account resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.CognitiveServices/accounts/<name>)`);
  return match;
}

/** The subscription id of an Azure OpenAI account's resource id; throws for anything else. */
export function subscriptionOf(resourceId: string): string {
  return accountIdParts(resourceId)[1]!.toLowerCase();
}

/**
 * The resource id in the spelling ARM writes, whatever the spelling given (Log Analytics writes `ResourceId` in
 * upper case): the metrics client finds the subscription of its call by the text `subscriptions/`.
 */
function armSpelling(resourceId: string): string {
  const [, subscription, group, account] = accountIdParts(resourceId);
  return `/subscriptions/${subscription!.toLowerCase()}/resourceGroups/${group!}/providers/Microsoft.CognitiveServices/accounts/${account!}`;
}

/**
 * Reads the configured accounts: comma-separated `<region>=<resource id>` entries (the region code Azure uses,
 * e.g. `eastus=/subscriptions/…/accounts/aoai-eastus`). Throws with the offending entry when one is malformed.
 */
export function parseMetricsResources(setting: string): MetricsResource[] {
  return setting
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const at = entry.indexOf('=');
      const region = at > 0 ? entry.slice(0, at).trim().toLowerCase() : '';
      const resourceId = at > 0 ? entry.slice(at + 1).trim() : entry;
      if (!REGION.test(region)) throw new RangeError(`${JSON.stringify(entry)}: expected <region>=<resource id>, e.g. eastus=/subscriptions/…/accounts/<name>`);
      subscriptionOf(resourceId);
      return { resourceId, region };
    });
}

/**
 * One call per region and subscription (split at 50 resources), in a stable order; duplicates are read once, in
 * any spelling: resource ids are case-insensitive ("Naming rules and restrictions for Azure resources"), and the
 * portal and the CLI spell `resourceGroups` and providers differently.
 */
export function planMetricsBatches(resources: readonly MetricsResource[]): MetricsBatch[] {
  const groups = new Map<string, { region: string; subscriptionId: string; ids: Map<string, string> }>();
  for (const { resourceId, region } of resources) {
    const subscriptionId = subscriptionOf(resourceId);
    const key = `${region}/${subscriptionId.toLowerCase()}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { region, subscriptionId, ids: new Map() }));
    if (!group.ids.has(resourceId.toLowerCase())) group.ids.set(resourceId.toLowerCase(), armSpelling(resourceId));
  }
  const batches: MetricsBatch[] = [];
  for (const key of [...groups.keys()].sort()) {
    const { region, subscriptionId, ids } = groups.get(key)!;
    const sorted = [...ids.values()].sort();
    for (let i = 0; i < sorted.length; i += MAX_RESOURCES_PER_BATCH) {
      batches.push({ endpoint: `https://${region}.metrics.monitor.azure.com`, region, subscriptionId, resourceIds: sorted.slice(i, i + MAX_RESOURCES_PER_BATCH) });
    }
  }
  return batches;
}
