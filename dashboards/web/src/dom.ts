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
}

export interface TableOptions<T> {
  readonly testid: string;
  readonly rowTestid: string;
  /** `data-*` attributes of a row, e.g. its key, for tests and for people inspecting the page. */
  readonly rowData?: (row: T) => Record<string, string>;
  /** A footer line (e.g. the API's totals), one text per column. */
  readonly footer?: { readonly testid: string; readonly cells: readonly string[] };
  readonly caption?: string;
}

export function table<T>(columns: readonly Column<T>[], rows: readonly T[], options: TableOptions<T>): HTMLTableElement {
  const headRow = h('tr', {}, ...columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : undefined }, c.header)));
  const body = h(
    'tbody',
    {},
    ...rows.map((row) => {
      const tr = h('tr', { testid: options.rowTestid }, ...columns.map((c) => h('td', { testid: c.testid, class: c.numeric ? 'num' : undefined }, c.value(row))));
      for (const [name, value] of Object.entries(options.rowData?.(row) ?? {})) tr.dataset[name] = value;
      return tr;
    }),
  );
  const footer = options.footer
    ? h(
        'tfoot',
        {},
        h('tr', { testid: options.footer.testid }, ...options.footer.cells.map((cell, i) => h('td', { class: columns[i]?.numeric ? 'num' : undefined, testid: columns[i]?.testid }, cell))),
      )
    : null;
  return h('table', { testid: options.testid }, options.caption ? h('caption', {}, options.caption) : null, h('thead', {}, headRow), body, footer);
}

/** A labelled figure: `<div><dt>label</dt><dd data-testid>value</dd></div>` inside a `<dl>`. */
export function figureList(items: readonly { label: string; value: string; testid: string }[], testid?: string): HTMLDListElement {
  return h('dl', { class: 'figures', testid }, ...items.map((item) => h('div', {}, h('dt', {}, item.label), h('dd', { testid: item.testid }, item.value))));
}
