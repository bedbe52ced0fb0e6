// app.js: the console's shell: language, sign-in, navigation by role and
// the hash router (#/queue?status=new, #/incidents/<id>, ...).
import { setLang, preferred, lang, apply } from './i18n.js';
import { h, clear, refreshTimes, tickClocks, announce } from './dom.js';
import { principal, signedIn, signOut, onEnd, touch } from './session.js';
import { forget } from './api.js';
import { READERS, REPORTERS, RECIPIENTS, DECLARERS } from './model.js';
import * as signin from './pages/signin.js';
import * as queue from './pages/queue.js';
import * as incident from './pages/incident.js';
import * as alerts from './pages/alerts.js';
import * as report from './pages/report.js';
import * as notifications from './pages/notifications.js';
import * as stats from './pages/stats.js';
import * as home from './pages/home.js';
import * as silences from './pages/silences.js';
import * as admin from './pages/admin.js';

const PAGES = {
  queue: { page: queue, nav: 'nav.queue', roles: READERS },
  alerts: { page: alerts, nav: 'nav.alerts', roles: READERS },
  report: { page: report, nav: 'nav.report', roles: REPORTERS },
  notifications: { page: notifications, nav: 'nav.notifications', roles: RECIPIENTS },
  silences: { page: silences, nav: 'nav.silences', roles: DECLARERS },
  stats: { page: stats, nav: 'nav.stats', roles: ['regulator', 'ncc-analyst', 'oisc-analyst', 'sector-analyst'] },
  admin: { page: admin, nav: 'nav.admin', roles: ['admin'] },
  incidents: { page: incident, roles: READERS },
  home: { page: home, roles: [] },
};

let cleanup = null;
let endReason = '';

// route is the hash as {name, id, query}.
export function route() {
  let s = location.hash || '';
  if (s.startsWith('#')) {
    s = s.slice(1);
  }
  if (s.startsWith('/')) {
    s = s.slice(1);
  }
  const q = s.indexOf('?');
  const path = q >= 0 ? s.slice(0, q) : s;
  const query = new URLSearchParams(q >= 0 ? s.slice(q + 1) : '');
  const [name, id] = path.split('/');
  return { name: name || '', id: id ? decodeURIComponent(id) : '', query };
}

// go navigates to a hash route.
export function go(hash) {
  if (location.hash === hash) {
    render();
  } else {
    location.hash = hash;
  }
}

function landing(role) {
  if (READERS.includes(role)) {
    return 'queue';
  }
  if (role === 'regulator') {
    return 'stats';
  }
  if (role === 'admin') {
    return 'admin';
  }
  return 'home';
}

function renderNav() {
  const nav = clear(document.getElementById('nav'));
  const who = clear(document.getElementById('who'));
  const out = document.getElementById('signout');
  const p = principal();
  out.hidden = !p;
  if (!p) {
    return;
  }
  const current = route().name;
  const list = h('ul', {});
  for (const [name, def] of Object.entries(PAGES)) {
    if (!def.nav || !def.roles.includes(p.role)) {
      continue;
    }
    const active = current === name || (name === 'queue' && current === 'incidents');
    list.append(h('li', {}, h('a', { href: '#/' + name, i18n: def.nav, 'aria-current': active ? 'page' : false })));
  }
  nav.append(list);
  who.append(h('span', { class: 'name', text: p.name }), ' ', h('span', { class: 'role', i18n: 'role.' + p.role }));
}

function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const main = clear(document.getElementById('main'));
  const r = route();
  if (!signedIn()) {
    renderNav();
    cleanup = signin.render(main, { reason: endReason, done: signedInNow });
    return;
  }
  const p = principal();
  let def = PAGES[r.name];
  if (!def || r.name === 'signin' || (def.roles.length && !def.roles.includes(p.role))) {
    const to = '#/' + landing(p.role);
    history.replaceState(null, '', to);
    def = PAGES[landing(p.role)];
    r.name = landing(p.role);
    r.query = new URLSearchParams();
  }
  renderNav();
  cleanup = def.page.render(main, { route: r, principal: p, go }) || null;
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.focus({ preventScroll: true });
  }
}

function signedInNow() {
  endReason = '';
  announce('signin.done');
  render();
}

async function start() {
  await setLang(preferred());
  const sel = document.getElementById('lang');
  sel.value = lang();
  sel.addEventListener('change', async () => {
    await setLang(sel.value);
    refreshTimes(document);
    tickClocks();
  });
  document.getElementById('signout').addEventListener('click', () => signOut('signedout'));
  document.getElementById('skip').addEventListener('click', (e) => {
    e.preventDefault();
    const m = document.getElementById('main');
    const h1 = m.querySelector('h1');
    (h1 || m).focus();
  });
  onEnd((why) => {
    forget();
    endReason = why;
    render();
  });
  for (const ev of ['keydown', 'pointerdown', 'input']) {
    document.addEventListener(ev, touch, { passive: true });
  }
  window.addEventListener('hashchange', render);
  setInterval(tickClocks, 1000);
  render();
  apply(document);
  document.body.dataset.ready = 'true';
}

start();
