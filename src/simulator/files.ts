import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { COST_EXPORT_FILE, csvField } from './cost-export.js';
import { singleLine, type SimulatedDay } from './traffic.js';

export const SIMULATION_FILES = {
  events: 'events.jsonl',
  diagnostics: 'diagnostics',
  directory: 'directory.csv',
  groundTruth: 'ground-truth.json',
  llmLog: 'llm-log.jsonl',
  metrics: 'metrics.json',
  costExport: COST_EXPORT_FILE,
} as const;

/**
 * Writes a simulated day: gateway events (JSONL), the diagnostics storage archive, the identity directory, the day's
 * Azure OpenAI cost export (FOCUS CSV) and the ground truth.
 */
export async function writeSimulation(outDir: string, day: SimulatedDay): Promise<void> {
  await mkdir(outDir, { recursive: true });
  // One body per line: the AI Hub accelerator's indented payloads are written without their line breaks.
  await writeFile(join(outDir, SIMULATION_FILES.events), day.eventLines.map(singleLine).join('\n') + '\n');
  for (const [path, lines] of day.archive) {
    const file = join(outDir, SIMULATION_FILES.diagnostics, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, lines.join('\n') + '\n');
  }
  const directory = [
    'identity,displayName,team,costCenter,kind',
    ...day.identities.map((i) => [i.identity, i.displayName, i.team, i.costCenter, i.kind].map(csvField).join(',')),
  ];
  await writeFile(join(outDir, SIMULATION_FILES.directory), directory.join('\n') + '\n');
  await writeFile(join(outDir, SIMULATION_FILES.llmLog), day.llmLog.map((row) => JSON.stringify(row)).join('\n') + '\n');
  await writeFile(join(outDir, SIMULATION_FILES.metrics), JSON.stringify(day.metrics) + '\n');
  await writeFile(join(outDir, SIMULATION_FILES.costExport), day.costExport);
  await writeFile(join(outDir, SIMULATION_FILES.groundTruth), JSON.stringify(day.groundTruth, null, 2) + '\n');
}
