// queue.js: the analyst queue: incidents in scope, newest detected first,
// filtered by status, severity, sector and national (the filters live in
// the URL), with severity badges and the clock of the next pending
// notification stage; refreshed every few seconds.
import { h, timeEl, countdown, label, announce } from '../dom.js';
import { get } from '../api.js';
import { lang } from '../i18n.js';
import { STATUSES, SEVERITIES, nextDue } from '../model.js';
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

function row(inc) {
  const due = nextDue(inc);
  const link = h('a', { href: '#/incidents/' + encodeURIComponent(inc.id), class: 'title', text: inc.title || inc.id });
  const clock = due ? h('span', { class: 'clock' }, timeEl(due), ' ', countdown(due)) : h('span', { class: 'muted', i18n: 'queue.noclock' });
  return h('tr', { 'data-id': inc.id },
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
  const heads = ['queue.col.title', 'queue.col.severity', 'queue.col.status', 'queue.col.org', 'queue.col.sectors', 'queue.col.detected', 'queue.col.clock'];
  const tab = h('div', { class: 'scroll', role: 'group', tabindex: '0', 'i18n-aria-label': 'queue.title' },
    h('table', { id: 'queue' }, h('caption', { class: 'sr-only', i18n: 'queue.title' }),
      h('thead', {}, h('tr', {}, heads.map((k) => h('th', { scope: 'col', i18n: k })))), tbody));
  const empty = h('p', { class: 'empty', hidden: true, i18n: 'queue.empty' });
  main.append(heading('queue.title'), form, status, errors, tab, empty);

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
      errors.replaceChildren();
      const list = r.data.incidents || [];
      tbody.replaceChildren(...list.map(row));
      relabelSectors(tbody);
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

  form.addEventListener('change', () => {
    const p = params();
    const s = p.toString();
    history.replaceState(null, '', '#/queue' + (s ? '?' + s : ''));
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
