import type { IdentityKind } from '../domain/identity.js';
import { Random } from './random.js';

/** An Azure OpenAI account behind the gateway's backend pool (an APIM backend each; East US has two). */
export interface SimulatedBackend {
  readonly backendId: string;
  readonly account: string;
  readonly regionCode: string;
  readonly regionDisplayName: string;
  /** Median service time per 100 output tokens and fixed overhead, in ms. */
  readonly msPer100Tokens: number;
  readonly baseMs: number;
  readonly throttleRate: number;
  readonly errorRate: number;
  readonly weight: number;
}

export interface SimulatedDeployment {
  readonly deployment: string;
  readonly model: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly operation: 'ChatCompletions_Create' | 'Embeddings_Create' | 'Responses_Create';
  readonly reasoning: boolean;
  readonly share: number;
}

export interface SimulatedIdentity {
  /** The report key the pipeline must resolve this caller to. */
  readonly identity: string;
  readonly kind: Exclude<IdentityKind, 'unattributed'>;
  readonly displayName: string;
  readonly team: string;
  readonly costCenter: string;
  readonly caller: { oid: string; tid: string; appid: string | null; idtyp: 'user' | 'app'; upn: string | null; sub: string } | null;
  readonly subscriptionId: string;
  readonly activity: number;
  /**
   * Calls through the AI Hub Gateway solution accelerator (a second APIM instance) instead of TokenLedger's
   * gateway: its usage payloads, not v1 events, tell these requests.
   */
  readonly viaAiHub: boolean;
}

export const GATEWAY = { service: 'contoso-ai-gateway', region: 'West Europe' } as const;
export const AZURE_SUBSCRIPTION = '6f1c2b7e-3d4a-4b8e-9c0d-1a2b3c4d5e6f';
export const RESOURCE_GROUP = 'RG-AI-PLATFORM';
/** The gateway calls Azure OpenAI with this managed identity, so it is the `objectId` of gateway traffic. */
export const GATEWAY_OBJECT_ID = '0b7d6c1e-5f3a-4e2b-8a9c-7d6e5f4a3b2c';
/**
 * The AI Hub Gateway accelerator's APIM instance, which some callers still use, and the managed identity it calls
 * Azure OpenAI with: its requests reach the same accounts, so their RequestResponse records carry this objectId.
 */
export const AI_HUB_GATEWAY = { service: 'contoso-ai-hub', region: 'Sweden Central', objectId: '3e9a7c2d-1b4f-4d6e-8a0c-9f2e1d3c5b7a' } as const;
/** How many of the subscription-key callers use the accelerator (the first ones created). */
const AI_HUB_CALLERS = 2;

export const BACKENDS: readonly SimulatedBackend[] = [
  { backendId: 'aoai-eastus', account: 'contoso-aoai-eastus', regionCode: 'eastus', regionDisplayName: 'East US', msPer100Tokens: 900, baseMs: 180, throttleRate: 0.02, errorRate: 0.004, weight: 20 },
  { backendId: 'aoai-eastus-2', account: 'contoso-aoai-eastus-2', regionCode: 'eastus', regionDisplayName: 'East US', msPer100Tokens: 850, baseMs: 170, throttleRate: 0.04, errorRate: 0.004, weight: 15 },
  { backendId: 'aoai-swedencentral', account: 'contoso-aoai-swedencentral', regionCode: 'swedencentral', regionDisplayName: 'Sweden Central', msPer100Tokens: 1000, baseMs: 150, throttleRate: 0.01, errorRate: 0.003, weight: 30 },
  { backendId: 'aoai-francecentral', account: 'contoso-aoai-francecentral', regionCode: 'francecentral', regionDisplayName: 'France Central', msPer100Tokens: 1100, baseMs: 170, throttleRate: 0.3, errorRate: 0.005, weight: 15 },
  { backendId: 'aoai-japaneast', account: 'contoso-aoai-japaneast', regionCode: 'japaneast', regionDisplayName: 'Japan East', msPer100Tokens: 2400, baseMs: 420, throttleRate: 0.015, errorRate: 0.01, weight: 20 },
];

