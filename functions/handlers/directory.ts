import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { APP_ROLES } from '../../src/contracts/access.js';
import { describeIssues, directoryRowSchema, MAX_DIRECTORY_FILE_BYTES, normalizeIdentityKey, type DirectoryRow } from '../../src/contracts/directory.js';
import { noParametersSchema } from '../../src/contracts/report-query.js';
import { hasRole, type Principal } from '../../src/domain/access.js';
import { firstDuplicateMember } from '../../src/domain/json-duplicate-members.js';
import type { DirectoryWriteOutcome, EditableIdentityDirectory, VersionedDirectoryRow } from '../../src/ports/identity-directory.js';
import { createDirectoryEntry, findDirectoryEntry, removeDirectoryEntry, replaceDirectoryEntry } from '../../src/services/directory-entry.js';
import { importDirectory } from '../../src/services/import-directory.js';
import { ENTITY_TAGS, noneMatchNames, ONE_ENTITY_TAG } from './entity-tags.js';
import { parseQuery } from './query-parameters.js';

export interface DirectoryHandlerPorts {
  readonly directory: EditableIdentityDirectory;
}

/** One entry as JSON: far above any valid row (four texts of at most 256 characters). */
export const MAX_ENTRY_BYTES = 16 * 1024;

/**
 * Who may call the directory routes: reading needs `Directory.Write` or `Chargeback.ReadAll` (finance sees team
 * and cost center in its reports anyway); every write needs `Directory.Write`.
 */
export function directoryRoles(request: HttpRequest): readonly string[] {
  return request.method === 'GET' ? [APP_ROLES.directoryWrite, APP_ROLES.chargebackReadAll] : [APP_ROLES.directoryWrite];
}

type Entry = DirectoryRow & { readonly etag: string };

function entry({ row, etag }: VersionedDirectoryRow): Entry {
  return { ...row, etag };
}

function problem(status: number, error: string, reason: string, extra: Record<string, unknown> = {}): HttpResponseInit {
  return { status, jsonBody: { error, reason, ...extra } };
}

const badRequest = (reason: string, extra?: Record<string, unknown>) => problem(400, 'bad_request', reason, extra);

/**
 * `GET /api/directory`: every entry, sorted by identity, each with its `etag`, and `canWrite` (whether the caller
 * has `Directory.Write`). `POST /api/directory`: with `Content-Type: application/json`, creates one entry (409 if
 * the identity has one); with `Content-Type: text/csv`, imports a directory file exactly as `tokenledger
 * directory import` does (all or nothing: any faulty line → 400 naming every line, nothing written; identities
 * the file does not list are kept).
 */
export function createDirectoryHandler(ports: () => DirectoryHandlerPorts) {
  return async function directory(request: HttpRequest, _context: unknown, principal: Principal): Promise<HttpResponseInit> {
    const query = parseQuery(request, () => noParametersSchema, 'directory parameters');
    if (!query.ok) return query.response;
    const { directory } = ports();
    if (request.method === 'GET') {
      const all = await directory.listVersioned();
      const entries = [...all.values()].sort((a, b) => (a.row.identity < b.row.identity ? -1 : a.row.identity > b.row.identity ? 1 : 0)).map(entry);
      return { status: 200, jsonBody: { entries, count: entries.length, canWrite: hasRole(principal, APP_ROLES.directoryWrite) } };
    }
    const type = mediaType(request);
    if (type === 'text/csv') {
      const body = await readBody(request, MAX_DIRECTORY_FILE_BYTES);
      if (!body.ok) return body.response;
      const result = await importDirectory(body.text, directory);
      if (result.errors.length > 0) {
        const count = result.errors.length === 1 ? '1 error' : `${result.errors.length} errors`;
        return badRequest(`imported nothing: ${count} in the file`, { errors: result.errors });
      }
      return { status: 200, jsonBody: { imported: result.imported } };
    }
    const parsed = await readEntry(request, undefined);
    if (!parsed.ok) return parsed.response;
    const outcome = await createDirectoryEntry(directory, parsed.row);
    if (outcome.outcome === 'exists') return problem(409, 'conflict', `identity ${JSON.stringify(parsed.row.identity)} is already in the directory: replace it with PUT`);
    return written(request, parsed.row, outcome);
  };
}

