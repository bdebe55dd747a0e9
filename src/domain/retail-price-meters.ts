/**
 * What an Azure Retail Prices item prices: the model, the deployment type (Global, Data Zone, Regional), the kind of
 * token (text or audio, input, cached input or output) or an image, and the exact price of one token or image.
 * Pure; shared by the price import and by anything else that reads Azure meters (an invoice's meter names are the
 * same).
 *
 * Azure names meters for invoices, not for machines, and spells the same thing several ways across model families
 * (`gpt-4o-0806-Inp-glbl`, `gpt 4o 0806 cached Inp glbl`, `gpt 4o 0513 Input global`, `GPT 5 Mini cchd Inpt Glbl 1M`,
 * `gpt-4o-rt-aud-1217 cchd Inp DZn`). A meter name is read as words (split at spaces and hyphens, case ignored), each
 * word sorted into one role; prices/README.md ("Azure Retail Prices") has the table. A meter whose words do not fit is
 * skipped with a reason, never guessed at: a price under the wrong model or token kind would be silently wrong.
 */

export const DEPLOYMENT_TYPES = ['global', 'datazone', 'regional'] as const;
export type DeploymentType = (typeof DEPLOYMENT_TYPES)[number];

export const METER_KINDS = ['input', 'cachedInput', 'output', 'audioInput', 'cachedAudioInput', 'audioOutput', 'perImage'] as const;
export type MeterKind = (typeof METER_KINDS)[number];

/** The item fields a meter is read from. */
export interface MeterFields {
  readonly productName: string;
  readonly meterName: string;
  readonly unitOfMeasure: string;
  readonly type: string;
  readonly tierMinimumUnits?: string | undefined;
}

export interface AzureMeter {
  /** The model as requests and price files name it: `gpt-4o-2024-08-06`, `gpt-4.1`, `gpt-35-turbo-0125`. */
  readonly model: string;
  /** The model without its version: `gpt-4o`. */
  readonly baseModel: string;
  /** The model version the meter names (`2024-08-06`, `0125`), or null when it names none. */
  readonly modelVersion: string | null;
  readonly deploymentType: DeploymentType;
  readonly kind: MeterKind;
  /** How many tokens (or images) the quoted price is for: 1,000 for `1K`, 100 for `100` images. */
  readonly unitsPerPrice: bigint;
}

export type MeterReading = { readonly meter: AzureMeter; readonly skip?: never } | { readonly skip: SkipReason; readonly meter?: never };

/** Why an item is not imported; a fixed sentence per cause, so skipped items can be counted by reason. */
export const SKIP_REASONS = {
  notOpenAi: 'not an Azure OpenAI meter',
  notConsumption: 'not a Consumption (pay-as-you-go) price: a reservation or savings plan',
  tiered: 'a tier above the first of a tiered price',
  unit: 'not priced per token or per image (hours, days, sessions, characters, calls)',
  batch: 'a Batch API price (batch requests are billed at their own rates)',
  fineTuning: 'a fine-tuning price (training, hosting, fine-tuned model or grader tokens)',
  imageTokens: 'image tokens (the price file has no price for image tokens)',
  imageVariant: 'an HD or high-resolution image price (the price file has one per-image price per model: standard quality, lowest resolution)',
  noDeploymentType: 'no deployment type (global, data zone, regional) in the meter name',
  noDirection: 'no input or output in the meter name',
  unknownVersion: 'a model version code with no known release date',
  unrecognized: 'a meter name these rules do not read',
} as const;
export type SkipReason = (typeof SKIP_REASONS)[keyof typeof SKIP_REASONS];

const DEPLOYMENT_WORDS: Readonly<Record<string, DeploymentType>> = {
  glbl: 'global', global: 'global', gl: 'global',
  datazone: 'datazone', dzone: 'datazone', dzn: 'datazone', dz: 'datazone',
  regnl: 'regional', regional: 'regional', rgnl: 'regional', regn: 'regional',
};
const INPUT_WORDS = new Set(['inp', 'input', 'inpt', 'in']);
const OUTPUT_WORDS = new Set(['outp', 'output', 'outpt', 'out', 'opt']);
const CACHED_WORDS = new Set(['cached', 'cchd', 'ccchd', 'cched', 'cd']);
const AUDIO_WORDS = new Set(['aud', 'audio']);
const TEXT_WORDS = new Set(['txt', 'text']);
const REALTIME_WORDS = new Set(['rt', 'rtime', 'realtime', 'realtimeprvw']);
const FINE_TUNING_WORDS = new Set(['ft', 'trng', 'training', 'hstng', 'hosting', 'grader', 'grdr', 'rft', 'dev']);
/** Words that add nothing: `prvw` of realtime preview meters (the family name says preview). */
const NOISE_WORDS = new Set(['prvw']);