export const DEPLOYMENTS: readonly SimulatedDeployment[] = [
  { deployment: 'gpt-4o-prod', model: 'gpt-4o-2024-08-06', modelName: 'gpt-4o', modelVersion: '2024-08-06', operation: 'ChatCompletions_Create', reasoning: false, share: 0.35 },
  { deployment: 'gpt-4o-mini', model: 'gpt-4o-mini-2024-07-18', modelName: 'gpt-4o-mini', modelVersion: '2024-07-18', operation: 'ChatCompletions_Create', reasoning: false, share: 0.3 },
  { deployment: 'o3-mini', model: 'o3-mini-2025-01-31', modelName: 'o3-mini', modelVersion: '2025-01-31', operation: 'ChatCompletions_Create', reasoning: true, share: 0.1 },
  { deployment: 'gpt-41-responses', model: 'gpt-4.1-2025-04-14', modelName: 'gpt-4.1', modelVersion: '2025-04-14', operation: 'Responses_Create', reasoning: false, share: 0.1 },
  { deployment: 'embeddings', model: 'text-embedding-3-small', modelName: 'text-embedding-3-small', modelVersion: '1', operation: 'Embeddings_Create', reasoning: false, share: 0.15 },
];

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const TEAMS = [
  { team: 'Search', costCenter: 'CC-1001' },
  { team: 'Support Copilot', costCenter: 'CC-1002' },
  { team: 'Data Science', costCenter: 'CC-2001' },
  { team: 'Marketing', costCenter: 'CC-3001' },
  { team: 'Platform', costCenter: 'CC-4001' },
];
const FIRST_NAMES = ['ana', 'bram', 'chen', 'dara', 'emre', 'fatima', 'goran', 'hana', 'ivo', 'jules', 'kemal', 'lena', 'mika', 'noor'];

/** How many callers of each kind the simulated company has (≥ 30 in all, every kind present). */
const KIND_COUNTS: readonly [SimulatedIdentity['kind'], number][] = [
  ['user', 12],
  ['servicePrincipal', 8],
  ['managedIdentity', 6],
  ['workloadIdentity', 2],
  ['apimSubscription', 5],
];

export function createIdentities(random: Random): SimulatedIdentity[] {
  const identities: SimulatedIdentity[] = [];
  let n = 0;
  for (const [kind, count] of KIND_COUNTS) {
    for (let i = 0; i < count; i++, n++) {
      const { team, costCenter } = TEAMS[n % TEAMS.length]!;
      const oid = random.uuid();
      const appid = random.uuid();
      const subscriptionId = `sub-${team.toLowerCase().replace(/\s+/g, '-')}-${n}`;
      const activity = random.logNormal(1, 0.9);
      if (kind === 'apimSubscription') {
        // Key-based callers send no appId header, so the accelerator logs its `NA-HEADER` placeholder.
        identities.push({ identity: subscriptionId, kind, displayName: `${team} key ${i + 1}`, team, costCenter, caller: null, subscriptionId, activity, viaAiHub: i < AI_HUB_CALLERS });
        continue;
      }
      const isUser = kind === 'user';
      const name = isUser ? FIRST_NAMES[i % FIRST_NAMES.length]! : `${team.toLowerCase().replace(/\s+/g, '-')}-${kind === 'managedIdentity' ? 'mi' : kind === 'workloadIdentity' ? 'auth0-wi' : 'app'}-${i + 1}`;
      identities.push({
        identity: oid,
        kind,
        displayName: isUser ? `${name[0]!.toUpperCase()}${name.slice(1)} (${team})` : name,
        team,
        costCenter,
        caller: {
          oid,
          tid: TENANT,
          appid: isUser ? null : appid,
          idtyp: isUser ? 'user' : 'app',
          upn: isUser ? `${name}@contoso.example` : null,
          sub: kind === 'workloadIdentity' ? `auth0|client-${i + 1}` : oid,
        },
        subscriptionId,
        activity,
        viaAiHub: false,
      });
    }
  }
  return identities;
}