/**
 * `GET /api/directory/{identity}`: one entry with its `ETag` header (304 when `If-None-Match` names that ETag).
 * `PUT`: creates or replaces the entry (201 or 200); with `If-Match`, only if the entry is still at that ETag (412
 * when it changed or is gone); with `If-None-Match: *`, only if there is no entry (412 when there is). `DELETE`:
 * 204; with `If-Match`, only that version (412); 404 when there is no entry. The body's `identity`, if given, must
 * be the path's. At any spelling of a GUID, each method addresses the entry the listing shows for it (see
 * `findDirectoryEntry`), and DELETE removes every spelling an earlier release stored too.
 */
export function createDirectoryEntryHandler(ports: () => DirectoryHandlerPorts) {
  return async function directoryEntry(request: HttpRequest): Promise<HttpResponseInit> {
    const query = parseQuery(request, () => noParametersSchema, 'directory parameters');
    if (!query.ok) return query.response;
    const { directory } = ports();
    const key = identityOf(request);
    if (!key.ok) return key.response;
    const ifMatch = entityTagOf(request, 'If-Match');
    if (!ifMatch.ok) return ifMatch.response;
    const ifNoneMatch = entityTagOf(request, 'If-None-Match');
    if (!ifNoneMatch.ok) return ifNoneMatch.response;
    const options = ifMatch.value === undefined ? {} : { ifMatch: ifMatch.value };

    if (request.method === 'GET') {
      const found = await findDirectoryEntry(directory, key.given);
      if (found === null) return notFound(key.identity);
      if (noneMatchNames(ifNoneMatch.value, found.etag)) return { status: 304, headers: { ETag: found.etag } };
      return { status: 200, jsonBody: entry(found), headers: { ETag: found.etag } };
    }
    if (ifNoneMatch.value !== undefined && (request.method !== 'PUT' || ifNoneMatch.value !== '*' || ifMatch.value !== undefined)) {
      return badRequest('If-None-Match is taken as * on PUT alone (create only), without If-Match');
    }
    if (request.method === 'DELETE') {
      const outcome = await removeDirectoryEntry(directory, key.given, options);
      if (outcome.outcome === 'absent') return notFound(key.identity);
      if (outcome.outcome === 'stale') return stale(key.identity);
      return { status: 204 };
    }
    const parsed = await readEntry(request, key.identity);
    if (!parsed.ok) return parsed.response;
    if (ifNoneMatch.value === '*') {
      const created = await createDirectoryEntry(directory, parsed.row);
      if (created.outcome === 'exists') return problem(412, 'precondition_failed', `identity ${JSON.stringify(key.identity)} is already in the directory (If-None-Match: *)`);
      return written(request, parsed.row, created);
    }
    // The row GET answers at this URL, whose ETag If-Match names (RFC 9110 §13.1.1).
    const outcome = await replaceDirectoryEntry(directory, key.given, parsed.row, options);
    if (outcome.outcome === 'stale') return stale(key.identity);
    return written(request, parsed.row, outcome);
  };
}

function written(request: HttpRequest, row: DirectoryRow, outcome: DirectoryWriteOutcome): HttpResponseInit {
  if (outcome.outcome !== 'written') throw new Error(`unexpected directory write outcome ${outcome.outcome}`);
  const headers: Record<string, string> = { ETag: outcome.etag };
  if (outcome.created) headers['Location'] = new URL(`directory/${encodeURIComponent(row.identity)}`, apiRoot(request)).pathname;
  return { status: outcome.created ? 201 : 200, jsonBody: { ...row, etag: outcome.etag }, headers };
}

/** `…/api/` of the request's URL, whichever route it came in on. */
function apiRoot(request: HttpRequest): URL {
  const url = new URL(request.url);
  const at = url.pathname.indexOf('/directory');
  return new URL(at >= 0 ? url.pathname.slice(0, at + 1) : '/api/', url);
}

const notFound = (identity: string) => problem(404, 'not_found', `identity ${JSON.stringify(identity)} is not in the directory`);
const stale = (identity: string) =>
  problem(412, 'precondition_failed', `identity ${JSON.stringify(identity)} changed or was removed since it was read (If-Match does not match): read it again`);

