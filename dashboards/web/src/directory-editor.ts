import type { Api, ApiResult } from './api.js';
import { h, replaceChildren, table, titleId, type Column } from './dom.js';
import { describeFailure } from './panels.js';

/** One entry of `GET /api/directory`, with the ETag to send back in `If-Match`. */
export interface DirectoryEntry {
  readonly identity: string;
  readonly displayName: string;
  readonly team: string;
  readonly costCenter: string;
  readonly kind?: string;
  readonly etag: string;
}

export interface DirectoryList {
  readonly entries: readonly DirectoryEntry[];
  /** Whether the caller has `Directory.Write`; without it the editor is read-only. */
  readonly canWrite: boolean;
}

/** The kinds the API accepts (`DIRECTORY_KINDS`); the API checks them again, and its reason is what is shown. */
const KINDS = ['user', 'servicePrincipal', 'managedIdentity', 'workloadIdentity', 'apimSubscription'] as const;

function text(o: Record<string, unknown>, name: string): string {
  const value = o[name];
  if (typeof value !== 'string') throw new Error(`directory entry: ${name} is not text`);
  return value;
}

function parseEntry(body: unknown): DirectoryEntry {
  if (body === null || typeof body !== 'object') throw new Error('directory entry: not an object');
  const o = body as Record<string, unknown>;
  const entry = { identity: text(o, 'identity'), displayName: text(o, 'displayName'), team: text(o, 'team'), costCenter: text(o, 'costCenter'), etag: text(o, 'etag') };
  return o['kind'] === undefined ? entry : { ...entry, kind: text(o, 'kind') };
}

export function parseDirectoryList(body: unknown): DirectoryList {
  if (body === null || typeof body !== 'object') throw new Error('directory: not an object');
  const o = body as Record<string, unknown>;
  if (!Array.isArray(o['entries'])) throw new Error('directory: entries is not a list');
  return { entries: o['entries'].map(parseEntry), canWrite: o['canWrite'] === true };
}

const COLUMNS: readonly Column<DirectoryEntry>[] = [
  { header: 'Identity', value: (e) => e.identity, testid: 'identity' },
  { header: 'Display name', value: (e) => e.displayName, testid: 'displayName' },
  { header: 'Team', value: (e) => e.team, testid: 'team' },
  { header: 'Cost center', value: (e) => e.costCenter, testid: 'costCenter' },
  { header: 'Kind', value: (e) => e.kind ?? '', testid: 'kind' },
];

export interface DirectoryEditor {
  /** Reads the directory again and redraws the table. */
  reload(): Promise<void>;
}

/**
 * The identity directory in a panel: a table of every entry and, for a caller with `Directory.Write`, a form to
 * add or change one and a delete button per row. Each change is sent with the entry's ETag in `If-Match`, so a
 * change someone else made meanwhile is refused (412) and shown, never overwritten. Messages are the API's
 * reasons. Mounting again into the same container replaces the earlier editor. `onChange` runs after every
 * successful change (e.g. to reload reports that group by team).
 */