/**
 * The year of each model version code (`MMDD`) Azure meters use, from the model versions Azure OpenAI has released:
 * a meter names `0806`, the model is `gpt-4o` version `2024-08-06`. gpt-35-turbo versions are the codes themselves.
 */
const VERSION_YEARS: Readonly<Record<string, string>> = {
  '0513': '2024', '0718': '2024', '0806': '2024', '1120': '2024', '1217': '2024',
  '0131': '2025', '0227': '2025', '0416': '2025', '0603': '2025', '0626': '2025',
};

/** Model names whose meter spelling differs from the name requests carry. */
const MODEL_NAMES: Readonly<Record<string, string>> = {
  'gpt-5-rsng': 'gpt-5',
  'gpt-4.5': 'gpt-4.5-preview',
  'embedding-ada': 'text-embedding-ada-002',
  'computer-use': 'computer-use-preview',
};
const KNOWN_MODEL = /^(?:gpt-|o\d|text-embedding-|codex-|computer-use|dall-e-)/;
/**
 * From GPT-5.3 on, the meters of product `Azure OpenAI GPT5` name the model by its version alone (`5.4 inp Gl`,
 * `5.4 mini cd Inp Gl`, `5.3 codex opt Gl`): the model is `gpt-` and those words. Only these variant words are
 * read; other qualifiers (`PP`, `ShortCo`, `Std`, `Fl`) price other service tiers and are left out as unread.
 */
const BARE_GPT5_VERSION = /^\d+(?:\.\d+)?(?:-(?:pro|mini|nano|codex|chat))?$/;

/** `gpt4o` → `gpt 4o`, `gpt4omini` → `gpt 4o mini`, `aud1217` → `aud 1217`, `turbo16k` → `turbo 16k`. */
function splitWords(name: string): string[] {
  const words: string[] = [];
  for (const word of name.toLowerCase().split(/[\s-]+/)) {
    if (word === '') continue;
    const gpt = /^gpt(4o)(mini)?$/.exec(word);
    const versioned = /^([a-z]+)(\d{4})$/.exec(word);
    const context = /^(turbo)(\d+k)$/.exec(word);
    if (gpt) words.push('gpt', gpt[1]!, ...(gpt[2] ? [gpt[2]] : []));
    else if (versioned && versioned[1] !== 'gpt') words.push(versioned[1]!, versioned[2]!);
    else if (context) words.push(context[1]!, context[2]!);
    else words.push(word);
  }
  return words;
}

/** `1K` → 1,000; `1M` → 1,000,000; `100` → 100; anything else (`1 Hour`, `1/Day`) → null. */
export function unitsOfMeasure(unit: string): bigint | null {
  const parts = /^(\d+)\s*([KM]?)$/.exec(unit.trim());
  if (!parts) return null;
  const scale = parts[2] === 'K' ? 1_000n : parts[2] === 'M' ? 1_000_000n : 1n;
  return BigInt(parts[1]!) * scale;
}

function versionDate(code: string, baseModel: string): string | null {
  if (baseModel.startsWith('gpt-35-turbo')) return code;
  const year = VERSION_YEARS[code];
  return year ? `${year}-${code.slice(0, 2)}-${code.slice(2)}` : null;
}

