// alerts.js: the alert list (GET /api/v1/alerts), newest first, by level.
import { h, timeEl, label } from '../dom.js';
import { get } from '../api.js';
import { LEVELS } from '../model.js';
import { errorBox, field, select, badge, table, heading } from '../ui.js';

export function render(main, ctx) {
  const level = select('level', LEVELS, ctx.route.query.get('level'), 'filter.any');
  level.id = 'filter-level';
  const refresh = h('button', { type: 'submit', class: 'secondary', i18n: 'alerts.refresh' });
  const form = h('form', { class: 'filters', role: 'search', 'i18n-aria-label': 'alerts.filters' }, field('filter.level', level), h('div', { class: 'field' }, refresh));
  const body = h('div', { id: 'alerts' });
  const status = h('p', { class: 'updated' });
  main.append(heading('alerts.title'), form, status, body);
  let live = true;

  async function load() {
    const p = new URLSearchParams({ limit: '100' });
    if (level.value) {
      p.set('level', level.value);
    }
    try {
      const r = await get('/api/v1/alerts?' + p.toString());
      if (!live) {
        return;
      }
      const list = r.data.alerts || [];
      label(status, ['alerts.count', { n: list.length }]);
      if (!list.length) {
        body.replaceChildren(h('p', { class: 'empty', i18n: 'alerts.empty' }));
        return;
      }
      body.replaceChildren(table('alerts.title',
        ['alert.col.time', 'alert.col.rule', 'alert.col.level', 'alert.col.org', 'alert.col.object', 'alert.col.sector', 'alert.col.source'],
        list.map((a) => [timeEl(a.detected_at || a.event_time), a.rule_title || a.rule_id, badge('level', a.level), a.org || '',
          a.object || '', a.sector || '', a.source_ip || a.host_name || ''])));
    } catch (err) {
      if (live && err.status !== 401) {
        body.replaceChildren(errorBox(err));
      }
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  level.addEventListener('change', () => {
    history.replaceState(null, '', '#/alerts' + (level.value ? '?level=' + encodeURIComponent(level.value) : ''));
    load();
  });
  load();
  return () => {
    live = false;
  };
}
