import { directoryEntrySchema, directoryImportedSchema, directoryListSchema, describeIssues, MAX_DIRECTORY_FILE_BYTES, type DirectoryRow } from '../contracts/directory.js';
import { directoryCsvParts } from '../domain/directory-csv.js';
import type { DirectoryWriteOptions, DirectoryWriteOutcome, EditableIdentityDirectory, VersionedDirectoryRow } from '../ports/identity-directory.js';
import { answerJson, apiError, pathSegment, sendToApi } from './report-client.js';
import type { z } from 'zod';

export interface ApiTarget {
  /** The API's base URL, e.g. `https://<app>.azurewebsites.net`. */
  readonly api: string;
  /** A bearer token; without it one is acquired for `scope`. */
  readonly token?: string;
  /** The API's Entra ID scope, `<application ID URI>/.default`, for a token from `DefaultAzureCredential`. */
  readonly scope?: string;
}

/**
 * The bearer token for the API: `--token` (or `TOKENLEDGER_TOKEN`) as given, else one `DefaultAzureCredential`
 * acquires for `--scope` (an Azure CLI sign-in, a managed identity, workload identity or environment credentials).
 */
export async function tokenFor(target: ApiTarget): Promise<string> {
  if (target.token) return target.token;
  if (!target.scope) {
    throw new Error('--api needs a token: pass --token (or set TOKENLEDGER_TOKEN), or --scope <application ID URI>/.default (or set TOKENLEDGER_SCOPE) to sign in with DefaultAzureCredential, e.g. after `az login`');
  }
  let token;
  try {
    // Loaded only here: it adds about a seventh of a second to the start of any command that imports it.
    const { DefaultAzureCredential } = await import('@azure/identity');
    token = await new DefaultAzureCredential().getToken(target.scope);
  } catch (error) {
    throw new Error(`cannot get a token for ${target.scope}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  if (!token) throw new Error(`cannot get a token for ${target.scope}: no credential answered`);
  return token.token;
}

/**
 * The identity directory through the TokenLedger API (`/api/directory`), so the CLI can edit a deployment's
 * directory with a `Directory.Write` token instead of the storage account's keys. `upsertRows` sends the rows as
 * directory files of at most the size the API takes in one request, which it checks whole before writing any.
 */
export class ApiIdentityDirectory implements EditableIdentityDirectory {
  constructor(
    private readonly api: string,
    private readonly token: string,
  ) {}

  async upsertRows(rows: readonly DirectoryRow[]): Promise<void> {
    let written = 0;
    for (const part of directoryCsvParts(rows, MAX_DIRECTORY_FILE_BYTES)) {
      const response = await this.send('POST', 'api/directory', { body: part, type: 'text/csv; charset=utf-8' });
      if (!response.ok) {
        const error = await apiError(response, this.token);
        if (written > 0) error.message += ` (the ${written} identities before were imported; importing the file again is safe)`;
        throw error;
      }
      written += parse(directoryImportedSchema, await answerJson(response)).imported;
    }
  }

  async getAll(): Promise<Map<string, DirectoryRow>> {
    return new Map([...(await this.listVersioned())].map(([identity, v]) => [identity, v.row]));
  }

  async listVersioned(): Promise<Map<string, VersionedDirectoryRow>> {
    const response = await this.send('GET', 'api/directory');
    if (!response.ok) throw await apiError(response, this.token);
    const { entries } = parse(directoryListSchema, await answerJson(response));
    return new Map(entries.map(({ etag, ...row }) => [row.identity, { row, etag }]));
  }

  async getVersioned(identity: string): Promise<VersionedDirectoryRow | null> {
    const response = await this.send('GET', entryPath(identity));
    if (response.status === 404) return null;
    if (!response.ok) throw await apiError(response, this.token);
    const { etag, ...row } = parse(directoryEntrySchema, await answerJson(response));
    return { row, etag };
  }

  /** None to add: the API's own read and delete of an entry already look for it in every case. */
  async storedCaseVariants(): Promise<string[]> {
    return [];
  }

  async create(row: DirectoryRow): Promise<DirectoryWriteOutcome> {
    const response = await this.send('POST', 'api/directory', { body: JSON.stringify(row), type: 'application/json' });
    if (response.status === 409) return { outcome: 'exists' };
    return this.written(response);
  }

  async replace(row: DirectoryRow, options?: DirectoryWriteOptions): Promise<DirectoryWriteOutcome> {
    const response = await this.send('PUT', entryPath(row.identity), { body: JSON.stringify(row), type: 'application/json', ifMatch: options?.ifMatch });
    if (response.status === 412) return { outcome: 'stale' };
    return this.written(response);
  }

  async remove(identity: string, options?: DirectoryWriteOptions): Promise<DirectoryWriteOutcome> {
    const response = await this.send('DELETE', entryPath(identity), { ifMatch: options?.ifMatch });
    if (response.status === 404) return { outcome: 'absent' };
    if (response.status === 412) return { outcome: 'stale' };
    if (!response.ok) throw await apiError(response, this.token);
    return { outcome: 'deleted' };
  }

  private async written(response: Response): Promise<DirectoryWriteOutcome> {
    if (!response.ok) throw await apiError(response, this.token);
    const { etag } = parse(directoryEntrySchema, await answerJson(response));
    return { outcome: 'written', etag, created: response.status === 201 };
  }

  private send(method: string, path: string, options: { body?: string; type?: string; ifMatch?: string | undefined } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.type) headers['content-type'] = options.type;
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    return sendToApi(this.api, path, { method, headers, ...(options.body === undefined ? {} : { body: options.body }) }, this.token);
  }
}

function entryPath(identity: string): string {
  return `api/directory/${pathSegment(identity, 'identity')}`;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new Error(`the API answered an unexpected directory body: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
