// incident.js: one incident: its facts, notification stages (due, sent and
// acknowledged, with a countdown), alerts, comments and history; status
// changes, assignment and comments at the version shown (If-Match), and
// declaration by an OISC's or the NCC's analyst. When someone else changed
// the incident first, the API answers 409 version_conflict and the page
// says so and offers to reload. The page refreshes itself every few
// seconds while nothing is being edited; otherwise it says that a newer
// version exists.
import { h, timeEl, countdown, announce } from '../dom.js';
import { call, get } from '../api.js';
import { lang } from '../i18n.js';
import { NEXT, RESOLUTIONS, CHANGERS, DECLARERS, DETERMINATIONS } from '../model.js';
import { errorBox, field, select, badge, value, table, heading, fileButton } from '../ui.js';

export const POLL_MS = 5000;

function facts(inc) {
  const rows = [
    ['incident.id', h('code', { text: inc.id })],
    ['incident.status', value('status', inc.status)],
    ['incident.severity', badge('severity', inc.severity)],
    ['incident.determination', value('determination', inc.determination)],
    ['incident.tlp', badge('tlp', inc.tlp)],
    ['incident.category', h('span', {}, value('rsit', inc.rsit_class), ' / ', h('code', { text: inc.rsit_type || '' }))],
    ['incident.org', inc.org || (inc.orgs || []).join(', ')],
    ['incident.sectors', (inc.sectors || []).join(', ')],
    ['incident.objects', (inc.object_ids || []).join(', ')],
    ['incident.origin', value('origin', inc.origin)],
    ['incident.assignee', inc.assignee || h('span', { class: 'muted', i18n: 'incident.unassigned' })],
    ['incident.detected', timeEl(inc.detected_at)],
    ['incident.last_activity', timeEl(inc.last_activity_at)],
    ['incident.declared', timeEl(inc.declared_at)],
    ['incident.version', h('span', { id: 'incident-version', text: inc.version })],
  ];
  if (inc.duplicate_of) {
    rows.push(['incident.duplicate_of', h('a', { id: 'duplicate-of', href: '#/incidents/' + encodeURIComponent(inc.duplicate_of) }, h('code', { text: inc.duplicate_of }))]);
  }
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', { i18n: k }), h('dd', {}, v)]));
}

function stages(inc) {
  const list = inc.stages || [];
  if (!list.length) {
    return h('p', { class: 'muted', i18n: 'incident.nostages' });
  }
  const heads = ['stage.col.regime', 'stage.col.stage', 'stage.col.due', 'stage.col.clock', 'stage.col.status', 'stage.col.sent', 'stage.col.acknowledged'];
  const tab = table('incident.stages', heads, list.map((s) => [
    h('code', { text: s.regime }),
    s.stage,
    timeEl(s.due_at),
    s.status === 'pending' && s.due_at ? countdown(s.due_at) : h('span', { class: 'muted', text: '\u2014' }),
    badge('stage', s.status),
    timeEl(s.sent_at),
    timeEl(s.acknowledged_at),
  ]));
  const rows = tab.querySelectorAll('tbody > tr');
  list.forEach((s, i) => {
    rows[i].dataset.regime = s.regime;
    rows[i].dataset.stage = s.stage;
  });
  tab.id = 'stages';
  return tab;
}

function alertsTable(alerts) {
  if (!alerts.length) {
    return h('p', { class: 'muted', i18n: 'incident.noalerts' });
  }
  const tab = table('incident.alerts', ['alert.col.time', 'alert.col.rule', 'alert.col.level', 'alert.col.object', 'alert.col.source'],
    alerts.map((a) => [timeEl(a.event_time), a.rule_title || a.rule_id, badge('level', a.level), a.object || a.org || '', a.source_ip || a.host_name || '']));
  tab.id = 'incident-alerts';
  return tab;
}

// describe summarises a history entry: {entry_id, at, actor, action,
// outcome, version, detail} where detail is the change as applied.
function describe(e) {
  const d = e.detail || {};
  const c = d.change || {};
  const out = [value('action', e.action)];
  if (d.before && d.after && d.before !== d.after) {
    out.push(h('span', { class: 'change' }, value('status', d.before), ' \u2192 ', value('status', d.after)));
  }
  for (const f of d.fields || []) {
    if (f.field === 'status' || f.field === 'comments' || f.field === 'version') {
      continue;
    }
    out.push(h('span', { class: 'change' }, h('code', { text: f.field }), ': ', f.before || '\u2014', ' \u2192 ', f.after || '\u2014'));
  }
  if (c.comment) {
    out.push(h('q', { class: 'change', text: c.comment }));
  }
  if (c.declared) {
    out.push(h('span', { class: 'change', i18n: 'history.declared' }));
  }
  if (e.outcome === 'conflict' && d.version) {
    out.push(h('span', { class: 'change', i18n: ['history.conflict', { v: d.version }] }));
  }
  return out;
}

