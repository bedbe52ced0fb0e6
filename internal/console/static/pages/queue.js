// queue.js: the analyst queue: incidents in scope, newest detected first,
// filtered by status, severity, sector and national (the filters live in
// the URL), with severity badges and the clock of the next pending
// notification stage; refreshed every few seconds; sorted by a column
// (sort=column or -column in the URL); the NCC's and OISCs' analysts
// acknowledge (new -> triage) and assign the incidents they select.
import { h, timeEl, countdown, label, announce } from '../dom.js';
import { call, get } from '../api.js';
import { lang } from '../i18n.js';
import { STATUSES, SEVERITIES, CHANGERS, nextDue } from '../model.js';
import { errorBox, field, select, badge, value, heading } from '../ui.js';

export const POLL_MS = 5000;
const FILTERS = ['status', 'severity', 'sector', 'national'];

let sectors = null;

function sectorName(s) {
  return s['name_' + lang()] || s.name_en || s.id;
}

// sectorLabels shows sector ids by their names in the language in use
// (the id until the names are loaded).
function sectorLabels(ids) {
  return (ids || []).map((id, i) => [i ? ', ' : '', h('span', { 'data-sector-name': id, text: id })]);
}

function relabelSectors(root) {
  for (const e of root.querySelectorAll('[data-sector-name]')) {
    const s = (sectors || []).find((x) => x.id === e.dataset.sectorName);
    if (s) {
      e.textContent = sectorName(s);
    }
  }
}

async function loadSectors() {
  if (!sectors) {
    const r = await get('/api/v1/sectors');
    sectors = r.data.sectors || [];
  }
  return sectors;
}

// SORTS are the sortable columns and each one's key of an incident.
const SORTS = {
  title: (i) => String(i.title || '').toLowerCase(),
  severity: (i) => SEVERITIES.indexOf(i.severity),
  status: (i) => STATUSES.indexOf(i.status),
  org: (i) => i.org || (i.orgs || []).join(','),
  detected: (i) => Date.parse(i.detected_at) || 0,
  clock: (i) => Date.parse(nextDue(i)) || Infinity,
};
const COLUMNS = ['title', 'severity', 'status', 'org', 'sectors', 'detected', 'clock'];

function sorted(list, sort) {
  const desc = sort.startsWith('-');
  const key = SORTS[desc ? sort.slice(1) : sort];
  if (!key) {
    return list;
  }
  return list.slice().sort((a, b) => {
    const x = key(a);
    const y = key(b);
    const c = x < y ? -1 : x > y ? 1 : 0;
    return desc ? -c : c;
  });
}

function row(inc, picker) {
  const due = nextDue(inc);
  const link = h('a', { href: '#/incidents/' + encodeURIComponent(inc.id), class: 'title', text: inc.title || inc.id });
  const clock = due ? h('span', { class: 'clock' }, timeEl(due), ' ', countdown(due)) : h('span', { class: 'muted', i18n: 'queue.noclock' });
  return h('tr', { 'data-id': inc.id },
    picker ? h('td', {}, picker(inc)) : null,
    h('td', {}, link, inc.national ? h('span', { class: ['badge', 'national'], i18n: 'incident.national' }) : null),
    h('td', {}, badge('severity', inc.severity)),
    h('td', {}, value('status', inc.status)),
    h('td', {}, inc.org || (inc.orgs || []).join(', ')),
    h('td', {}, sectorLabels(inc.sectors)),
    h('td', {}, timeEl(inc.detected_at)),
    h('td', {}, clock));
}

