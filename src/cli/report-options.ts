import type { z } from 'zod';

/** Report options checked by the API's own schema, so the CLI refuses what the API would, in the CLI's words. */
export function parseReportOptions<T>(schema: z.ZodType<T>, input: Record<string, string | undefined>): T {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)));
  if (parsed.success) return parsed.data;
  const option = (path: readonly PropertyKey[]) => (path.length === 0 ? 'options' : `--${String(path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  throw new Error(`invalid ${parsed.error.issues.map((issue) => `${option(issue.path)}: ${issue.message}`).join('; ')}`);
}
