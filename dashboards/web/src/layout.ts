import { h } from './dom.js';
import { accessNotice, accessView } from './model.js';

/**
 * Lays the page out for the caller's roles: `data-view` on `<main>` (the style sheet puts the operations panels
 * first for operators) and a plain notice above the panels for a caller who sees only their own usage.
 */
export function showAccessView(main: HTMLElement, token: string | null): void {
  const view = accessView(token);
  if (view === null) delete main.dataset['view'];
  else main.dataset['view'] = view;
  let notice = document.querySelector<HTMLElement>('[data-testid="access-notice"]');
  if (notice === null) {
    notice = h('p', { class: 'access-notice', testid: 'access-notice', role: 'status' });
    main.before(notice);
  }
  notice.textContent = accessNotice(view) ?? '';
}
