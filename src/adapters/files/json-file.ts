import { readFile } from 'node:fs/promises';
import { JsonTextError, parseJsonText } from '../../domain/exact-json.js';

/**
 * A JSON file's text and value, read with `parse` (`parseJsonText`, or `parseJsonKeepingNumberText` where amounts
 * must stay exact). A syntax error names the file, and the line and column.
 */
export async function readJsonFile(path: string, parse: (text: string) => unknown = parseJsonText): Promise<{ text: string; json: unknown }> {
  const text = await readFile(path, 'utf8');
  try {
    return { text, json: parse(text) };
  } catch (error) {
    if (error instanceof JsonTextError) throw new Error(`${path}: not JSON: ${error.message}`);
    throw error;
  }
}
