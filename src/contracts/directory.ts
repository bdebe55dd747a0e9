import { z } from 'zod';
import type { IdentityKind } from './identity-kind.js';

/**
 * One row of the identity directory: who a report key is (display name), and whom to charge (team, cost center).
 *
 * - `identity` is a report key as `resolveIdentity` produces it: an object id, an application id or an APIM
 *   subscription id. An Entra token that carries an object id is charged to it, a service principal's or managed
 *   identity's included (`id` in Graph and `az ad sp list`, `principalId` in `az identity show`; not `appId` or
 *   `clientId`): the application id is the key only of callers whose tokens carry no object id. Surrounding whitespace is trimmed and a GUID is lower-cased (Entra ids are case-insensitive),
 *   so `normalizeIdentityKey` must be applied to a key before it is looked up. Other ids keep their case.
 * - Every text is trimmed, must not be empty, must not hold control characters (C0, DEL, C1, bidirectional
 *   overrides), line or paragraph separators or unpaired surrogates, and has a maximum length (in UTF-16 code units).
 * - Values that look like spreadsheet formulas (`=SUM(…)`, `+1`, `-x`, `@x`) are ordinary data here and are stored
 *   as they are: escaping them is the job of whatever writes a CSV for a spreadsheet.
 * - An identity is never `.` or `..`: an entry's address is `/api/directory/{identity}`, which no URL can give those.
 * - `kind` is optional; when given it refines the kind the token alone implies (e.g. a service principal that is
 *   a managed identity). `unattributed` is not a kind anyone can be registered as.
 */

export const MAX_IDENTITY_LENGTH = 256;
/** The largest directory file the API imports in one request; `directory import --api` sends a larger one in parts. */
export const MAX_DIRECTORY_FILE_BYTES = 4 * 1024 * 1024;
export const MAX_DISPLAY_NAME_LENGTH = 256;
export const MAX_TEAM_LENGTH = 128;
export const MAX_COST_CENTER_LENGTH = 64;

export const DIRECTORY_KINDS = ['user', 'servicePrincipal', 'managedIdentity', 'workloadIdentity', 'apimSubscription'] as const satisfies readonly Exclude<
  IdentityKind,
  'unattributed'
>[];
export type DirectoryKind = (typeof DIRECTORY_KINDS)[number];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** C0, DEL, C1, line and paragraph separators, and the bidirectional embeddings, overrides and isolates that reorder how a name reads. */
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const CONTROLS = new RegExp(CONTROL.source, 'gu');
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The keys the entry of this identity is most likely stored under, in the order `compareStoredKeys` puts them: spelt
 * as now, then a GUID upper-cased. An earlier release kept a GUID as it was imported, in any mix of case; a GUID
 * stored in mixed case is under neither (`findDirectoryEntry` looks for it too).
 */
export function storedKeys(identity: string): string[] {
  const key = normalizeIdentityKey(identity);
  return isGuid(key) ? [key, key.toUpperCase()] : [key];
}

/** Whether a key is a GUID, which is the same identity in any case. */
export function isGuid(key: string): boolean {
  return GUID.test(key);
}

/**
 * The order of the keys rows of one identity are stored under. The first holds the identity's entry: the row the
 * listing and reports show, and the one every read, write and delete of the identity addresses, at whatever spelling
 * it is given. That is the key spelt as now, then in ordinal order (so a GUID upper-cased before its mixed spellings).
 */
export function compareStoredKeys(a: string, b: string): number {
  const key = normalizeIdentityKey(a);
  if (a === key || b === key) return a === b ? 0 : a === key ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Of the keys rows are stored under, the key of each identity's entry (`compareStoredKeys`), by identity spelt as now. */
export function entryKeys(keys: Iterable<string>): Map<string, string> {
  const entries = new Map<string, string>();
  for (const stored of keys) {
    const identity = normalizeIdentityKey(stored);
    const held = entries.get(identity);
    if (held === undefined || compareStoredKeys(stored, held) < 0) entries.set(identity, stored);
  }
  return entries;
}

/** The directory's spelling of an identity key: trimmed, and lower-cased when it is a GUID. */
export function normalizeIdentityKey(identity: string): string {
  const trimmed = identity.trim();
  return isGuid(trimmed) ? trimmed.toLowerCase() : trimmed;
}

function text(maxLength: number) {
  // The character checks run on the raw value, before trimming could hide a trailing tab or line break.
  return z
    .string({ error: 'expected text' })
    .refine((value) => !CONTROL.test(value), 'contains a control character')
    .refine((value) => !UNPAIRED_SURROGATE.test(value), 'is not well-formed Unicode')
    .trim()
    .min(1, 'must not be empty')
    .max(maxLength, `longer than ${maxLength} characters`);
}

export const directoryKindSchema = z.enum(DIRECTORY_KINDS, { error: `expected one of ${DIRECTORY_KINDS.join(', ')}` });

export const directoryRowSchema = z.strictObject({
  // An entry is addressed as /api/directory/{identity}, and URLs resolve the path segments . and .. away.
  identity: text(MAX_IDENTITY_LENGTH)
    .refine((value) => value !== '.' && value !== '..', 'cannot be "." or "..", which no URL path can name')
    .transform(normalizeIdentityKey),
  displayName: text(MAX_DISPLAY_NAME_LENGTH),
  team: text(MAX_TEAM_LENGTH),
  costCenter: text(MAX_COST_CENTER_LENGTH),
  kind: directoryKindSchema.optional(),
});

export type DirectoryRow = z.infer<typeof directoryRowSchema>;

/** An entry as the directory API answers it: a row and the ETag it is stored at (send it back in `If-Match`). */
export const directoryEntrySchema = directoryRowSchema.extend({ etag: z.string().min(1).max(512) });
export type DirectoryEntry = z.infer<typeof directoryEntrySchema>;

/** `GET /api/directory`: every entry, and whether the caller may write (`Directory.Write`). */
export const directoryListSchema = z.object({ entries: z.array(directoryEntrySchema), count: z.number().int().nonnegative(), canWrite: z.boolean() });

/** `POST /api/directory` of a directory file: how many identities it imported. */
export const directoryImportedSchema = z.object({ imported: z.number().int().nonnegative() });

/** `team: longer than 128 characters; kind: expected one of …` */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message)).join('; ');
}

/**
 * A stored text the directory can still show: control characters replaced by U+FFFD, and an unpaired surrogate too.
 * Rows written before those characters were refused, or by another tool (Storage Explorer), can hold them; one such
 * row must not stop every report that reads the directory.
 */
export function shownText(value: string): string {
  return value.toWellFormed().replace(CONTROLS, '\ufffd');
}

/** Validates and normalises a row (adapters call it before writing); throws a `RangeError` naming the fault. */
export function checkDirectoryRow(row: unknown): DirectoryRow {
  const result = directoryRowSchema.safeParse(row);
  if (result.success) return result.data;
  const identity = (row as { identity?: unknown } | null)?.identity;
  throw new RangeError(`invalid directory row ${JSON.stringify(typeof identity === 'string' ? identity.slice(0, 80) : identity)}: ${describeIssues(result.error)}`);
}