export function mountDirectoryEditor(container: HTMLElement, api: Api, onChange?: () => void): DirectoryEditor {
  container.querySelector('[data-testid="directory-editor"]')?.remove();
  // tabindex -1: focus can rest on the message when a deletion leaves no row to go on to.
  const message = h('p', { class: 'message', testid: 'directory-message', role: 'status', tabindex: '-1' });
  const listing = h('div', { class: 'content' });
  const error = h('p', { class: 'problem', testid: 'directory-error', role: 'alert' });
  const field = (label: string, testid: string) => {
    const input = h('input', { testid, type: 'text', autocomplete: 'off', spellcheck: 'false' });
    return { input, label: h('label', {}, label, input) };
  };
  const identity = field('Identity', 'directory-identity');
  const displayName = field('Display name', 'directory-display-name');
  const team = field('Team', 'directory-team');
  const costCenter = field('Cost center', 'directory-cost-center');
  const kind = h('select', { testid: 'directory-kind' }, h('option', { value: '' }, '(not given)'), ...KINDS.map((k) => h('option', { value: k }, k)));
  const save = h('button', { type: 'submit', testid: 'directory-save' }, 'Add');
  const cancel = h('button', { type: 'button', testid: 'directory-cancel' }, 'Cancel');
  const form = h(
    'form',
    { class: 'filters directory-form', testid: 'directory-form', autocomplete: 'off', hidden: '' },
    identity.label,
    displayName.label,
    team.label,
    costCenter.label,
    h('label', {}, 'Kind', kind),
    save,
    cancel,
    error,
  );
  const root = h('div', { class: 'directory-editor', testid: 'directory-editor' }, message, listing, form);
  container.appendChild(root);

  /** The entry being changed (its ETag goes in `If-Match`), or null when adding a new one. */
  let editing: DirectoryEntry | null = null;
  /** What the last change did, shown once with the next listing. */
  let notice: string | null = container.dataset['notice'] ?? null;
  delete container.dataset['notice'];
  const mounted = () => root.isConnected && container.contains(root);

  const setState = (state: string, mode: string, text: string) => {
    container.dataset['state'] = state;
    container.dataset['mode'] = mode;
    message.textContent = text;
  };

  const startAdding = () => {
    editing = null;
    for (const f of [identity, displayName, team, costCenter]) f.input.value = '';
    kind.value = '';
    identity.input.readOnly = false;
    save.textContent = 'Add';
    cancel.hidden = true;
    error.textContent = '';
  };

  const startEditing = (entry: DirectoryEntry) => {
    editing = entry;
    identity.input.value = entry.identity;
    identity.input.readOnly = true;
    displayName.input.value = entry.displayName;
    team.input.value = entry.team;
    costCenter.input.value = entry.costCenter;
    kind.value = entry.kind ?? '';
    save.textContent = 'Save';
    cancel.hidden = false;
    error.textContent = '';
    team.input.focus();
  };

  const changed = async (text: string) => {
    startAdding();
    notice = text;
    await reload();
    // Left on the container, so an editor that `onChange` mounts again still says what was just done.
    container.dataset['notice'] = text;
    onChange?.();
  };

  const failedWrite = async (result: ApiResult<unknown> & { ok: false }, key: string) => {
    if (result.status === 412) {
      await reload();
      error.textContent = `${key} was changed by someone else since it was loaded; the list now shows the current entry — edit it again. (${describeFailure(result)})`;
      return;
    }
    error.textContent = describeFailure(result);
  };

  /**
   * After a deletion redraws the table, focus stays in the panel (WCAG 2.4.3): on the Delete button of the row that
   * took the removed row's place (or of the new last row), else on the message that says what was done.
   */
  const focusRow = (index: number) => {
    const buttons = listing.querySelectorAll<HTMLButtonElement>('[data-testid="directory-delete"]');
    const next = buttons[Math.min(index, buttons.length - 1)];
    (next !== undefined && !next.disabled ? next : message).focus();
  };

  const remove = async (entry: DirectoryEntry, index: number) => {
    const result = await api.send('DELETE', `directory/${encodeURIComponent(entry.identity)}`, { ifMatch: entry.etag }, () => undefined);
    if (!mounted()) return;
    if (result.ok) await changed(`Removed ${entry.identity}.`);
    else await failedWrite(result, entry.identity);
    if (mounted()) focusRow(index);
  };

  const actions = (entry: DirectoryEntry, index: number): HTMLTableCellElement => {
    const edit = h('button', { type: 'button', testid: 'directory-edit' }, 'Edit');
    edit.addEventListener('click', () => startEditing(entry));
    const del = h('button', { type: 'button', testid: 'directory-delete' }, 'Delete');
    // A second click confirms, so one slip of the mouse never removes an entry.
    del.addEventListener('click', () => {
      if (del.dataset['armed'] !== 'true') {
        del.dataset['armed'] = 'true';
        del.textContent = 'Confirm delete';
        return;
      }
      del.disabled = true;
      void remove(entry, index);
    });
    return h('td', { class: 'actions' }, edit, ' ', del);
  };

  const render = (list: DirectoryList) => {
    const sorted = [...list.entries].sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
    const shown = table(COLUMNS, sorted, { testid: 'directory-table', name: { labelledBy: titleId(container) }, rowTestid: 'directory-row', rowData: (e) => ({ identity: e.identity }) });
    if (list.canWrite) {
      shown.tHead?.rows[0]?.appendChild(h('th', { scope: 'col' }, 'Change'));
      sorted.forEach((entry, i) => shown.tBodies[0]?.rows[i]?.appendChild(actions(entry, i)));
    }
    replaceChildren(listing, sorted.length === 0 ? null : shown);
    form.hidden = !list.canWrite;
    const count = `${sorted.length} ${sorted.length === 1 ? 'identity' : 'identities'}`;
    if (list.canWrite) setState(sorted.length === 0 ? 'empty' : 'ready', 'edit', sorted.length === 0 ? 'The directory is empty: add the first identity below.' : count);
    else setState(sorted.length === 0 ? 'empty' : 'ready', 'read-only', `${count}. Read-only: changing the directory needs the app role Directory.Write.`);
    if (notice !== null) message.textContent = `${notice} ${message.textContent}`;
    notice = null;
  };

  async function reload(): Promise<void> {
    if (!mounted()) return;
    const result = await api.get('directory', {}, parseDirectoryList);
    if (!mounted()) return;
    if (result.ok) return render(result.value);
    replaceChildren(listing);
    form.hidden = true;
    const mode = result.status === 401 || result.status === 403 ? 'refused' : 'failed';
    setState('error', mode, mode === 'refused' ? `The identity directory is for callers with the app role Directory.Write or Chargeback.ReadAll — ${describeFailure(result)}` : describeFailure(result));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const entry = {
      identity: identity.input.value,
      displayName: displayName.input.value,
      team: team.input.value,
      costCenter: costCenter.input.value,
      ...(kind.value === '' ? {} : { kind: kind.value }),
    };
    const target = editing;
    save.disabled = true;
    error.textContent = '';
    const sent =
      target === null
        ? api.send('POST', 'directory', { body: entry }, parseEntry)
        : api.send('PUT', `directory/${encodeURIComponent(target.identity)}`, { body: { ...entry, identity: target.identity }, ifMatch: target.etag }, parseEntry);
    void sent.then(async (result) => {
      save.disabled = false;
      if (!mounted()) return;
      if (result.ok) return changed(`${target === null ? 'Added' : 'Saved'} ${result.value.identity}.`);
      return failedWrite(result, target?.identity ?? 'The entry');
    });
  });
  cancel.addEventListener('click', startAdding);

  startAdding();
  setState('loading', 'loading', 'Loading…');

  void reload();
  return { reload };
}
