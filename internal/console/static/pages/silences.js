// silences.js: the silences the NCC's and OISCs' analysts keep (GET
// /api/v1/silences): alerts matching every matcher of an active silence
// join no incident while it lasts; made here (POST, the API adds an OISC
// analyst's own OISC) and expired (POST .../expire).
import { h, timeEl, announce } from '../dom.js';
import { call, get } from '../api.js';
import { errorBox, field, select, table, heading, value } from '../ui.js';

const NAMES = ['rule_id', 'rule_title', 'level', 'org', 'object', 'sector', 'oisc', 'correlation'];
const OPS = ['=', '!=', '=~', '!~'];
const DURATIONS = ['1h', '4h', '24h', '72h', '168h'];

export function render(main) {
  const name = select('matcher', NAMES, 'rule_id');
  name.id = 'silence-name';
  const op = select('op', OPS, '=');
  op.id = 'silence-op';
  const val = h('input', { type: 'text', id: 'silence-value', required: true, maxlength: '256', spellcheck: 'false', autocomplete: 'off' });
  const reason = h('input', { type: 'text', id: 'silence-reason', required: true, maxlength: '500' });
  const duration = select('duration', DURATIONS, '4h');
  duration.id = 'silence-duration';
  const submit = h('button', { type: 'submit', id: 'silence-create', i18n: 'silences.create' });
  const form = h('form', { class: 'card', id: 'silence-form', 'aria-labelledby': 'silence-h' },
    h('h2', { id: 'silence-h', i18n: 'silences.new' }),
    h('div', { class: 'filters' }, field('silences.name', name), field('silences.op', op), field('silences.value', val)),
    field('silences.reason', reason, 'silences.reason_hint'), field('silences.duration', duration), submit);
  const notices = h('div', {});
  const body = h('div', { id: 'silences' }, h('p', { i18n: 'loading' }));
  main.append(heading('silences.title'), h('p', { class: 'hint', i18n: 'silences.about' }), notices, form, body);
  let live = true;

  async function expire(s, button) {
    button.disabled = true;
    try {
      await call('POST', '/api/v1/silences/' + encodeURIComponent(s.id) + '/expire');
      announce('silences.expired');
      await load();
    } catch (err) {
      button.disabled = false;
      if (err.status !== 401) {
        notices.replaceChildren(errorBox(err));
      }
    }
  }

  async function load() {
    try {
      const r = await get('/api/v1/silences');
      if (!live) {
        return;
      }
      const list = r.data.silences || [];
      if (!list.length) {
        body.replaceChildren(h('p', { class: 'empty', i18n: 'silences.empty' }));
        return;
      }
      body.replaceChildren(table('silences.title',
        ['silences.col.matchers', 'silences.col.reason', 'silences.col.state', 'silences.col.starts', 'silences.col.ends', 'silences.col.by', 'silences.col.action'],
        list.map((s) => {
          let action = '';
          if (s.state !== 'expired') {
            const b = h('button', { type: 'button', class: 'small', 'data-id': s.id, i18n: 'silences.expire' });
            b.addEventListener('click', () => expire(s, b));
            action = b;
          }
          return [h('code', { text: (s.matchers || []).map((m) => m.name + m.op + m.value).join(' \u2227 ') }), s.reason || '',
            value('silence', s.state), timeEl(s.starts_at), timeEl(s.ends_at), s.created_by || '', action];
        })));
    } catch (err) {
      if (live && err.status !== 401) {
        body.replaceChildren(errorBox(err));
      }
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      await call('POST', '/api/v1/silences', { body: {
        matchers: [{ name: name.value, op: op.value, value: val.value.trim() }], reason: reason.value.trim(), duration: duration.value,
      } });
      notices.replaceChildren(h('p', { class: 'notice', id: 'silence-made', i18n: 'silences.made' }));
      val.value = '';
      reason.value = '';
      await load();
    } catch (err) {
      if (err.status !== 401) {
        notices.replaceChildren(errorBox(err));
      }
    } finally {
      submit.disabled = false;
    }
  });
  load();
  return () => {
    live = false;
  };
}
