// i18n.js: the message catalogues (i18n/kk.json, ru.json, en.json) and
// their application to the page. Text is marked with data-i18n (and
// data-i18n-vars for placeholders); attributes with data-i18n-placeholder,
// data-i18n-aria-label and data-i18n-title. Switching the language
// re-labels the page in place, so nothing typed is lost.

export const LANGS = ['kk', 'ru', 'en'];
const LOCALES = { kk: 'kk-kz', ru: 'ru-ru', en: 'en-gb' };
const ATTRS = ['placeholder', 'aria-label', 'title'];
const PREF = 'kuzet.lang'; // the language only: no secret is ever stored

let current = 'en';
let catalogue = {};
const cache = new Map();

async function fetchCatalogue(lang) {
  if (!cache.has(lang)) {
    const r = await fetch('/console/i18n/' + lang + '.json', { credentials: 'omit' });
    if (!r.ok) {
      throw new Error('catalogue ' + lang + ': ' + r.status);
    }
    cache.set(lang, await r.json());
  }
  return cache.get(lang);
}

// lang is the language in use.
export function lang() {
  return current;
}

// locale is the BCP 47 locale of the language in use, for Intl.
export function locale() {
  return LOCALES[current];
}

// preferred is the language to start in: the one chosen before, else the
// browser's, else Kazakh.
export function preferred() {
  let saved = null;
  try {
    saved = window.localStorage.getItem(PREF);
  } catch (e) {
    saved = null;
  }
  if (LANGS.includes(saved)) {
    return saved;
  }
  for (const l of navigator.languages || []) {
    const base = String(l).toLowerCase().slice(0, 2);
    if (LANGS.includes(base)) {
      return base;
    }
  }
  return 'kk';
}

// setLang loads the catalogue and re-labels the document.
export async function setLang(l) {
  if (!LANGS.includes(l)) {
    l = 'kk';
  }
  catalogue = await fetchCatalogue(l);
  current = l;
  document.documentElement.lang = l;
  try {
    window.localStorage.setItem(PREF, l);
  } catch (e) {
    // private mode: the choice lasts for this page only
  }
  apply(document);
  document.title = t('app.title');
  document.dispatchEvent(new CustomEvent('kuzet:lang', { detail: l }));
}

// has reports whether the catalogue holds key.
export function has(key) {
  return Object.prototype.hasOwnProperty.call(catalogue, key);
}

// t returns the message of key, its {name} placeholders replaced by vars.
export function t(key, vars) {
  let s = has(key) ? catalogue[key] : key;
  for (const [k, v] of Object.entries(vars || {})) {
    s = s.split('{' + k + '}').join(String(v));
  }
  return s;
}

// apply re-labels every marked element under root.
export function apply(root) {
  for (const e of root.querySelectorAll('[data-i18n]')) {
    const vars = e.dataset.i18nVars ? JSON.parse(e.dataset.i18nVars) : undefined;
    e.textContent = t(e.dataset.i18n, vars);
  }
  for (const a of ATTRS) {
    const data = 'data-i18n-' + a;
    for (const e of root.querySelectorAll('[' + data + ']')) {
      e.setAttribute(a, t(e.getAttribute(data)));
    }
  }
}