type Checked<T> = ({ readonly ok: true } & T) | { readonly ok: false; readonly response: HttpResponseInit };

/** The path's identity as given (a row stored untrimmed is removed so) and spelt as now. */
function identityOf(request: HttpRequest): Checked<{ given: string; identity: string }> {
  const given = request.params['identity'] ?? '';
  const parsed = directoryRowSchema.shape.identity.safeParse(given);
  if (!parsed.success) return { ok: false, response: badRequest(`invalid identity in the path: ${describeIssues(parsed.error)}`) };
  return { ok: true, given, identity: parsed.data };
}

/** If-Match: one ETag as the API gave it, or `*`. If-None-Match: `*`, or ETags separated by commas. */
function entityTagOf(request: HttpRequest, header: 'If-Match' | 'If-None-Match'): Checked<{ value: string | undefined }> {
  const text = request.headers.get(header);
  if (text === null) return { ok: true, value: undefined };
  const value = text.trim();
  if (header === 'If-Match' && !ONE_ENTITY_TAG.test(value)) return { ok: false, response: badRequest('If-Match must be one ETag as the API gave it (or *)') };
  if (header === 'If-None-Match' && !ENTITY_TAGS.test(value)) return { ok: false, response: badRequest('If-None-Match must be ETags as the API gave them, separated by commas (or *)') };
  return { ok: true, value };
}

function mediaType(request: HttpRequest): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The `charset` parameter of the Content-Type, lower-cased and unquoted, or null when it names none. */
function declaredCharset(request: HttpRequest): string | null {
  const match = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(request.headers.get('content-type') ?? '');
  return match ? (match[1] ?? match[2] ?? '').toLowerCase() : null;
}

/** The body as text: UTF-8, the one encoding read here, so a body declared in another charset is refused, not misread. */
async function readBody(request: HttpRequest, limit: number): Promise<Checked<{ text: string }>> {
  const charset = declaredCharset(request);
  if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
    return { ok: false, response: problem(415, 'unsupported_media_type', `the body is declared charset=${JSON.stringify(charset.slice(0, 40))}: send it as UTF-8 (charset=utf-8, or no charset)`) };
  }
  const tooLarge = { ok: false as const, response: problem(413, 'payload_too_large', `the body is larger than ${limit} bytes`) };
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (Number.isFinite(declared) && declared > limit) return tooLarge;
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > limit) return tooLarge;
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, response: badRequest('the body is not UTF-8 text') };
  }
}

/**
 * A JSON entry checked by the schema the CSV import uses; `identity` defaults to the path's and must equal it. A
 * member named twice is refused: `JSON.parse` would write its last value (see `firstDuplicateMember`).
 */
async function readEntry(request: HttpRequest, pathIdentity: string | undefined): Promise<Checked<{ row: DirectoryRow }>> {
  if (mediaType(request) !== 'application/json') {
    return { ok: false, response: problem(415, 'unsupported_media_type', 'send the entry as application/json (or a directory file as text/csv to POST /api/directory)') };
  }
  const body = await readBody(request, MAX_ENTRY_BYTES);
  if (!body.ok) return body;
  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return { ok: false, response: badRequest('the body is not JSON') };
  }
  const duplicate = firstDuplicateMember(body.text);
  if (duplicate) {
    const where = duplicate.pointer === '' ? '' : ` at ${duplicate.pointer}`;
    return { ok: false, response: badRequest(`the body names the member ${JSON.stringify(duplicate.name.slice(0, 80))} twice${where}: give each member once`) };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { ok: false, response: badRequest('the body must be a JSON object: identity, displayName, team, costCenter and optionally kind') };
  const candidate = pathIdentity !== undefined && !('identity' in json) ? { ...json, identity: pathIdentity } : json;
  const parsed = directoryRowSchema.safeParse(candidate);
  if (!parsed.success) return { ok: false, response: badRequest(describeIssues(parsed.error)) };
  if (pathIdentity !== undefined && parsed.data.identity !== normalizeIdentityKey(pathIdentity)) {
    return { ok: false, response: badRequest(`identity: the body names ${JSON.stringify(parsed.data.identity)}, the path ${JSON.stringify(pathIdentity)}`) };
  }
  return { ok: true, row: parsed.data };
}
