import { writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isoDateSchema, loadPriceTable } from '../../contracts/price-table.js';
import { importRetailPrices, type RetailImport } from '../../adapters/files/price-files.js';
import { DEPLOYMENT_TYPES, type DeploymentType } from '../../domain/retail-price-meters.js';
import { checkInput, checkOutput } from '../input-files.js';
import { terminalSafe } from '../terminal-text.js';

const IMPORT_HELP = `
Each file is a response of https://prices.azure.com/api/retail/prices saved as it came (one page, or a JSON
array of pages); give every page of a paged response. For example:
  curl -o page-1.json "https://prices.azure.com/api/retail/prices?\\$filter=armRegionName%20eq%20'eastus'%20and%20startswith(productName,'Azure%20OpenAI')"
Only Azure OpenAI token and image prices of one deployment type and one region are taken; every other item is
counted by reason. prices/README.md ("Azure Retail Prices") lists how meter names map to models and token kinds.`;

function isoDay(value: string): string {
  const parsed = isoDateSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues.map((issue) => issue.message).join('; '));
  return value;
}

/** What an import took and left, one line per reason, for stderr. */
export function describeImport(imported: RetailImport): string {
  const { conversion, file, warnings } = imported;
  const lines = [`${file.prices.length} price entries from ${conversion.imported} items${conversion.region ? ` (${conversion.region})` : ''}`];
  const skipped = [...conversion.skipped].sort((a, b) => b[1] - a[1]);
  if (skipped.length > 0) lines.push(`skipped ${skipped.reduce((sum, [, n]) => sum + n, 0)} items:`, ...skipped.map(([reason, n]) => `  ${n} ${reason}`));
  lines.push(...warnings.map((warning) => `warning: ${warning}`));
  // The region and the warnings quote the file, which whoever saved or edited it wrote: one line each, escaped.
  return lines.map(terminalSafe).join('\n') + '\n';
}

/** `prices import --retail FILE… --out F`: saved Azure Retail Prices responses → the project's price file. */
export function pricesCommand(): Command {
  const command = new Command('prices').description('Price files: import Azure retail prices.');
  command
    .command('import')
    .description('Convert saved Azure Retail Prices API responses into a price file (see prices/README.md).')
    .requiredOption('--retail <files...>', 'saved Retail Prices API responses (JSON): one page a file, or an array of pages')
    .requiredOption('--out <file>', 'price file to write')
    .option('--region <armRegionName>', 'the region whose prices to take (required when the files hold several)')
    .addOption(new Option('--deployment-type <type>', 'deployment type whose prices to take').choices([...DEPLOYMENT_TYPES]).default('global'))
    .addOption(new Option('--as-of <YYYY-MM-DD>', 'take the prices in effect on this day; later ones are left out').argParser(isoDay).default(new Date().toISOString().slice(0, 10), 'today, UTC'))
    .addHelpText('after', IMPORT_HELP)
    .action(async (opts: { retail: string[]; out: string; region?: string; deploymentType: DeploymentType; asOf: string }) => {
      for (const file of opts.retail) await checkInput(file, { option: '--retail', kind: 'file', holding: 'a saved Azure Retail Prices API response (JSON)', text: true });
      await checkOutput(opts.out, { option: '--out', kind: 'file' });
      const imported = await importRetailPrices(opts.retail, { asOf: opts.asOf, deploymentType: opts.deploymentType, region: opts.region });
      // The file written must load as any price file does.
      loadPriceTable(imported.file);
      await writeFile(opts.out, JSON.stringify(imported.file, null, 2) + '\n');
      process.stderr.write(describeImport(imported) + `wrote ${opts.out}\n`);
    });
  return command;
}