function history(log) {
  if (!log.length) {
    return h('p', { class: 'muted', i18n: 'incident.nohistory' });
  }
  return table('incident.history', ['history.col.at', 'history.col.actor', 'history.col.change', 'history.col.outcome'],
    log.map((e) => [timeEl(e.at), String(e.actor || '').startsWith('system:') ? h('span', { i18n: 'history.system' }) : e.actor, describe(e), value('outcome', e.outcome)]));
}

function comments(inc) {
  const list = inc.comments || [];
  if (!list.length) {
    return h('p', { class: 'muted', i18n: 'incident.nocomments' });
  }
  return h('ol', { class: 'comments' }, list.map((c) => h('li', {},
    h('p', { class: 'meta' }, h('span', { class: 'author', text: c.author }), ' ', timeEl(c.at)), h('p', { text: c.text }))));
}

export function render(main, ctx) {
  const id = ctx.route.id;
  const role = ctx.principal.role;
  const top = h('div', {}, h('p', { i18n: 'loading' }));
  const notices = h('div', { id: 'notices' });
  main.append(h('p', { class: 'back' }, h('a', { href: '#/queue', i18n: 'incident.back' })), top);

  let live = true;
  let timer = null;
  let shown = null; // the incident as shown: its version is sent as If-Match
  let dirty = false;
  let atLeast = 0; // the version of the last change made here
  let lagging = 0;

  async function load(poll) {
    let r;
    try {
      r = await get('/api/v1/incidents/' + encodeURIComponent(id), { poll });
    } catch (err) {
      if (!live || err.status === 401) {
        return;
      }
      if (err.status === 404) {
        top.replaceChildren(heading('incident.notfound'), h('p', { id: 'not-found', class: 'notice', i18n: 'incident.notfound.detail' }));
        shown = null;
        return;
      }
      if (!poll || !shown) {
        top.replaceChildren(errorBox(err));
      }
      return;
    }
    if (!live) {
      return;
    }
    const d = r.data;
    if (d.incident.version < atLeast && lagging < 20) {
      // Not stored yet: read again shortly rather than show the old one.
      lagging += 1;
      await new Promise((done) => setTimeout(done, 250));
      return live ? load(poll) : undefined;
    }
    lagging = 0;
    if (poll && shown) {
      if (d.incident.version === shown.version) {
        return;
      }
      if (dirty) {
        showChanged(d.incident.version);
        return;
      }
      announce('incident.refreshed');
    }
    show(d);
  }

  function showChanged(v) {
    const n = notices.querySelector('#changed');
    if (n) {
      n.querySelector('[data-i18n]').dataset.i18nVars = JSON.stringify({ v });
      return;
    }
    notices.prepend(h('div', { id: 'changed', class: ['notice', 'warn'], role: 'status' },
      h('p', { i18n: ['incident.changed', { v }] }),
      h('button', { type: 'button', class: 'secondary', i18n: 'incident.reload', onclick: reload })));
  }

  function reload() {
    dirty = false;
    notices.replaceChildren();
    load(false);
  }

  function conflict() {
    notices.replaceChildren(h('div', { id: 'conflict', class: ['notice', 'error'], role: 'alert' },
      h('p', { class: 'strong', i18n: 'conflict.title' }),
      h('p', { i18n: ['conflict.detail', { v: shown.version }] }),
      h('button', { type: 'button', i18n: 'conflict.reload', onclick: reload })));
    notices.querySelector('button').focus();
  }

  async function change(body, path, button) {
    button.disabled = true;
    const url = '/api/v1/incidents/' + encodeURIComponent(id) + (path || '');
    try {
      const r = await call(path ? 'POST' : 'PATCH', url, { body, headers: { 'If-Match': '"' + shown.version + '"' } });
      // The answer is the incident as changed (a merge's: the survivor);
      // the list the page reloads from may lag it by a moment.
      if (r.data && r.data.id === id && r.data.version > atLeast) {
        atLeast = r.data.version;
      }
      dirty = false;
      notices.replaceChildren(h('p', { class: ['notice', 'ok'], role: 'status', i18n: 'incident.saved' }));
      await load(false);
    } catch (err) {
      if (err.status === 409 && err.code === 'version_conflict') {
        conflict();
      } else if (err.status !== 401) {
        notices.replaceChildren(errorBox(err));
      }
    } finally {
      button.disabled = false;
    }
  }

  function actions(inc) {
    const out = [];
    const markDirty = () => {
      dirty = true;
    };
    if (CHANGERS.includes(role)) {
      const to = select('status', NEXT[inc.status] || [], '', '');
      to.id = 'status-to';
      const res = select('resolution', RESOLUTIONS, 'handled', '');
      res.id = 'resolution';
      const resField = field('incident.resolution', res);
      const btn = h('button', { type: 'submit', id: 'status-submit', i18n: 'incident.status.submit' });
      const sync = () => {
        resField.hidden = to.value !== 'closed';
      };
      to.addEventListener('change', sync);
      sync();
      const f = h('form', { class: 'card', id: 'status-form', oninput: markDirty, onchange: markDirty },
        h('h3', { i18n: 'incident.status.title' }), field('incident.status.to', to), resField, btn);
      f.addEventListener('submit', (e) => {
        e.preventDefault();
        const body = { status: to.value };
        if (to.value === 'closed') {
          body.resolution = res.value;
        }
        change(body, '', btn);
      });
      if (!(NEXT[inc.status] || []).length) {
        btn.disabled = true;
      }
      out.push(f);

      const who = h('input', { type: 'text', id: 'assignee', value: inc.assignee || '', autocomplete: 'off', maxlength: '200' });
      const abtn = h('button', { type: 'submit', i18n: 'incident.assign.submit' });
      const a = h('form', { class: 'card', id: 'assign-form', oninput: markDirty },
        h('h3', { i18n: 'incident.assign.title' }), field('incident.assign.to', who), abtn);
      a.addEventListener('submit', (e) => {
        e.preventDefault();
        change({ assignee: who.value.trim() }, '', abtn);
      });
      out.push(a);
    }
    if (role !== 'regulator') {
      const text = h('textarea', { id: 'comment', rows: '3', maxlength: '20000', required: true });
      const cbtn = h('button', { type: 'submit', i18n: 'incident.comment.submit' });
      const c = h('form', { class: 'card', id: 'comment-form', oninput: markDirty },
        h('h3', { i18n: 'incident.comment.title' }), field('incident.comment.text', text), cbtn);
      c.addEventListener('submit', (e) => {
        e.preventDefault();
        if (!text.value.trim()) {
          text.focus();
          return;
        }
        change({ comment: text.value }, '', cbtn);
      });
      out.push(c);
    }
    if (DECLARERS.includes(role)) {
      const det = select('determination', DETERMINATIONS, inc.determination);
      det.id = 'determination-to';
      const dbtn = h('button', { type: 'submit', id: 'determination-submit', i18n: 'incident.determination.submit' });
      const f = h('form', { class: 'card', id: 'determination-form', onchange: markDirty },
        h('h3', { i18n: 'incident.determination.title' }), field('incident.determination', det), dbtn);
      f.addEventListener('submit', (e) => {
        e.preventDefault();
        change({ determination: det.value }, '', dbtn);
      });
      out.push(f);
    }
    if (role !== 'regulator') {
      const list = h('ul', { class: 'tasks', id: 'tasks' }, (inc.tasks || []).map((tk) => {
        const box = h('input', { type: 'checkbox', id: 'task-' + tk.id, 'data-task': tk.id });
        box.checked = !!tk.done;
        box.addEventListener('change', () => change({ task: { id: tk.id, title: tk.title, done: box.checked } }, '', box));
        return h('li', {}, box, ' ', h('label', { for: box.id, text: tk.title }));
      }));
      const title = h('input', { type: 'text', id: 'task-title', maxlength: '500', autocomplete: 'off' });
      const tbtn = h('button', { type: 'submit', id: 'task-add', i18n: 'incident.tasks.add' });
      const f = h('form', { class: 'card', id: 'tasks-form', oninput: markDirty },
        h('h3', { i18n: 'incident.tasks.title' }), (inc.tasks || []).length ? list : h('p', { class: 'muted', i18n: 'incident.tasks.none' }),
        field('incident.tasks.new', title), tbtn);
      f.addEventListener('submit', (e) => {
        e.preventDefault();
        if (!title.value.trim()) {
          title.focus();
          return;
        }
        const tid = (window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now())).slice(0, 8);
        change({ task: { id: tid, title: title.value.trim() } }, '', tbtn);
      });
      out.push(f);
    }
    if (DECLARERS.includes(role) && inc.status !== 'closed') {
      const into = h('input', { type: 'text', id: 'merge-into', maxlength: '36', autocomplete: 'off', spellcheck: 'false', required: true });
      const mbtn = h('button', { type: 'submit', id: 'merge-submit', class: 'secondary', i18n: 'incident.merge.submit' });
      const f = h('form', { class: 'card', id: 'merge-form', oninput: markDirty },
        h('h3', { i18n: 'incident.merge.title' }), h('p', { class: 'hint', i18n: 'incident.merge.hint' }), field('incident.merge.into', into), mbtn);
      f.addEventListener('submit', (e) => {
        e.preventDefault();
        change({ into: into.value.trim() }, '/merge', mbtn);
      });
      out.push(f);
    }
    if (DECLARERS.includes(role) && !inc.declared_at) {
      const note = h('textarea', { id: 'declare-comment', rows: '2', maxlength: '20000' });
      const dbtn = h('button', { type: 'submit', id: 'declare', i18n: 'incident.declare.submit' });
      const d = h('form', { class: 'card', id: 'declare-form', oninput: markDirty },
        h('h3', { i18n: 'incident.declare.title' }), h('p', { class: 'hint', i18n: 'incident.declare.hint' }),
        field('incident.declare.comment', note), dbtn);
      d.addEventListener('submit', (e) => {
        e.preventDefault();
        change(note.value ? { comment: note.value } : {}, '/declare', dbtn);
      });
      out.push(d);
    }
    if (!out.length) {
      return null;
    }
    return h('section', { class: 'actions-panel', 'aria-labelledby': 'actions-h' },
      h('h2', { id: 'actions-h', i18n: 'incident.actions' }),
      h('p', { class: 'hint', i18n: ['incident.editing', { v: inc.version }] }), out);
  }

  function show(d) {
    const inc = d.incident;
    shown = inc;
    dirty = false;
    const changedNote = notices.querySelector('#changed');
    if (changedNote) {
      changedNote.remove();
    }
    const h1 = heading('incident.heading', { title: inc.title || inc.id });
    h1.id = 'incident-title';
    const focused = document.activeElement === top.querySelector('h1');
    top.replaceChildren(
      h1,
      notices,
      h('div', { class: 'cols' },
        h('section', { 'aria-labelledby': 'facts-h' }, h('h2', { id: 'facts-h', i18n: 'incident.facts' }), facts(inc)),
        actions(inc)),
      h('section', { 'aria-labelledby': 'stages-h' }, h('h2', { id: 'stages-h', i18n: 'incident.stages' }), stages(inc)),
      h('section', { 'aria-labelledby': 'alerts-h' }, h('h2', { id: 'alerts-h', i18n: 'incident.alerts' }), alertsTable(d.alerts || [])),
      h('section', { 'aria-labelledby': 'comments-h' }, h('h2', { id: 'comments-h', i18n: 'incident.comments' }), comments(inc)),
      h('section', { 'aria-labelledby': 'history-h' }, h('h2', { id: 'history-h', i18n: 'incident.history' }), history(d.log || [])),
      h('section', { class: 'noprint', 'aria-labelledby': 'export-h' }, h('h2', { id: 'export-h', i18n: 'incident.export' }), exports(inc)));
    if (focused || !document.activeElement || document.activeElement === document.body) {
      h1.focus({ preventScroll: true });
    }
  }

  // exports offers the incident's report (GET .../report) in the page's
  // language, as the API makes it: PDF, HTML, CSV, STIX 2.1 and JSON.
  function exports(inc) {
    const formats = [['pdf', 'pdf'], ['html', 'html'], ['csv', 'csv'], ['stix', 'stix.json'], ['json', 'json']];
    return h('p', { id: 'exports' }, formats.map(([f, ext]) => [fileButton(f,
      () => '/api/v1/incidents/' + encodeURIComponent(inc.id) + '/report?format=' + f + '&lang=' + lang(),
      () => 'kuzet-incident-' + inc.id.slice(0, 8) + '-' + lang() + '.' + ext, notices), ' ']));
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

  load(false).then(() => {
    if (live) {
      schedule();
    }
  });
  return () => {
    live = false;
    clearTimeout(timer);
  };
}
