import { h } from './dom.js';
import { accessNotice, accessView, type AccessView } from './model.js';

/** The panels an operator reads first, in this order (after an open request list or trace). */
const OPERATIONS_FIRST = ['panel-latency', 'panel-weights', 'panel-bypass', 'panel-unattributed', 'panel-reconciliation'];

/** The page's own place of each panel, read once: the other views keep it. */
const pageOrder = new WeakMap<HTMLElement, ReadonlyMap<Element, number>>();

/**
 * Puts the panels of `main` in the view's reading order in the DOM itself, not with CSS `order`: Tab and a screen
 * reader then follow the order shown (WCAG 2.2 SC 1.3.2, 2.4.3). Nodes move only when the order differs, so a
 * token refresh does not take focus away from a panel.
 */
function orderPanels(main: HTMLElement, view: AccessView | null): void {
  let place = pageOrder.get(main);
  if (place === undefined) {
    place = new Map([...main.children].map((e, i) => [e, i]));
    pageOrder.set(main, place);
  }
  const leading = view === 'operations' ? OPERATIONS_FIRST : [];
  const rank = (e: Element) => {
    if (e.classList.contains('drill')) return -1;
    const at = leading.indexOf(e.getAttribute('data-testid') ?? '');
    return at === -1 ? leading.length : at;
  };
  const current = [...main.children];
  const pagePlace = (e: Element) => place.get(e) ?? current.length;
  const wanted = [...current].sort((a, b) => rank(a) - rank(b) || pagePlace(a) - pagePlace(b));
  if (wanted.some((e, i) => e !== current[i])) main.append(...wanted);
}

/**
 * Lays the page out for the caller's roles: `data-view` on `<main>`, the panels in the view's order (operations
 * panels first for operators) and a plain notice above the panels for a caller who sees only their own usage.
 */
export function showAccessView(main: HTMLElement, token: string | null): void {
  const view = accessView(token);
  if (view === null) delete main.dataset['view'];
  else main.dataset['view'] = view;
  orderPanels(main, view);
  let notice = document.querySelector<HTMLElement>('[data-testid="access-notice"]');
  if (notice === null) {
    notice = h('p', { class: 'access-notice', testid: 'access-notice', role: 'status' });
    main.before(notice);
  }
  notice.textContent = accessNotice(view) ?? '';
}
