// ui.js: widgets the pages share: badges, tables, labelled fields and the
// message shown for an API error.
import { h, label } from './dom.js';
import { has } from './i18n.js';
import { download } from './api.js';

// errorKey is the catalogue key of an API error.
export function errorKey(err) {
  const code = err && err.code ? err.code : 'internal';
  return has('error.' + code) ? 'error.' + code : 'error.generic';
}

// errorBox shows an API error; the API's own message is added as a detail.
export function errorBox(err) {
  const box = h('div', { class: ['notice', 'error'], role: 'alert', tabindex: '-1' }, h('p', { i18n: errorKey(err) }));
  if (err && err.field) {
    box.append(h('p', { class: 'detail' }, h('span', { i18n: 'error.field' }), ' ', h('code', { text: err.field })));
  }
  if (err && err.message) {
    box.append(h('p', { class: 'detail', lang: 'en', text: err.message }));
  }
  return box;
}

// value is a catalogue label for a machine value (e.g. status.new), the
// value itself when the catalogue has none.
export function value(prefix, v) {
  const key = prefix + '.' + String(v || '').toLowerCase();
  if (v && has(key)) {
    return h('span', { i18n: key });
  }
  return h('span', { text: v || '\u2014' });
}

// badge is a value shown as a coloured badge.
export function badge(prefix, v) {
  const b = value(prefix, v);
  b.className = ['badge', prefix + '-' + String(v || 'none').toLowerCase().replace('+', '-')].join(' ');
  return b;
}

// table makes a table: heads are catalogue keys, rows arrays of cells.
export function table(caption, heads, rows) {
  const thead = h('thead', {}, h('tr', {}, heads.map((k) => h('th', { scope: 'col', i18n: k }))));
  const tbody = h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))));
  const tab = h('table', {}, caption ? h('caption', { class: 'sr-only', i18n: caption }) : null, thead, tbody);
  return h('div', { class: 'scroll', role: 'group', tabindex: '0', 'i18n-aria-label': caption || heads[0] }, tab);
}

let ids = 0;

// field wraps a control with its label (for=id).
export function field(key, control, hint) {
  if (!control.id) {
    ids += 1;
    control.id = 'f' + ids;
  }
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id, i18n: key }), control);
  if (hint) {
    const hid = control.id + '-hint';
    wrap.append(h('p', { class: 'hint', id: hid, i18n: hint }));
    control.setAttribute('aria-describedby', hid);
  }
  return wrap;
}

// select makes a <select> of machine values labelled from the catalogue
// (prefix.value); any: the key of an empty first option.
export function select(prefix, values, current, any) {
  const s = h('select', {});
  if (any) {
    s.append(h('option', { value: '', i18n: any }));
  }
  for (const v of values) {
    const o = h('option', { value: v });
    if (has(prefix + '.' + v)) {
      label(o, prefix + '.' + v);
    } else {
      o.textContent = v;
    }
    if (v === current) {
      o.selected = true;
    }
    s.append(o);
  }
  return s;
}

// heading is the page's h1, focused after navigation so that keyboard and
// screen-reader users start at the top of the new page.
export function heading(key, vars) {
  return h('h1', { tabindex: '-1', i18n: vars ? [key, vars] : key });
}

// fileButton downloads a file with the key when clicked (a link cannot
// carry it): path() and name() are read at the click (the language may
// have changed); an error shows in notices.
export function fileButton(format, path, name, notices) {
  const b = h('button', { type: 'button', class: 'small', 'data-format': format, text: format.toUpperCase() });
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await download(path(), name());
    } catch (err) {
      if (err.status !== 401) {
        notices.replaceChildren(errorBox(err));
      }
    } finally {
      b.disabled = false;
    }
  });
  return b;
}
