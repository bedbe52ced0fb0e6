// stats.js: statistics for regulators and sector analysts, when the API
// serves them (GET /api/v1/stats); until then the page says so.
import { h } from '../dom.js';
import { get } from '../api.js';
import { errorBox, heading } from '../ui.js';

export function render(main) {
  const body = h('div', { 'aria-busy': 'true' }, h('p', { i18n: 'loading' }));
  main.append(heading('stats.title'), body);
  let live = true;
  get('/api/v1/stats').then((r) => {
    if (!live) {
      return;
    }
    body.replaceChildren(h('pre', { class: 'raw', text: JSON.stringify(r.data, null, 2) }));
  }, (err) => {
    if (!live) {
      return;
    }
    if (err.status === 404 || err.status === 405) {
      body.replaceChildren(h('p', { class: 'notice', id: 'stats-unavailable', i18n: 'stats.unavailable' }));
    } else {
      body.replaceChildren(errorBox(err));
    }
  }).finally(() => body.removeAttribute('aria-busy'));
  return () => {
    live = false;
  };
}