export function render(main, ctx) {
  const q = ctx.route.query;
  const national = ctx.principal.role === 'ncc-analyst';
  const controls = {
    status: select('status', STATUSES, q.get('status'), 'filter.any'),
    severity: select('severity', SEVERITIES, q.get('severity'), 'filter.any'),
    sector: select('sector', [], '', 'filter.any'),
    national: select('national', ['true', 'false'], q.get('national'), 'filter.any'),
  };
  for (const [k, c] of Object.entries(controls)) {
    c.name = k;
    c.id = 'filter-' + k;
  }
  const form = h('form', { class: 'filters', role: 'search', 'i18n-aria-label': 'queue.filters' },
    field('filter.status', controls.status),
    field('filter.severity', controls.severity),
    field('filter.sector', controls.sector),
    national ? field('filter.national', controls.national) : null);
  const status = h('p', { class: 'updated', 'aria-live': 'off' });
  const errors = h('div', {});
  const tbody = h('tbody', { id: 'queue-rows' });
  let sort = q.get('sort') || '-detected';
  const changer = CHANGERS.includes(ctx.principal.role);
  const picked = new Set();
  let list = [];
  const headRow = h('tr', {});
  const bulk = h('form', { class: ['filters', 'bulk'], id: 'bulk', hidden: !changer, 'i18n-aria-label': 'queue.bulk' });
  const bulkCount = h('span', { id: 'bulk-count', 'aria-live': 'polite', i18n: ['queue.selected', { n: 0 }] });
  const ackBtn = h('button', { type: 'button', id: 'bulk-ack', disabled: true, i18n: 'queue.bulk.ack' });
  const who = h('input', { type: 'text', id: 'bulk-assignee', maxlength: '200', autocomplete: 'off' });
  const assignBtn = h('button', { type: 'submit', id: 'bulk-assign', class: 'secondary', disabled: true, i18n: 'queue.bulk.assign' });
  bulk.append(h('div', { class: 'field' }, bulkCount), h('div', { class: 'field' }, ackBtn), field('queue.bulk.assignee', who), h('div', { class: 'field' }, assignBtn));
  const tab = h('div', { class: 'scroll', role: 'group', tabindex: '0', 'i18n-aria-label': 'queue.title' },
    h('table', { id: 'queue' }, h('caption', { class: 'sr-only', i18n: 'queue.title' }), h('thead', {}, headRow), tbody));
  const empty = h('p', { class: 'empty', hidden: true, i18n: 'queue.empty' });
  main.append(heading('queue.title'), form, bulk, status, errors, tab, empty);

  function heads() {
    const cells = changer ? [h('th', { scope: 'col' }, h('span', { class: 'sr-only', i18n: 'queue.pick' }))] : [];
    for (const c of COLUMNS) {
      if (!SORTS[c]) {
        cells.push(h('th', { scope: 'col', i18n: 'queue.col.' + c }));
        continue;
      }
      const dir = sort === c ? 'ascending' : sort === '-' + c ? 'descending' : 'none';
      const b = h('button', { type: 'button', class: 'sort', 'data-sort': c, i18n: 'queue.col.' + c });
      b.addEventListener('click', () => {
        sort = sort === c ? '-' + c : c;
        urlChanged();
        heads();
        show();
      });
      cells.push(h('th', { scope: 'col', 'aria-sort': dir }, b));
    }
    headRow.replaceChildren(...cells);
  }

  function pickedChanged() {
    label(bulkCount, ['queue.selected', { n: picked.size }]);
    ackBtn.disabled = picked.size === 0;
    assignBtn.disabled = picked.size === 0;
  }

  function picker(inc) {
    const c = h('input', { type: 'checkbox', class: 'pick', 'data-id': inc.id, 'i18n-aria-label': 'queue.pick' });
    c.checked = picked.has(inc.id);
    c.addEventListener('change', () => {
      if (c.checked) {
        picked.add(inc.id);
      } else {
        picked.delete(inc.id);
      }
      pickedChanged();
    });
    return c;
  }

  function show() {
    tbody.replaceChildren(...sorted(list, sort).map((inc) => row(inc, changer ? picker : null)));
    relabelSectors(tbody);
  }

  // each applies one change to every selected incident at the version
  // listed, and reports how many were changed and which were refused.
  async function each(body, only) {
    const chosen = list.filter((i) => picked.has(i.id) && (!only || only(i)));
    let ok = 0;
    const refused = [];
    for (const inc of chosen) {
      try {
        await call('PATCH', '/api/v1/incidents/' + encodeURIComponent(inc.id), { body, headers: { 'If-Match': '"' + inc.version + '"' } });
        ok += 1;
      } catch (err) {
        if (err.status === 401) {
          return;
        }
        refused.push(inc.title || inc.id);
      }
    }
    picked.clear();
    pickedChanged();
    errors.replaceChildren(h('p', { class: 'notice', id: 'bulk-done', role: 'status', i18n: ['queue.bulk.done', { n: ok }] }),
      refused.length ? h('p', { class: ['notice', 'warn'], i18n: ['queue.bulk.refused', { list: refused.join(', ') }] }) : null);
    await load(false);
  }

  ackBtn.addEventListener('click', async () => {
    ackBtn.disabled = true;
    await each({ status: 'triage' }, (i) => i.status === 'new');
  });
  bulk.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!who.value.trim()) {
      who.focus();
      return;
    }
    assignBtn.disabled = true;
    await each({ assignee: who.value.trim() });
  });
  heads();

  let live = true;
  let timer = null;
  let count = -1;

  function params() {
    const p = new URLSearchParams();
    for (const k of FILTERS) {
      const c = controls[k];
      if (c.value && (k !== 'national' || national)) {
        p.set(k, c.value);
      }
    }
    return p;
  }

  async function load(poll) {
    const p = params();
    p.set('limit', '100');
    try {
      const r = await get('/api/v1/incidents?' + p.toString(), { poll });
      if (!live) {
        return;
      }
      if (!errors.querySelector('#bulk-done')) {
        errors.replaceChildren();
      }
      list = r.data.incidents || [];
      for (const id of [...picked]) {
        if (!list.some((i) => i.id === id)) {
          picked.delete(id);
        }
      }
      pickedChanged();
      show();
      empty.hidden = list.length > 0;
      label(status, ['queue.updated', { n: list.length }]);
      status.append(' ', timeEl(new Date().toISOString()));
      if (poll && count >= 0 && list.length > count) {
        announce('queue.new', { n: list.length - count });
      }
      count = list.length;
    } catch (err) {
      if (live && err.status !== 401) {
        errors.replaceChildren(errorBox(err));
      }
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!document.hidden) {
        await load(true);
      }
      if (live) {
        schedule();
      }
    }, POLL_MS);
  }

  function urlChanged() {
    const p = params();
    if (sort !== '-detected') {
      p.set('sort', sort);
    }
    const s = p.toString();
    history.replaceState(null, '', '#/queue' + (s ? '?' + s : ''));
  }
  form.addEventListener('change', () => {
    urlChanged();
    count = -1;
    load(false);
  });
  form.addEventListener('submit', (e) => e.preventDefault());

  loadSectors().then((list) => {
    if (!live) {
      return;
    }
    for (const s of list) {
      const o = h('option', { value: s.id, text: sectorName(s) });
      o.dataset.sector = s.id;
      if (s.id === q.get('sector')) {
        o.selected = true;
      }
      controls.sector.append(o);
    }
  }, () => {}).then(() => load(false)).then(() => {
    if (live) {
      schedule();
    }
  });
  const relabel = () => {
    for (const o of controls.sector.querySelectorAll('option[data-sector]')) {
      const s = (sectors || []).find((x) => x.id === o.dataset.sector);
      if (s) {
        o.textContent = sectorName(s);
      }
    }
    relabelSectors(tbody);
  };
  document.addEventListener('kuzet:lang', relabel);
  return () => {
    live = false;
    clearTimeout(timer);
    document.removeEventListener('kuzet:lang', relabel);
  };
}
