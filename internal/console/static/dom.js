// dom.js: building elements (never from HTML strings), times in
// Asia/Almaty with the zone shown, and the countdowns of deadlines.
import { t, locale } from './i18n.js';

export const ZONE = 'Asia/Almaty';

// h makes an element. attrs: class (string or array), text (data shown
// as is), i18n (a catalogue key, or [key, vars]), on<event> handlers,
// and plain attributes (true: present, false/null/undefined: absent).
// String children are data, added as text.
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k === 'class') {
      e.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    } else if (k === 'text') {
      e.textContent = String(v);
    } else if (k === 'i18n') {
      label(e, v);
    } else if (k.startsWith('on') && typeof v === 'function') {
      e.addEventListener(k.slice(2), v);
    } else if (k.startsWith('i18n-')) {
      e.setAttribute('data-' + k, v);
      e.setAttribute(k.slice(5), t(v));
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) {
      continue;
    }
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// label sets an element's text from the catalogue and marks it, so that a
// change of language re-labels it.
export function label(e, v) {
  const [key, vars] = Array.isArray(v) ? v : [v, undefined];
  e.dataset.i18n = key;
  if (vars) {
    e.dataset.i18nVars = JSON.stringify(vars);
  } else {
    delete e.dataset.i18nVars;
  }
  e.textContent = t(key, vars);
  return e;
}

// clear empties an element.
export function clear(e) {
  while (e.firstChild) {
    e.firstChild.remove();
  }
  return e;
}

function formatter() {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
  });
}

// fmtTime formats an RFC 3339 time in Asia/Almaty, its zone shown.
export function fmtTime(iso) {
  const ms = Date.parse(iso);
  if (!iso || Number.isNaN(ms)) {
    return '';
  }
  return formatter().format(new Date(ms));
}

// timeEl is a <time> showing iso in Asia/Almaty; a change of language
// re-formats it (refreshTimes).
export function timeEl(iso) {
  if (!iso) {
    return h('span', { class: 'muted', text: '\u2014' });
  }
  return h('time', { datetime: iso, 'data-at': iso, text: fmtTime(iso) });
}

// refreshTimes re-formats every time under root in the language in use.
export function refreshTimes(root) {
  for (const e of root.querySelectorAll('time[data-at]')) {
    e.textContent = fmtTime(e.dataset.at);
  }
}

function span(ms) {
  const mins = Math.floor(ms / 60000);
  const d = Math.floor(mins / 1440);
  const hh = Math.floor((mins % 1440) / 60);
  const mm = mins % 60;
  const parts = [];
  if (d) {
    parts.push(t('unit.d', { n: d }));
  }
  if (d || hh) {
    parts.push(t('unit.h', { n: hh }));
  }
  if (!d) {
    parts.push(t('unit.m', { n: mm }));
  }
  if (!d && !hh && mins < 5) {
    parts.push(t('unit.s', { n: Math.floor(ms / 1000) % 60 }));
  }
  return parts.join(' ');
}

// countdownText says how long until due, or how long it is overdue.
export function countdownText(iso, now) {
  const ms = Date.parse(iso) - now;
  return ms >= 0 ? t('clock.left', { d: span(ms) }) : t('clock.overdue', { d: span(-ms) });
}

// countdown is an element counting down to iso (tickClocks keeps it
// current).
export function countdown(iso) {
  const e = h('span', { class: 'countdown', 'data-due': iso });
  tick(e, Date.now());
  return e;
}

function tick(e, now) {
  const overdue = Date.parse(e.dataset.due) < now;
  e.textContent = countdownText(e.dataset.due, now);
  e.classList.toggle('overdue', overdue);
  e.classList.toggle('due-soon', !overdue && Date.parse(e.dataset.due) - now < 3600e3);
}

// tickClocks updates every countdown on the page.
export function tickClocks() {
  const now = Date.now();
  for (const e of document.querySelectorAll('.countdown[data-due]')) {
    tick(e, now);
  }
}

function parts(ms) {
  const out = {};
  const f = new Intl.DateTimeFormat('en-gb', {
    timeZone: ZONE, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  for (const p of f.formatToParts(new Date(ms))) {
    out[p.type] = p.value;
  }
  return out;
}

function offsetAt(ms) {
  const p = parts(ms);
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

// almatyInput is the value of a datetime-local input for ms, in Asia/Almaty.
export function almatyInput(ms) {
  const p = parts(ms);
  return p.year + '-' + p.month + '-' + p.day + 'T' + p.hour + ':' + p.minute;
}

// fromAlmatyInput reads a datetime-local value as Asia/Almaty wall time
// and returns it as RFC 3339 (UTC), or '' when it is not a time.
export function fromAlmatyInput(v) {
  const wall = Date.parse(v + ':00Z');
  if (!v || Number.isNaN(wall)) {
    return '';
  }
  let ms = wall - offsetAt(wall);
  ms = wall - offsetAt(ms);
  return new Date(ms).toISOString();
}

// announce tells screen readers (the polite live region) what happened.
export function announce(key, vars) {
  const live = document.getElementById('live');
  if (live) {
    label(live, vars ? [key, vars] : key);
  }
}
