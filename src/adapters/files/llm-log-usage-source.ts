import type { LlmUsageRow } from '../../domain/reconciliation.js';
import type { LlmUsage, LlmUsageSource } from '../../ports/diagnostics-source.js';
import { readLlmLogExport } from './llm-log-export.js';

/**
 * APIM's LLM-log tokens read from an `ApiManagementGatewayLlmLog` export on disk (any form `readLlmLogExport`
 * reads), for the join on the local stack; in Azure, `LogAnalyticsLlmUsageSource` queries the workspace. The file
 * is read once, on the first call.
 */
export class LlmLogExportUsageSource implements LlmUsageSource {
  private rows: Promise<Map<string, LlmUsageRow>> | null = null;

  constructor(private readonly file: string) {}

  async getUsage(gatewayRequestIds: readonly string[], range: { from: Date; to: Date }): Promise<LlmUsage[]> {
    this.rows ??= readLlmLogExport(this.file).then((rows) => new Map(rows.map((row) => [row.gatewayRequestId.toLowerCase(), row])));
    const byId = await this.rows;
    const usage: LlmUsage[] = [];
    for (const id of new Set(gatewayRequestIds)) {
      const row = byId.get(id.toLowerCase());
      if (!row) continue;
      const time = Date.parse(row.time);
      if (time < range.from.getTime() || time >= range.to.getTime()) continue;
      usage.push({ gatewayRequestId: id, promptTokens: row.promptTokens, completionTokens: row.completionTokens, totalTokens: row.promptTokens + row.completionTokens });
    }
    return usage;
  }
}
