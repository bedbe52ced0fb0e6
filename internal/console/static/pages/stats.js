// stats.js: the statistics a regulator, a sector analyst and the NCC's and
// OISCs' analysts read (GET /api/v1/stats/incidents, /response-times and
// /timeliness: TLP:GREEN aggregates, rows of fewer than k organisations
// withheld by the API), and the daily and monthly digests (GET
// /api/v1/reports), downloaded as HTML or PDF.
import { h, timeEl, almatyInput } from '../dom.js';
import { lang } from '../i18n.js';
import { get } from '../api.js';
import { errorBox, field, select, table, heading, value, fileButton } from '../ui.js';

const DIMENSIONS = ['category', 'severity', 'sector', 'type'];
const INTERVALS = ['', 'day', 'week', 'month'];
const DAY = 24 * 3600 * 1000;

// names are the sectors' names in the language in use (GET
// /api/v1/sectors), by id; a sector shows by its id until they load.
let names = {};

function sector(id) {
  return h('span', { 'data-sector': id, text: names[id] || id || '\u2014' });
}

// day is the date of an instant in Asia/Almaty (yyyy-mm-dd).
function day(iso) {
  return almatyInput(Date.parse(iso)).slice(0, 10);
}

// dateInput is a yyyy-mm-dd <input type=date> of ms.
function dateInput(ms) {
  return h('input', { type: 'date', value: almatyInput(ms).slice(0, 10) });
}

// dimCells are a row's dimensions as cells, in the order asked.
function dimCells(row, by, interval) {
  const cells = [];
  if (interval) {
    cells.push(row.period || '\u2014');
  }
  for (const d of by) {
    const v = row[d];
    if (d === 'category') {
      cells.push(value('rsit', v));
    } else if (d === 'severity') {
      cells.push(value('severity', v));
    } else if (d === 'sector') {
      cells.push(sector(v));
    } else {
      cells.push(h('code', { text: v || '\u2014' }));
    }
  }
  return cells;
}

function dimHeads(by, interval) {
  const heads = interval ? ['stats.col.period'] : [];
  return heads.concat(by.map((d) => 'dim.' + d));
}

// withheldCell marks a row the API withheld (fewer than k organisations).
function withheldCell(k) {
  return h('span', { class: ['badge', 'withheld'], i18n: ['stats.withheld', { k }] });
}

function hours(d) {
  if (!d || !d.n) {
    return '\u2014';
  }
  return (d.median_seconds / 3600).toFixed(1) + ' h (n=' + d.n + ')';
}

