import { describe, it, expect } from 'vitest';
import { AZURE_REGIONS, regionCode, regionDisplayName } from '../../src/domain/regions.js';

describe('regionCode', () => {
  it('maps an x-ms-region display name to its code', () => {
    expect(regionCode('East US')).toBe('eastus');
    expect(regionCode('West Europe')).toBe('westeurope');
    expect(regionCode('Sweden Central')).toBe('swedencentral');
    expect(regionCode('East US 2')).toBe('eastus2');
    expect(regionCode('UAE North')).toBe('uaenorth');
    expect(regionCode('Australia Central 2')).toBe('australiacentral2');
  });

  it('returns a code unchanged', () => {
    expect(regionCode('eastus')).toBe('eastus');
    expect(regionCode('swedencentral')).toBe('swedencentral');
    expect(regionCode('westus3')).toBe('westus3');
  });

  it('tolerates any case, surrounding whitespace and repeated inner spaces', () => {
    expect(regionCode('EASTUS')).toBe('eastus');
    expect(regionCode('  SwedenCentral\t')).toBe('swedencentral');
    expect(regionCode('east us')).toBe('eastus');
    expect(regionCode('  EAST   us  2 ')).toBe('eastus2');
    expect(regionCode('South\tAfrica \n North')).toBe('southafricanorth');
  });

  it('returns null for an unknown region', () => {
    expect(regionCode('Atlantis Central')).toBeNull();
    expect(regionCode('eastus9')).toBeNull();
    expect(regionCode('East-US')).toBeNull();
  });

  it('returns null for canary, stage and non-public locations', () => {
    expect(regionCode('Central US EUAP')).toBeNull();
    expect(regionCode('eastus2euap')).toBeNull();
    expect(regionCode('eastusstg')).toBeNull();
    expect(regionCode('usgovvirginia')).toBeNull();
    expect(regionCode('global')).toBeNull();
  });

  it('returns null for null, undefined, empty and blank input', () => {
    expect(regionCode(null)).toBeNull();
    expect(regionCode(undefined)).toBeNull();
    expect(regionCode('')).toBeNull();
    expect(regionCode('   ')).toBeNull();
  });

  it('answers a value seen before as it did the first time, also after more distinct values than it remembers', () => {
    const spellings = ['East US', 'eastus', ' EAST  us ', 'Atlantis Central', '   ', 'West Europe', 'westeurope'];
    const first = spellings.map((value) => regionCode(value));
    for (let n = 0; n < 5_000; n++) expect(regionCode(`no region ${n}`)).toBeNull();
    expect(spellings.map((value) => regionCode(value))).toEqual(first);
    expect(first).toEqual(['eastus', 'eastus', 'eastus', null, null, 'westeurope', 'westeurope']);
  });
});

describe('regionDisplayName', () => {
  it('maps a code to the display name Azure writes', () => {
    expect(regionDisplayName('eastus')).toBe('East US');
    expect(regionDisplayName('uksouth')).toBe('UK South');
    expect(regionDisplayName('germanywestcentral')).toBe('Germany West Central');
  });

  it('tolerates case and surrounding whitespace in the code', () => {
    expect(regionDisplayName(' EastUS2 ')).toBe('East US 2');
  });

  it('returns null for an unknown code or a display name', () => {
    expect(regionDisplayName('atlantis')).toBeNull();
    expect(regionDisplayName('')).toBeNull();
    expect(regionDisplayName('East US')).toBeNull();
  });
});

describe('AZURE_REGIONS', () => {
  it('lists every public region reported by az account list-locations', () => {
    const expected = [
      'eastus', 'eastus2', 'centralus', 'northcentralus', 'southcentralus', 'westcentralus', 'westus', 'westus2',
      'westus3', 'canadacentral', 'canadaeast', 'mexicocentral', 'brazilsouth', 'brazilsoutheast', 'chilecentral',
      'northeurope', 'westeurope', 'francecentral', 'francesouth', 'germanywestcentral', 'germanynorth',
      'switzerlandnorth', 'switzerlandwest', 'norwayeast', 'norwaywest', 'swedencentral', 'swedensouth',
      'polandcentral', 'italynorth', 'spaincentral', 'austriaeast', 'belgiumcentral', 'denmarkeast', 'uksouth',
      'ukwest', 'australiaeast', 'australiasoutheast', 'australiacentral', 'australiacentral2', 'eastasia',
      'southeastasia', 'japaneast', 'japanwest', 'koreacentral', 'koreasouth', 'centralindia', 'southindia',
      'westindia', 'jioindiawest', 'jioindiacentral', 'indonesiacentral', 'malaysiawest', 'newzealandnorth',
      'uaenorth', 'uaecentral', 'qatarcentral', 'israelcentral', 'southafricanorth', 'southafricawest',
    ];
    const codes = new Set(AZURE_REGIONS.map((r) => r.code));
    expect(expected.filter((code) => !codes.has(code))).toEqual([]);
    expect(AZURE_REGIONS.length).toBeGreaterThanOrEqual(expected.length);
  });

  it('has unique codes and unique display names', () => {
    const codes = AZURE_REGIONS.map((r) => r.code);
    const names = AZURE_REGIONS.map((r) => r.displayName.toLowerCase());
    expect(new Set(codes).size).toBe(codes.length);
    expect(new Set(names).size).toBe(names.length);
  });

  it('uses lower-case alphanumeric codes and trimmed, single-spaced display names', () => {
    for (const r of AZURE_REGIONS) {
      expect(r.code).toMatch(/^[a-z0-9]+$/);
      expect(r.displayName).toMatch(/^\S+( \S+)*$/);
      expect(r.geography).not.toBe('');
    }
  });

  it('round-trips every row: code → display name → code', () => {
    for (const r of AZURE_REGIONS) {
      const name = regionDisplayName(r.code);
      expect(name).toBe(r.displayName);
      expect(regionCode(name)).toBe(r.code);
      expect(regionCode(r.code)).toBe(r.code);
    }
  });

  it('contains no EUAP or stage regions', () => {
    for (const r of AZURE_REGIONS) {
      expect(r.code).not.toMatch(/euap|stage|stg/);
      expect(r.displayName).not.toMatch(/EUAP|Stage|STG/);
    }
  });

  it('is immutable', () => {
    expect(Object.isFrozen(AZURE_REGIONS)).toBe(true);
    expect(AZURE_REGIONS.every((r) => Object.isFrozen(r))).toBe(true);
  });
});
