/**
 * Public Azure regions: one table, one mapping.
 *
 * The same region reaches us spelled two ways: Azure OpenAI returns the `x-ms-region` response header as a
 * display name ("East US", "Sweden Central"), while diagnostic logs and resource metadata use the location
 * code ("eastus", "swedencentral"). Every region value is normalised to the code here, and nowhere else.
 *
 * Rows are the public-cloud physical regions as listed by `az account list-locations` (name, displayName,
 * metadata.geographyGroup with "US"/"UK" spelled out). Canary (EUAP), stage, sovereign-cloud and logical
 * ("europe", "global", ...) locations are deliberately absent.
 */
import { ownedText } from './owned-text.js';

export interface AzureRegion {
  readonly code: string;
  readonly displayName: string;
  readonly geography: string;
}

type Row = readonly [code: string, displayName: string, geography: string];

const ROWS: readonly Row[] = [
  // United States
  ['eastus', 'East US', 'United States'],
  ['eastus2', 'East US 2', 'United States'],
  ['centralus', 'Central US', 'United States'],
  ['northcentralus', 'North Central US', 'United States'],
  ['southcentralus', 'South Central US', 'United States'],
  ['westcentralus', 'West Central US', 'United States'],
  ['westus', 'West US', 'United States'],
  ['westus2', 'West US 2', 'United States'],
  ['westus3', 'West US 3', 'United States'],
  // Canada
  ['canadacentral', 'Canada Central', 'Canada'],
  ['canadaeast', 'Canada East', 'Canada'],
  // Mexico
  ['mexicocentral', 'Mexico Central', 'Mexico'],
  // South America
  ['brazilsouth', 'Brazil South', 'South America'],
  ['brazilsoutheast', 'Brazil Southeast', 'South America'],
  ['chilecentral', 'Chile Central', 'South America'],
  // Europe
  ['northeurope', 'North Europe', 'Europe'],
  ['westeurope', 'West Europe', 'Europe'],
  ['francecentral', 'France Central', 'Europe'],
  ['francesouth', 'France South', 'Europe'],
  ['germanywestcentral', 'Germany West Central', 'Europe'],
  ['germanynorth', 'Germany North', 'Europe'],
  ['switzerlandnorth', 'Switzerland North', 'Europe'],
  ['switzerlandwest', 'Switzerland West', 'Europe'],
  ['norwayeast', 'Norway East', 'Europe'],
  ['norwaywest', 'Norway West', 'Europe'],
  ['swedencentral', 'Sweden Central', 'Europe'],
  ['swedensouth', 'Sweden South', 'Europe'],
  ['polandcentral', 'Poland Central', 'Europe'],
  ['italynorth', 'Italy North', 'Europe'],
  ['spaincentral', 'Spain Central', 'Europe'],
  ['austriaeast', 'Austria East', 'Europe'],
  ['belgiumcentral', 'Belgium Central', 'Europe'],
  ['denmarkeast', 'Denmark East', 'Europe'],
  // United Kingdom
  ['uksouth', 'UK South', 'United Kingdom'],
  ['ukwest', 'UK West', 'United Kingdom'],
  // Asia Pacific
  ['australiaeast', 'Australia East', 'Asia Pacific'],
  ['australiasoutheast', 'Australia Southeast', 'Asia Pacific'],
  ['australiacentral', 'Australia Central', 'Asia Pacific'],
  ['australiacentral2', 'Australia Central 2', 'Asia Pacific'],
  ['eastasia', 'East Asia', 'Asia Pacific'],
  ['southeastasia', 'Southeast Asia', 'Asia Pacific'],
  ['japaneast', 'Japan East', 'Asia Pacific'],
  ['japanwest', 'Japan West', 'Asia Pacific'],
  ['koreacentral', 'Korea Central', 'Asia Pacific'],
  ['koreasouth', 'Korea South', 'Asia Pacific'],
  ['centralindia', 'Central India', 'Asia Pacific'],
  ['southindia', 'South India', 'Asia Pacific'],
  ['westindia', 'West India', 'Asia Pacific'],
  ['jioindiawest', 'Jio India West', 'Asia Pacific'],
  ['jioindiacentral', 'Jio India Central', 'Asia Pacific'],
  ['indonesiacentral', 'Indonesia Central', 'Asia Pacific'],
  ['malaysiawest', 'Malaysia West', 'Asia Pacific'],
  ['newzealandnorth', 'New Zealand North', 'Asia Pacific'],
  // Middle East
  ['uaenorth', 'UAE North', 'Middle East'],
  ['uaecentral', 'UAE Central', 'Middle East'],
  ['qatarcentral', 'Qatar Central', 'Middle East'],
  ['israelcentral', 'Israel Central', 'Middle East'],
  // Africa
  ['southafricanorth', 'South Africa North', 'Africa'],
  ['southafricawest', 'South Africa West', 'Africa'],
];

export const AZURE_REGIONS: readonly AzureRegion[] = Object.freeze(
  ROWS.map(([code, displayName, geography]) => Object.freeze({ code, displayName, geography })),
);

/** Lower-case, trimmed, inner whitespace collapsed to one space: the key form for both codes and display names. */
function normalise(value: string): string {
  return value.trim().toLowerCase().replace(/\s+/g, ' ');
}

/** Code or normalised display name → code. Codes contain no spaces, so the two key spaces cannot collide. */
const CODE_BY_KEY: ReadonlyMap<string, string> = new Map(
  AZURE_REGIONS.flatMap((r) => [
    [r.code, r.code],
    [normalise(r.displayName), r.code],
  ]),
);

const DISPLAY_NAME_BY_CODE: ReadonlyMap<string, string> = new Map(AZURE_REGIONS.map((r) => [r.code, r.displayName]));

/** Every event names a region or two, spelled the same way by each producer: the exact values are cached. */
const CODE_BY_VALUE = new Map<string, string | null>();
/** Enough for every spelling of every region; a producer sending garbage only empties the cache now and then. */
const MAX_CACHED_VALUES = 1_000;

/**
 * The lower-case region code for a code ("eastus", "EastUS ") or a display name ("East US", "east  us"),
 * or null when the value is empty or not a public Azure region.
 */
export function regionCode(value: string | null | undefined): string | null {
  if (!value) return null;
  let code = CODE_BY_VALUE.get(value);
  if (code === undefined) {
    code = lookUpRegionCode(value);
    if (CODE_BY_VALUE.size >= MAX_CACHED_VALUES) CODE_BY_VALUE.clear();
    CODE_BY_VALUE.set(ownedText(value), code);
  }
  return code;
}

function lookUpRegionCode(value: string): string | null {
  const key = value.trim().toLowerCase();
  if (key === '') return null;
  return CODE_BY_KEY.get(key) ?? CODE_BY_KEY.get(key.replace(/\s+/g, ' ')) ?? null;
}

/** The display name Azure uses for a region code ("eastus" → "East US"), or null for an unknown code. */
export function regionDisplayName(code: string): string | null {
  return DISPLAY_NAME_BY_CODE.get(code.trim().toLowerCase()) ?? null;
}
