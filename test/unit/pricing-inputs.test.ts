import { describe, expect, it } from 'vitest';
import type { JoinOutcome, LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { ChargebackLines, pricingModelOf } from '../../src/domain/chargeback.js';
import { PriceMatcher, priceEntry } from '../../src/domain/price-matching.js';
import { UsageLines } from '../../src/domain/usage.js';
import { componentCharges, priceUsage } from '../../src/domain/usage-pricing.js';
import { requestCost } from '../../src/domain/request-drilldown.js';
import { tokensByKind } from '../../src/services/allocate-files.js';
import { usageFromResponseBody } from '../../src/contracts/apim-diagnostics.js';
import { ledgerEntry } from '../support/ledger-entries.js';

const prices = loadPriceTable({
  currency: 'USD',
  prices: [
    { model: 'gpt-4', deployment: null, from: '2024-01-01', to: null, inputPer1M: '30.00', outputPer1M: '60.00' },
    { model: 'gpt-4-turbo', deployment: null, from: '2024-01-01', to: null, inputPer1M: '10.00', outputPer1M: '30.00' },
    { model: 'text-embedding-ada-002', deployment: null, from: '2024-01-01', to: null, inputPer1M: '0.10' },
    { model: 'gpt-4o-realtime-preview', deployment: null, from: '2024-01-01', to: null, inputPer1M: '5.00', cachedInputPer1M: '2.50', outputPer1M: '20.00', audioInputPer1M: '40.00', audioOutputPer1M: '80.00' },
    { model: 'gpt-4o', deployment: null, from: '2024-01-01', to: null, inputPer1M: '2.50', outputPer1M: '10.00' },
    { model: 'dall-e-3', deployment: null, from: '2024-01-01', to: null, perRequest: '0.04' },
    { deployment: 'images-hd', from: '2024-01-01', to: null, perRequest: '0.08' },
  ],
});

function matched(modelName: string | null, modelVersion: string | null): JoinOutcome {
  return { status: 'matched', durationMs: 100, regionCode: 'eastus', account: 'aoai-eastus', modelName, modelVersion, streamType: 'Non-Streaming', objectId: null, httpStatus: 200 };
}

const tokens = (promptTokens: number, completionTokens: number, extra: Partial<LedgerEntry['tokens']> = {}): LedgerEntry['tokens'] => ({ source: 'gateway', promptTokens, cachedTokens: 0, completionTokens, reasoningTokens: 0, ...extra });

function lineOf(entry: LedgerEntry) {
  const lines = new ChargebackLines(new PriceMatcher(prices));
  lines.addEntry(entry);
  const [line] = lines.list();
  return line!;
}

describe('model resolution for prices: deployment entry, then the diagnostic modelName + modelVersion, then the response model', () => {
  it('prices "ada" in the response as text-embedding-ada-002, named by the joined diagnostic record', () => {
    const entry = ledgerEntry({ deployment: 'embed', model: 'ada', operation: 'Embeddings_Create', tokens: tokens(1_000_000, 0), diagnostics: matched('text-embedding-ada-002', '2') });
    expect(pricingModelOf(entry)).toBe('text-embedding-ada-002-2');
    expect(lineOf(entry)).toMatchObject({ priceVersion: 'text-embedding-ada-002@2024-01-01', unpriced: false, costPico: 100_000_000_000n, model: 'ada' });
    // Not joined: "ada" names no price, and the request is reported unpriced, never free.
    expect(lineOf({ ...entry, diagnostics: null })).toMatchObject({ unpriced: true, priceVersion: null, costPico: 0n });
  });

  it('prices a gpt-4-turbo deployment that answers "gpt-4" at the turbo price', () => {
    const entry = ledgerEntry({ deployment: 'chat-turbo', model: 'gpt-4', tokens: tokens(1_000_000, 0), diagnostics: matched('gpt-4', 'turbo-2024-04-09') });
    expect(lineOf(entry)).toMatchObject({ priceVersion: 'gpt-4-turbo@2024-01-01', costPico: 10_000_000_000_000n });
    expect(lineOf({ ...entry, diagnostics: null })).toMatchObject({ priceVersion: 'gpt-4@2024-01-01', costPico: 30_000_000_000_000n });
  });

  it.each(['1106-Preview', '0125-Preview'])('prices the GPT-4 Turbo preview gpt-4 %s at the turbo price, not gpt-4\'s', (version) => {
    const entry = ledgerEntry({ deployment: 'chat-turbo', model: 'gpt-4', tokens: tokens(1_000_000, 0), diagnostics: matched('gpt-4', version) });
    expect(pricingModelOf(entry)).toBe(`gpt-4-turbo-${version}`);
    expect(lineOf(entry)).toMatchObject({ priceVersion: 'gpt-4-turbo@2024-01-01', costPico: 10_000_000_000_000n });
    expect(lineOf({ ...entry, diagnostics: matched('gpt-4', '0613') })).toMatchObject({ priceVersion: 'gpt-4@2024-01-01' });
  });

  it('names gpt-4 vision-preview as the turbo vision model, unpriced without its entry, never at gpt-4\'s price', () => {
    const entry = ledgerEntry({ deployment: 'vision', model: 'gpt-4', tokens: tokens(1_000_000, 0), diagnostics: matched('gpt-4', 'vision-preview') });
    expect(pricingModelOf(entry)).toBe('gpt-4-turbo-vision-preview');
    expect(lineOf(entry)).toMatchObject({ unpriced: true, priceVersion: null });
  });

  it('lets a deployment entry win over both', () => {
    const entry = ledgerEntry({ deployment: 'images-hd', model: null, operation: 'ImageGenerations_Create', diagnostics: matched('dall-e-3', '3.0') });
    expect(lineOf(entry)).toMatchObject({ priceVersion: 'deployment:images-hd@2024-01-01', costPico: 80_000_000_000n });
  });
});

describe('audio tokens and per-call prices', () => {
  it('prices audio input and output apart from text', () => {
    const match = new PriceMatcher(prices).match({ model: 'gpt-4o-realtime-preview-2024-12-17', deployment: null, time: '2026-03-10T09:15:00Z' })!;
    // 2048 prompt = 512 audio + 1024 cached + 512 text; 128 completion = 100 audio + 28 text.
    const priced = priceEntry({ tokens: { promptTokens: 2048, cachedTokens: 1024, completionTokens: 128, reasoningTokens: 0, audioPromptTokens: 512, audioCompletionTokens: 100 } }, match);
    expect(priced.tokens).toEqual({ uncachedInput: 512, cachedInput: 1024, output: 28, audioInput: 512, audioOutput: 100, perRequest: 0 });
    // 512×5 + 1024×2.5 + 28×20 + 512×40 + 100×80 = 2560 + 2560 + 560 + 20480 + 8000 = 34160 micro-dollars per 1M → 0.03416 USD.
    expect(priced.costPico).toBe(34_160_000_000n);
  });

  it('charges cached audio once, as cached, when a response counts it among both its cached and its audio tokens', () => {
    // Realtime usage: cached tokens are "a subset of input tokens", and audio_tokens counts all audio input, cached
    // or not (OpenAI API reference, realtime response usage). 1,000 prompt = 400 text + 600 audio; 500 cached.
    // Counted together, cached and audio hold 100 tokens beyond the prompt: cached audio, at the least.
    const match = new PriceMatcher(prices).match({ model: 'gpt-4o-realtime-preview-2024-12-17', deployment: null, time: '2026-03-10T09:15:00Z' })!;
    const priced = priceEntry({ tokens: { promptTokens: 1000, cachedTokens: 500, completionTokens: 0, reasoningTokens: 0, audioPromptTokens: 600 } }, match);
    expect(priced.tokens).toMatchObject({ uncachedInput: 0, cachedInput: 500, audioInput: 500 });
    expect(priced.tokens.uncachedInput + priced.tokens.cachedInput + priced.tokens.audioInput).toBe(1000);
    // The usage tiles and the invoice allocation count the same tokens as the request's price.
    const entry = ledgerEntry({ model: 'gpt-4o-realtime-preview-2024-12-17', tokens: tokens(1000, 0, { cachedTokens: 500, audioPromptTokens: 600 }) });
    const usage = new UsageLines();
    usage.addEntry(entry);
    const [line] = usage.list();
    expect(line).toMatchObject({ uncachedInputTokens: 0, cachedTokens: 500, audioPromptTokens: 600 });
    expect(componentCharges(line!, match).map((c) => [c.component, c.quantity])).toEqual([['input', 0], ['cached input', 500], ['output', 0], ['audio input', 500], ['audio output', 0]]);
    expect(tokensByKind(entry, entry.model)).toMatchObject({ input: 0n, cachedInput: 500n, audioInput: 500n });
  });

  it('prices a request whose audio is all proven cached as its usage line does, against a per-call price alone', () => {
    // 1,000 prompt tokens, all cached, 400 of them audio: no audio is priced as audio, so the request uses text
    // only. The request alone and its report line must agree on its price (or on its having none).
    const perCall = new PriceMatcher(loadPriceTable({ currency: 'USD', prices: [{ model: 'm-percall', from: '2024-01-01', to: null, perRequest: '0.04' }] }));
    const entry = ledgerEntry({ model: 'm-percall', time: '2026-03-10T09:15:00.000Z', tokens: tokens(1000, 10, { cachedTokens: 1000, audioPromptTokens: 400 }) });
    const alone = requestCost(entry, perCall);
    const usage = new UsageLines();
    usage.addEntry(entry);
    const [line] = priceUsage([{ day: '2026-03-10', lines: usage.list() }], perCall);
    expect({ unpriced: line!.unpriced, costPico: line!.costPico }).toEqual({ unpriced: alone.basis === 'unpriced', costPico: alone.costPico });
  });

  it('leaves the cached audio a realtime response names (cached_tokens_details) out of the audio tokens priced as audio', () => {
    // Learn, @azure/ai-projects RealtimeResponseUsageInputTokenDetails: cached_tokens_details is "the breakdown of
    // cached input tokens by content type". 2,000 prompt = 1,400 text + 600 audio; 500 cached = 200 text + 300 audio.
    const usage = usageFromResponseBody({
      usage: {
        total_tokens: 2000,
        input_tokens: 2000,
        output_tokens: 0,
        input_token_details: { text_tokens: 1400, audio_tokens: 600, cached_tokens: 500, cached_tokens_details: { text_tokens: 200, audio_tokens: 300 } },
        output_token_details: { text_tokens: 0, audio_tokens: 0 },
      },
    });
    expect(usage).toMatchObject({ promptTokens: 2000, cachedTokens: 500, audioPromptTokens: 300 });
    const match = new PriceMatcher(prices).match({ model: 'gpt-4o-realtime-preview-2024-12-17', deployment: null, time: '2026-03-10T09:15:00Z' })!;
    // 1,200 text × 5 + 500 cached × 2.5 + 300 audio × 40 = 6,000 + 1,250 + 12,000 micro-dollars per 1M.
    expect(priceEntry({ tokens: { ...usage!, completionTokens: 0, reasoningTokens: 0, cachedTokens: 500 } }, match).costPico).toBe(19_250_000_000n);
  });

  it('reports a request with audio tokens unpriced when its price has no audio price, rather than pricing audio as text', () => {
    const entry = ledgerEntry({ model: 'gpt-4o-2024-08-06', tokens: tokens(2048, 128, { audioPromptTokens: 512 }) });
    expect(lineOf(entry)).toMatchObject({ unpriced: true, priceVersion: null, costPico: 0n, promptTokens: 2048 });
    expect(lineOf({ ...entry, tokens: tokens(2048, 128) })).toMatchObject({ unpriced: false, priceVersion: 'gpt-4o@2024-01-01' });
  });

  it('charges an image per call, and reports an image without a price unpriced, never as free (dall-e-3)', () => {
    const image = ledgerEntry({ deployment: 'images', model: null, operation: 'ImageGenerations_Create', diagnostics: matched('dall-e-3', '3.0') });
    expect(lineOf(image)).toMatchObject({ priceVersion: 'dall-e-3@2024-01-01', unpriced: false, requests: 1, costPico: 40_000_000_000n });
    const unknownImageModel = ledgerEntry({ deployment: 'images', model: null, operation: 'ImageGenerations_Create', diagnostics: matched('gpt-image-1', '2025-04-15') });
    expect(lineOf(unknownImageModel)).toMatchObject({ unpriced: true, costPico: 0n, requests: 1 });
    // The real archive sample: a dall-e-3 record on a ChatCompletions_Create call, with no tokens.
    const dallE = ledgerEntry({ deployment: 'dall-e-3', model: null, diagnostics: matched('dall-e-3', '3.0') });
    expect(lineOf(dallE)).toMatchObject({ priceVersion: 'dall-e-3@2024-01-01', costPico: 40_000_000_000n });
    // A failed image request is not billed.
    expect(lineOf({ ...image, status: 400 })).toMatchObject({ unpriced: false, priceVersion: null, costPico: 0n });
  });

  // The operation ids of the inference API's definition (azure-rest-api-specs, AzureOpenAI inference stable/2024-10-21,
  // /deployments/{deployment-id}/audio/transcriptions and /audio/translations); the answer carries no model and no usage.
  it.each(['Transcriptions_Create', 'Translations_Create'])('charges a Whisper %s call per call before any diagnostic record names its model', (operation) => {
    const call = ledgerEntry({ deployment: 'whisper', model: null, operation, diagnostics: null });
    const perCall = loadPriceTable({ currency: 'USD', prices: [{ deployment: 'whisper', from: '2024-01-01', to: null, perRequest: '0.006' }] });
    const lines = new ChargebackLines(new PriceMatcher(perCall));
    lines.addEntry(call);
    expect(lines.list()[0]).toMatchObject({ unpriced: false, requests: 1, costPico: 6_000_000_000n });
    expect(lineOf(call)).toMatchObject({ unpriced: true, costPico: 0n });
  });

  it("prices a gpt-4o-transcribe transcription by the tokens its answer counts, as Azure bills it, not per call", () => {
    // OpenAI API reference, "Create transcription": gpt-4o-transcribe answers usage of type "tokens" (input_tokens,
    // input_token_details.audio_tokens, output_tokens); Azure bills the model per audio input, text input and output token.
    const transcribe = loadPriceTable({ currency: 'USD', prices: [{ model: 'gpt-4o-transcribe', from: '2025-03-20', to: null, inputPer1M: '2.50', audioInputPer1M: '6.00', outputPer1M: '10.00' }] });
    const lines = new ChargebackLines(new PriceMatcher(transcribe));
    const call = ledgerEntry({ deployment: 'transcribe', model: 'gpt-4o-transcribe', operation: 'Transcriptions_Create', tokens: tokens(14, 45, { audioPromptTokens: 14 }) });
    lines.addEntry(call);
    // 14 audio input tokens × 6 + 45 output tokens × 10 = 534 micro-dollars per 1M tokens.
    expect(lines.list()[0]).toMatchObject({ unpriced: false, priceVersion: 'gpt-4o-transcribe@2025-03-20', requests: 1, costPico: 534_000_000n });
    // An answer that counted no tokens (a stream the gateway did not read) is still a call its price must cover per call.
    const uncounted = new ChargebackLines(new PriceMatcher(transcribe));
    uncounted.addEntry({ ...call, tokens: tokens(0, 0) });
    expect(uncounted.list()[0]).toMatchObject({ unpriced: true, costPico: 0n });
  });

  it('keeps an image request with tokens per call: its image input tokens have no price of their own (gpt-image-1)', () => {
    const image = loadPriceTable({ currency: 'USD', prices: [{ model: 'gpt-image-1', from: '2025-04-15', to: null, inputPer1M: '5.00', outputPer1M: '40.00' }] });
    const lines = new ChargebackLines(new PriceMatcher(image));
    lines.addEntry(ledgerEntry({ deployment: 'images', model: 'gpt-image-1', operation: 'ImageGenerations_Create', tokens: tokens(50, 4160) }));
    expect(lines.list()[0]).toMatchObject({ unpriced: true, costPico: 0n });
  });

  it('refuses a price entry with neither per-token nor per-call prices', () => {
    expect(() => loadPriceTable({ currency: 'USD', prices: [{ model: 'x', from: '2024-01-01' }] })).toThrow(/give "inputPer1M" \(prices per token\), "perRequest"/);
  });
});
