// alerts.js: the alert list (GET /api/v1/alerts), newest first, by level
// and triage; the NCC's and OISCs' analysts triage the alerts they select
// (POST /api/v1/alerts/triage: acknowledged, true or false positive, with
// a reason; attached to an incident by its id).
import { h, timeEl, label, announce } from '../dom.js';
import { call, get } from '../api.js';
import { LEVELS, TRIAGES, DECLARERS } from '../model.js';
import { errorBox, field, select, badge, value, table, heading } from '../ui.js';

export function render(main, ctx) {
  const q = ctx.route.query;
  const level = select('level', LEVELS, q.get('level'), 'filter.any');
  level.id = 'filter-level';
  const triage = select('triage', TRIAGES, q.get('triage'), 'filter.any');
  triage.id = 'filter-triage';
  const refresh = h('button', { type: 'submit', class: 'secondary', i18n: 'alerts.refresh' });
  const form = h('form', { class: 'filters', role: 'search', 'i18n-aria-label': 'alerts.filters' },
    field('filter.level', level), field('filter.triage', triage), h('div', { class: 'field' }, refresh));
  const body = h('div', { id: 'alerts' });
  const status = h('p', { class: 'updated' });
  const notices = h('div', {});
  const triager = DECLARERS.includes(ctx.principal.role);
  const selected = new Set();
  let panel = null;
  let apply = null;
  let count = null;
  if (triager) {
    const st = select('triage', TRIAGES.filter((v) => v !== 'new'), 'acknowledged');
    st.id = 'triage-status';
    const reason = h('input', { type: 'text', id: 'triage-reason', maxlength: '500' });
    const inc = h('input', { type: 'text', id: 'triage-incident', maxlength: '36', spellcheck: 'false', autocomplete: 'off' });
    count = h('p', { id: 'triage-count', 'aria-live': 'polite', i18n: ['triage.selected', { n: 0 }] });
    apply = h('button', { type: 'submit', id: 'triage-apply', disabled: true, i18n: 'triage.apply' });
    panel = h('form', { class: ['card', 'triage-panel'], id: 'triage-form', 'aria-labelledby': 'triage-h' },
      h('h2', { id: 'triage-h', i18n: 'triage.title' }), count,
      field('triage.status', st), field('triage.reason', reason, 'triage.reason_hint'), field('triage.incident', inc, 'triage.incident_hint'), apply);
    panel.addEventListener('submit', async (e) => {
      e.preventDefault();
      const req = { status: st.value, reason: reason.value.trim(), ids: [...selected] };
      if (inc.value.trim()) {
        req.incident_id = inc.value.trim();
      }
      apply.disabled = true;
      try {
        const r = await call('POST', '/api/v1/alerts/triage', { body: req });
        announce('triage.done', { n: r.data.triaged });
        notices.replaceChildren(h('p', { class: 'notice', id: 'triage-done', i18n: ['triage.done', { n: r.data.triaged }] }));
        selected.clear();
        reason.value = '';
        await load();
      } catch (err) {
        if (err.status !== 401) {
          notices.replaceChildren(errorBox(err));
        }
      } finally {
        apply.disabled = selected.size === 0;
      }
    });
  }
  main.append(heading('alerts.title'), form, status, notices, panel, body);
  let live = true;

  function selectedChanged() {
    label(count, ['triage.selected', { n: selected.size }]);
    apply.disabled = selected.size === 0;
  }

  function check(a) {
    const c = h('input', { type: 'checkbox', class: 'pick', 'data-id': a.alert_id, 'i18n-aria-label': 'triage.pick' });
    c.checked = selected.has(a.alert_id);
    c.addEventListener('change', () => {
      if (c.checked) {
        selected.add(a.alert_id);
      } else {
        selected.delete(a.alert_id);
      }
      selectedChanged();
    });
    return c;
  }

  async function load() {
    const p = new URLSearchParams({ limit: '100' });
    if (level.value) {
      p.set('level', level.value);
    }
    if (triage.value) {
      p.set('triage', triage.value);
    }
    try {
      const r = await get('/api/v1/alerts?' + p.toString());
      if (!live) {
        return;
      }
      const list = r.data.alerts || [];
      label(status, ['alerts.count', { n: list.length }]);
      if (triager) {
        selectedChanged();
      }
      if (!list.length) {
        body.replaceChildren(h('p', { class: 'empty', i18n: 'alerts.empty' }));
        return;
      }
      const heads = ['alert.col.time', 'alert.col.rule', 'alert.col.level', 'alert.col.org', 'alert.col.object', 'alert.col.sector', 'alert.col.source', 'alert.col.triage'];
      body.replaceChildren(table('alerts.title', triager ? ['triage.pick'].concat(heads) : heads,
        list.map((a) => {
          const t = a.triage || {};
          const cells = [timeEl(a.detected_at || a.event_time), a.rule_title || a.rule_id, badge('level', a.level), a.org || '',
            a.object || '', a.sector || '', a.source_ip || a.host_name || '',
            h('span', {}, value('triage', t.status || 'new'), t.reason ? h('span', { class: 'muted', text: ' \u2014 ' + t.reason }) : null)];
          return triager ? [check(a)].concat(cells) : cells;
        })));
    } catch (err) {
      if (live && err.status !== 401) {
        body.replaceChildren(errorBox(err));
      }
    }
  }

  function filtersChanged() {
    const p = new URLSearchParams();
    if (level.value) {
      p.set('level', level.value);
    }
    if (triage.value) {
      p.set('triage', triage.value);
    }
    const s = p.toString();
    history.replaceState(null, '', '#/alerts' + (s ? '?' + s : ''));
    selected.clear();
    load();
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  level.addEventListener('change', filtersChanged);
  triage.addEventListener('change', filtersChanged);
  load();
  return () => {
    live = false;
  };
}
