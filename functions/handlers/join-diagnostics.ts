import type { InvocationContext, Timer } from '@azure/functions';
import { joinDiagnostics, type JoinPorts } from '../../src/services/join-diagnostics.js';

export interface JoinHandlerOptions {
  readonly graceInMs: number;
  readonly watermarkName: string;
  /** The clock; the local runner passes a simulated one. */
  readonly now?: () => Date;
}

/**
 * Timer handler: joins the diagnostics that arrived since the last run to the ledger. A failed run leaves the
 * watermark where the last stored read put it, so the next run resumes there.
 */
export function createJoinHandler(ports: () => JoinPorts, options: () => JoinHandlerOptions) {
  return async function joinDiagnosticsTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const { graceInMs, watermarkName, now } = options();
    const result = await joinDiagnostics(ports(), { now: now?.() ?? new Date(), graceInMs, watermarkName });
    context.log(
      `join: ${result.recordsRead} records read (${result.recordsStored} stored, ${result.rejected} rejected), watermark ${result.watermark ?? 'none'}, ` +
        `${result.entriesJudged} requests and ${result.recordsJudged} records settled, ${result.streamsCounted} streams counted from the APIM LLM log`,
    );
    if (result.llmUsageUnavailable !== undefined) {
      context.warn(`join: the APIM LLM log could not be read (${result.llmUsageUnavailable}); streams the gateway could not count were settled without its tokens`);
    }
  };
}