/** Reads one item's meter, or says why it is not an Azure OpenAI token or image price. */
export function readMeter(item: MeterFields): MeterReading {
  if (!item.productName.startsWith('Azure OpenAI')) return { skip: SKIP_REASONS.notOpenAi };
  if (item.type !== 'Consumption') return { skip: SKIP_REASONS.notConsumption };
  if (item.tierMinimumUnits !== undefined && !/^0(?:\.0+)?(?:[eE][+-]?\d+)?$/.test(item.tierMinimumUnits)) return { skip: SKIP_REASONS.tiered };
  const unitsPerPrice = unitsOfMeasure(item.unitOfMeasure);
  const tokens = /^(.*?)\s+(?:1[KM]\s+)?Tokens$/.exec(item.meterName);
  const images = /^Image-(.*?)\s+Images$/i.exec(item.meterName);
  if (unitsPerPrice === null || (!tokens && !images)) return { skip: SKIP_REASONS.unit };
  const words = splitWords((tokens ?? images)![1]!);
  if (words.some((word) => word.includes('batch'))) return { skip: SKIP_REASONS.batch };
  if (words.some((word) => FINE_TUNING_WORDS.has(word))) return { skip: SKIP_REASONS.fineTuning };
  if (words.includes('img')) return { skip: SKIP_REASONS.imageTokens };

  let deploymentType: DeploymentType | null = null;
  let direction: 'input' | 'output' | null = null;
  let directions = 0;
  let cached = false;
  let audio = false;
  let text = false;
  let realtime = false;
  let version: string | null = null;
  let context: string | null = null;
  const modelWords: string[] = [];
  const embedding = words.includes('embedding');
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === 'data' && words[i + 1] === 'zone') {
      deploymentType = 'datazone';
      i++;
    } else if (DEPLOYMENT_WORDS[word]) deploymentType = DEPLOYMENT_WORDS[word];
    else if (INPUT_WORDS.has(word)) [direction, directions] = ['input', directions + 1];
    else if (OUTPUT_WORDS.has(word)) [direction, directions] = ['output', directions + 1];
    else if (CACHED_WORDS.has(word)) cached = true;
    else if (AUDIO_WORDS.has(word)) audio = true;
    else if (TEXT_WORDS.has(word) && !embedding) text = true;
    else if (REALTIME_WORDS.has(word)) realtime = true;
    else if (NOISE_WORDS.has(word)) continue;
    else if (/^\d{4}$/.test(word) && modelWords.length > 0) version = word;
    else if (/^\d+k$/.test(word)) context = word;
    else modelWords.push(word);
  }
  if (directions > 1 || modelWords.some((word) => /inp|outp|zone|glbl|aud/.test(word))) return { skip: SKIP_REASONS.unrecognized };
  if (deploymentType === null) return { skip: SKIP_REASONS.noDeploymentType };

  let baseModel = modelWords.join('-');
  let kind: MeterKind;
  if (images) {
    const dallE = /^(?:image-)?dall-e-(\d)(?:-(.*))?$/.exec(baseModel);
    if (!dallE || direction !== null || cached || audio) return { skip: SKIP_REASONS.unrecognized };
    if (dallE[2] !== undefined && dallE[2] !== 'std-lowres') {
      return { skip: /(?:^|-)(?:hd|highres)(?:-|$)/.test(dallE[2]) ? SKIP_REASONS.imageVariant : SKIP_REASONS.unrecognized };
    }
    baseModel = `dall-e-${dallE[1]}`;
    kind = 'perImage';
  } else {
    if (direction === null && !embedding) return { skip: SKIP_REASONS.noDirection };
    const input = direction !== 'output';
    if (cached && !input) return { skip: SKIP_REASONS.unrecognized };
    const audioTokens = audio && !text;
    kind = audioTokens ? (cached ? 'cachedAudioInput' : input ? 'audioInput' : 'audioOutput') : cached ? 'cachedInput' : input ? 'input' : 'output';
  }
  if (context !== null) {
    // Context size is part of the model name only where Azure names a model by it: gpt-4-32k, gpt-35-turbo-16k
    // (0613); versioned gpt-35-turbo models (0125, 1106) are 16k and named without it.
    if ((baseModel === 'gpt-4' && context === '32k') || (baseModel === 'gpt-35-turbo' && context === '16k' && version === null)) baseModel += `-${context}`;
  }
  baseModel = MODEL_NAMES[baseModel] ?? baseModel;
  if (item.productName === 'Azure OpenAI GPT5' && BARE_GPT5_VERSION.test(baseModel)) baseModel = `gpt-${baseModel}`;
  if (realtime) baseModel += '-realtime-preview';
  else if (audio && !/(?:^|-)(?:transcribe|tts)(?:-|$)/.test(baseModel)) baseModel += '-audio-preview';
  if (!KNOWN_MODEL.test(baseModel) || !/^[a-z0-9.-]+$/.test(baseModel)) return { skip: SKIP_REASONS.unrecognized };
  const modelVersion = version === null ? null : versionDate(version, baseModel);
  if (version !== null && modelVersion === null) return { skip: SKIP_REASONS.unknownVersion };
  const model = modelVersion === null ? baseModel : `${baseModel}-${modelVersion}`;
  return { meter: { model, baseModel, modelVersion, deploymentType, kind, unitsPerPrice } };
}

/**
 * A JSON number's text as an exact decimal: `digits × 10^-scale`. Exponent forms (`8.8E-05`, `2e-05`) are read
 * exactly. Throws a `RangeError` for a negative number or malformed text.
 */
export function exactDecimal(text: string): { digits: bigint; scale: number } {
  const parts = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!parts) throw new RangeError(`not a number: ${JSON.stringify(text)}`);
  const fraction = parts[3] ?? '';
  let digits = BigInt(`${parts[2]}${fraction}`);
  if (parts[1] === '-' && digits !== 0n) throw new RangeError(`negative price ${text}`);
  let scale = fraction.length - Number(parts[4] ?? '0');
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { digits, scale };
}

/**
 * The exact price of one token (or image) in picodollars (10^-12 USD), for a price quoted per `unitsPerPrice` units;
 * null when it is not a whole number of picodollars (finer than the ledger's smallest step).
 */
export function picodollarsPerUnit(priceText: string, unitsPerPrice: bigint): bigint | null {
  const { digits, scale } = exactDecimal(priceText);
  const numerator = digits * 10n ** 12n;
  const denominator = 10n ** BigInt(scale) * unitsPerPrice;
  return numerator % denominator === 0n ? numerator / denominator : null;
}