export function render(main) {
  const now = Date.now();
  const from = dateInput(now - 30 * DAY);
  const to = dateInput(now);
  const by = select('dim', DIMENSIONS, 'category');
  by.name = 'by';
  const interval = select('interval', INTERVALS, '');
  interval.name = 'interval';
  const form = h('form', { class: 'filters', id: 'stats-form' },
    field('stats.from', from), field('stats.to', to), field('stats.by', by), field('stats.interval', interval),
    h('button', { type: 'submit', i18n: 'stats.apply' }));
  const notices = h('div', {});
  const incidents = h('section', { id: 'stats-incidents', 'aria-labelledby': 'stats-h-incidents' });
  const times = h('section', { id: 'stats-times', 'aria-labelledby': 'stats-h-times' });
  const timely = h('section', { id: 'stats-timeliness', 'aria-labelledby': 'stats-h-timeliness' });
  const digests = h('section', { id: 'stats-digests', 'aria-labelledby': 'stats-h-digests' });
  main.append(heading('stats.title'), h('p', { class: ['badge', 'tlp-green'], id: 'stats-tlp', i18n: 'stats.tlp' }),
    h('p', { class: 'hint', i18n: 'stats.about' }), form, notices, incidents, times, timely, digests);
  let live = true;

  function query() {
    const p = new URLSearchParams();
    if (from.value) {
      p.set('from', from.value + 'T00:00:00+05:00');
    }
    if (to.value) {
      p.set('to', new Date(Date.parse(to.value + 'T00:00:00+05:00') + DAY).toISOString());
    }
    if (by.value) {
      p.set('by', by.value);
    }
    if (interval.value) {
      p.set('interval', interval.value);
    }
    return p;
  }

  function section(el, titleKey, id, content) {
    el.replaceChildren(h('h2', { id, i18n: titleKey }), content);
  }

  async function load() {
    notices.replaceChildren();
    const q = query();
    const dims = by.value ? [by.value] : [];
    const iv = interval.value;
    const base = dimHeads(dims, iv);
    try {
      const [inc, rt, tl] = await Promise.all([
        get('/api/v1/stats/incidents?' + q),
        get('/api/v1/stats/response-times?' + q),
        get('/api/v1/stats/timeliness?' + new URLSearchParams({ from: q.get('from') || '', to: q.get('to') || '' })),
      ]);
      if (!live) {
        return;
      }
      const k = inc.data.k;
      const rows = inc.data.rows || [];
      const max = Math.max(1, ...rows.map((r) => r.incidents || 0));
      section(incidents, 'stats.incidents', 'stats-h-incidents', rows.length ? table('stats.incidents',
        base.concat(['stats.col.incidents', 'stats.col.organisations', 'stats.col.share']),
        rows.map((r) => dimCells(r, dims, iv).concat(r.withheld ? [withheldCell(k), '', ''] : [String(r.incidents), String(r.organisations),
          h('span', { class: 'bar', style: null, 'data-width': String(Math.round(100 * r.incidents / max)) },
            h('span', { class: 'bar-fill', 'aria-hidden': 'true' }))])))
        : h('p', { class: 'empty', i18n: 'stats.empty' }));
      for (const b of incidents.querySelectorAll('.bar')) {
        // Widths through the CSSOM: the console's CSP has no inline styles.
        b.firstChild.style.width = b.dataset.width + '%';
      }
      if (inc.data.withheld_rows) {
        notices.append(h('p', { class: 'notice', id: 'stats-withheld', i18n: ['stats.withheld_note', { n: inc.data.withheld_rows, k }] }));
      }
      const rrows = rt.data.rows || [];
      section(times, 'stats.times', 'stats-h-times', rrows.length ? table('stats.times',
        base.concat(['stats.col.acknowledge', 'stats.col.contain', 'stats.col.resolve']),
        rrows.map((r) => dimCells(r, dims, iv).concat(r.withheld ? [withheldCell(rt.data.k), '', ''] :
          [hours(r.time_to_acknowledge), hours(r.time_to_contain), hours(r.time_to_resolve)])))
        : h('p', { class: 'empty', i18n: 'stats.empty' }));
      const trows = tl.data.rows || [];
      section(timely, 'stats.timeliness', 'stats-h-timeliness', trows.length ? table('stats.timeliness',
        ['stage.col.regime', 'stage.col.stage', 'stats.col.on_time', 'stats.col.late', 'stats.col.overdue', 'stats.col.pending', 'stats.col.waived'],
        trows.map((r) => [h('code', { text: r.regime || '\u2014' }), r.stage || '\u2014'].concat(r.withheld ? [withheldCell(tl.data.k), '', '', '', ''] :
          [String(r.on_time || 0), String(r.late || 0), String(r.overdue || 0), String(r.pending || 0), String(r.waived || 0)])))
        : h('p', { class: 'empty', i18n: 'stats.empty' }));
    } catch (err) {
      if (live && err.status !== 401) {
        notices.replaceChildren(errorBox(err));
      }
    }
  }

  async function loadDigests() {
    try {
      const r = await get('/api/v1/reports');
      if (!live) {
        return;
      }
      const list = r.data.reports || [];
      section(digests, 'stats.digests', 'stats-h-digests', list.length ? table('stats.digests',
        ['stats.col.kind', 'stats.col.scope', 'stats.col.period', 'stats.col.lang', 'stats.col.generated', 'stats.col.files'],
        list.map((d) => {
          const files = ['html', 'pdf'].map((f) => fileButton(f, () => '/api/v1/reports/' + encodeURIComponent(d.id) + '?format=' + f,
            () => 'kuzet-' + d.kind + '-' + d.scope.replace(':', '-') + '-' + day(d.period_start) + '-' + d.lang + '.' + f, notices));
          const scope = d.scope === 'national' ? h('span', { i18n: 'stats.national' }) : sector(d.scope.replace(/^sector:/, ''));
          return [value('digest', d.kind), scope, day(d.period_start), d.lang, timeEl(d.generated_at), h('span', {}, files)];
        }))
        : h('p', { class: 'empty', i18n: 'stats.no_digests' }));
    } catch (err) {
      if (live && err.status !== 401) {
        digests.replaceChildren(errorBox(err));
      }
    }
  }

  get('/api/v1/sectors').then((r) => {
    names = {};
    for (const x of r.data.sectors || []) {
      names[x.id] = x['name_' + lang()] || x.name_en || x.id;
    }
    for (const e of main.querySelectorAll('[data-sector]')) {
      e.textContent = names[e.dataset.sector] || e.dataset.sector;
    }
  }, () => {});
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  load();
  loadDigests();
  return () => {
    live = false;
  };
}
