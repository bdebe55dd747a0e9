import { basename } from 'node:path';
import { loadPriceTable, PRICE_CURRENCY, type PriceFile, type PriceTable } from '../../contracts/price-table.js';
import { isRetailPricesResponse, retailPriceItemSchema, retailPricesPageSchema } from '../../contracts/retail-prices.js';
import { parseJsonKeepingNumberText, parseJsonText } from '../../domain/exact-json.js';
import type { DeploymentType } from '../../domain/retail-price-meters.js';
import { retailPricesToEntries, type LocatedRetailItem, type RetailConversion } from '../../domain/retail-price-table.js';
import { readJsonFile } from './json-file.js';

/**
 * Reading price files from disk: the project's own price file, or saved Azure Retail Prices API responses, which
 * are converted in memory (see `retail-price-table.ts`). Every message names the file, and the line and column of a
 * JSON syntax error or the item of a bad price.
 */

export interface RetailImportOptions {
  /** `YYYY-MM-DD`: the day whose prices are taken (later ones are left out). */
  readonly asOf: string;
  readonly deploymentType?: DeploymentType | undefined;
  readonly region?: string | undefined;
}

export interface RetailImport {
  readonly file: PriceFile;
  readonly conversion: RetailConversion;
  /** Things worth telling the user that do not stop the import (pages that may be missing). */
  readonly warnings: readonly string[];
}

/** The most problems one error lists; a file with more has one line saying how many more. */
const MAX_LISTED = 20;

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

function fail(path: string, what: string, problems: readonly string[]): never {
  const listed = problems.slice(0, MAX_LISTED).map((problem) => `  - ${problem}`);
  if (problems.length > MAX_LISTED) listed.push(`  - … and ${problems.length - MAX_LISTED} more`);
  throw new Error(`${path}: ${what} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${listed.join('\n')}`);
}

/** The price items of one saved response (a page or an array of pages), each with where it was read. */
function retailItems(path: string, json: unknown): { items: LocatedRetailItem[]; pages: number; lastPages: number } {
  if (!isRetailPricesResponse(json)) {
    throw new Error(`${path}: not an Azure Retail Prices response: expected {"BillingCurrency": …, "Items": [...], "NextPageLink": …} or an array of such pages, found no "Items"`);
  }
  const pages = Array.isArray(json) ? (json as unknown[]) : [json];
  const items: LocatedRetailItem[] = [];
  const problems: string[] = [];
  let lastPages = 0;
  pages.forEach((raw, p) => {
    const prefix = Array.isArray(json) ? `[${p}].` : '';
    const page = retailPricesPageSchema.safeParse(raw);
    if (!page.success) {
      for (const issue of page.error.issues) problems.push(`${prefix}${formatPath(issue.path)}: ${issue.message}`);
      return;
    }
    const currency = page.data.BillingCurrency;
    if (currency !== undefined && currency !== PRICE_CURRENCY) {
      throw new Error(`${path}: ${prefix}BillingCurrency is ${JSON.stringify(currency)}: TokenLedger prices in ${PRICE_CURRENCY}; save the response without a currencyCode parameter (or with currencyCode='${PRICE_CURRENCY}')`);
    }
    if (page.data.NextPageLink === null || page.data.NextPageLink === undefined) lastPages++;
    page.data.Items.forEach((rawItem, i) => {
      const where = `${prefix}Items[${i}]`;
      const item = retailPriceItemSchema.safeParse(rawItem);
      if (item.success) items.push({ item: item.data, where: `${basename(path)}: ${where}` });
      else for (const issue of item.error.issues) problems.push(`${where}${issue.path.length > 0 ? '.' : ''}${formatPath(issue.path)}: ${issue.message}`);
    });
  });
  if (problems.length > 0) fail(path, 'invalid Azure Retail Prices response', problems);
  return { items, pages: pages.length, lastPages };
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** Builds a price file from parsed responses, each with the path it was read from. */
function importParsed(responses: readonly { path: string; json: unknown }[], options: RetailImportOptions): RetailImport {
  const items: LocatedRetailItem[] = [];
  let pages = 0;
  let lastPages = 0;
  for (const { path, json } of responses) {
    const read = retailItems(path, json);
    items.push(...read.items);
    pages += read.pages;
    lastPages += read.lastPages;
  }
  const deploymentType = options.deploymentType ?? 'global';
  const conversion = retailPricesToEntries(items, { asOf: options.asOf, deploymentType, region: options.region });
  const warnings: string[] = [];
  if (lastPages === 0) {
    warnings.push(`every page given (${pages}) has a NextPageLink: the response goes on beyond them, and the prices on the missing pages are not imported`);
  }
  if (conversion.prices.length === 0) {
    warnings.push(`no Azure OpenAI token or image price of ${deploymentType} deployments${conversion.region ? ` in ${conversion.region}` : ''} in effect on ${options.asOf}`);
  }
  const names = responses.map(({ path }) => basename(path)).join(', ');
  const file: PriceFile = {
    currency: PRICE_CURRENCY,
    source: `Azure Retail Prices API (${names}): ${deploymentType} deployments${conversion.region ? `, ${conversion.region}` : ''}, prices in effect on ${options.asOf}`,
    retrieved: options.asOf,
    prices: conversion.prices,
    provisioned: [],
  };
  return { file, conversion, warnings };
}

/** Reads saved Retail Prices responses (one page a file, or an array of pages) and converts them to a price file. */
export async function importRetailPrices(paths: readonly string[], options: RetailImportOptions): Promise<RetailImport> {
  const responses = [];
  for (const path of paths) responses.push({ path, json: (await readJsonFile(path, parseJsonKeepingNumberText)).json });
  return importParsed(responses, options);
}

/**
 * Reads the price table at `path`: the project's price file, or a saved Azure Retail Prices response (Global
 * deployment prices in effect today, converted in memory). Errors name the file.
 */
export async function readPriceTable(path: string, options: Partial<RetailImportOptions> = {}): Promise<{ table: PriceTable; imported?: RetailImport }> {
  const { text, json } = await readJsonFile(path, parseJsonKeepingNumberText);
  if (isRetailPricesResponse(json)) {
    const imported = importParsed([{ path, json }], { ...options, asOf: options.asOf ?? today() });
    return { table: withFile(path, () => loadPriceTable(imported.file)), imported };
  }
  // The price file refuses JSON numbers as amounts, so it is read with them as numbers.
  return { table: withFile(path, () => loadPriceTable(parseJsonText(text))) };
}

function withFile<T>(path: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}
