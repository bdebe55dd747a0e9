/**
 * DOM building without HTML parsing: every text goes in through `textContent` (via text nodes), every attribute
 * through `setAttribute` with a name chosen here. Data from the API is never parsed as markup.
 */

export type Child = Node | string | number | null | undefined | false;

export interface Attributes {
  readonly class?: string;
  readonly testid?: string;
  readonly [name: string]: string | undefined;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    element.setAttribute(name === 'testid' ? 'data-testid' : name, value);
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  /** `data-testid` of the column's cells. */
  readonly testid?: string;
  readonly numeric?: boolean;
  /** What the cell holds when more than its text (links, lists); `value` still sorts it. */
  readonly cell?: (row: T) => Child;
  /** Makes the cell a link (e.g. to the requests behind a figure); null for a row without one. */
  readonly link?: (row: T) => CellLink | null;
}

/** A link in a cell: `href` for a new tab or a bookmark, `open` for a click in this page. */
export interface CellLink {
  readonly href: string;
  readonly open: () => void;
  readonly title?: string;
}

/**
 * What names a table for assistive technology (WCAG 1.3.1; a screen reader's list of tables): a caption of its own,
 * or the id of a visible heading already above it (the panel's title, a summary, a subheading).
 */
export type TableName = { readonly caption: string } | { readonly labelledBy: string };

export interface TableOptions<T> {
  readonly testid: string;
  readonly name: TableName;
  /** The first column heads its row (a two-way table: days × teams, checks × statuses), as the footer's first cell does. */
  readonly rowHeaders?: boolean;
  readonly rowTestid: string;
  /** `data-*` attributes of a row, e.g. its key, for tests and for people inspecting the page. */
  readonly rowData?: (row: T) => Record<string, string>;
  /** A footer line (e.g. the API's totals), one text per column. */
  readonly footer?: { readonly testid: string; readonly cells: readonly string[] };
}

/**
 * The id of the element that names a panel (`<section>`): its `.title` (a heading that also holds a Close button),
 * else its h2, given an id from the panel's test id when it has none.
 */
export function titleId(section: HTMLElement): string {
  const title = section.querySelector<HTMLElement>('h2 > .title') ?? section.querySelector<HTMLElement>('h2');
  if (title === null) throw new Error(`the panel ${section.dataset['testid'] ?? ''} has no heading`);
  if (title.id === '') title.id = `${section.dataset['testid'] ?? 'panel'}-title`;
  return title.id;
}

/** A link that opens in the page on a plain click and keeps its href for a new tab, a copy or a bookmark. */
export function link(text: string, target: CellLink, testid = 'drill'): HTMLAnchorElement {
  const a = h('a', { href: target.href, testid, title: target.title }, text);
  a.addEventListener('click', (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    target.open();
  });
  return a;
}

/** How a cell's shown text sorts: numbers by value (`1,234`, `12.5 %`, `–` lowest), other text by locale. */
function sortValue(text: string, numeric: boolean): number | string {
  if (!numeric) return text;
  const n = Number(text.replace(/[,\s%]/g, ''));
  return Number.isFinite(n) && text.trim() !== '' ? n : Number.NEGATIVE_INFINITY;
}

function compareShown(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/** A table whose column headers sort its rows (ascending, then descending); the footer stays as given. */
export function table<T>(columns: readonly Column<T>[], rows: readonly T[], options: TableOptions<T>): HTMLTableElement {
  const renderRow = (row: T) => {
    const tr = h(
      'tr',
      { testid: options.rowTestid },
      ...columns.map((c, i) => {
        const text = c.value(row);
        const target = c.link?.(row) ?? null;
        return cell(i === 0 && options.rowHeaders === true, { testid: c.testid, class: c.numeric ? 'num' : undefined }, c.cell ? c.cell(row) : target ? link(text, target) : text);
      }),
    );
    for (const [name, value] of Object.entries(options.rowData?.(row) ?? {})) tr.dataset[name] = value;
    return tr;
  };
  const body = h('tbody', {}, ...rows.map(renderRow));
  const headers = columns.map((c) => {
    const button = h('button', { type: 'button', class: 'sort', testid: c.testid ? `sort-${c.testid}` : undefined }, c.header);
    const th = h('th', { scope: 'col', class: c.numeric ? 'num' : undefined, 'aria-sort': 'none' }, button);
    button.addEventListener('click', () => {
      const descending = th.getAttribute('aria-sort') === 'ascending';
      for (const other of headRow.querySelectorAll('th')) other.setAttribute('aria-sort', 'none');
      th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      const keyed = rows.map((row, i) => ({ row, i, key: sortValue(c.value(row), c.numeric === true) }));
      keyed.sort((x, y) => (descending ? -1 : 1) * compareShown(x.key, y.key) || x.i - y.i);
      replaceChildren(body, ...keyed.map((k) => renderRow(k.row)));
    });
    return th;
  });
  const headRow = h('tr', {}, ...headers);
  const footer = options.footer
    ? h(
        'tfoot',
        {},
        h('tr', { testid: options.footer.testid }, ...options.footer.cells.map((text, i) => cell(i === 0, { class: columns[i]?.numeric ? 'num' : undefined, testid: columns[i]?.testid }, text))),
      )
    : null;
  const name = options.name;
  return h('table', { testid: options.testid, 'aria-labelledby': 'labelledBy' in name ? name.labelledBy : undefined }, 'caption' in name ? h('caption', {}, name.caption) : null, h('thead', {}, headRow), body, footer);
}

/** A body or footer cell: a row header (`<th scope="row">`, e.g. a day, a check, "Total") or a data cell. */
function cell(rowHeader: boolean, attributes: Attributes, content: Child): HTMLTableCellElement {
  return rowHeader ? h('th', { ...attributes, scope: 'row' }, content) : h('td', attributes, content);
}

/** A labelled figure: `<div><dt>label</dt><dd data-testid>value</dd></div>` inside a `<dl>`. */
export function figureList(items: readonly { label: string; value: string; testid: string; link?: CellLink }[], testid?: string): HTMLDListElement {
  return h('dl', { class: 'figures', testid }, ...items.map((item) => h('div', {}, h('dt', {}, item.label), h('dd', { testid: item.testid }, item.link ? link(item.value, item.link) : item.value))));
}
