// report.js: an owner's self-report (an OISC's or the NCC's analyst
// declares one by hand, naming the organisation), POST /api/v1/incidents
// with an Idempotency-Key made once per form, so that a retry after a lost
// answer returns the same receipt and creates nothing. The receipt shows
// the incident's id and its notification deadlines, and prints.
import { h, timeEl, countdown, almatyInput, fromAlmatyInput, announce } from '../dom.js';
import { call } from '../api.js';
import { RSIT, IMPACTS, TLPS } from '../model.js';
import { errorBox, field, select, table, heading, value } from '../ui.js';

// FIELDS maps the API's field names (error.field) to the form's controls.
const FIELDS = {
  org: 'org', title: 'title', description: 'description', object_ids: 'objects', detected_at: 'detected',
  rsit_class: 'rclass', rsit_type: 'rtype', functional_impact: 'impact', measures_taken: 'measures',
  contacts: 'contact', tlp: 'tlp',
};

function newKey() {
  if (window.crypto && crypto.randomUUID) {
    return crypto.randomUUID();
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function receipt(main, rc, again) {
  const stages = rc.stages || [];
  const rows = stages.map((s) => [h('code', { text: s.regime }), s.stage, timeEl(s.due_at),
    s.status === 'pending' && s.due_at ? countdown(s.due_at) : value('stage', s.status)]);
  const print = h('button', { type: 'button', i18n: 'receipt.print', onclick: () => window.print() });
  const more = h('button', { type: 'button', class: 'secondary', i18n: 'receipt.another', onclick: again });
  main.replaceChildren(
    heading('receipt.title'),
    h('section', { class: ['receipt', 'card'], id: 'receipt' },
      h('p', { i18n: 'receipt.lead' }),
      h('dl', { class: 'facts' },
        h('dt', { i18n: 'receipt.id' }), h('dd', {}, h('code', { id: 'receipt-id', text: rc.id })),
        h('dt', { i18n: 'receipt.received' }), h('dd', {}, timeEl(rc.received_at)),
        h('dt', { i18n: 'receipt.origin' }), h('dd', {}, value('origin', rc.origin))),
      h('h2', { i18n: 'receipt.deadlines' }),
      stages.length ? table('receipt.deadlines', ['stage.col.regime', 'stage.col.stage', 'stage.col.due', 'stage.col.clock'], rows)
        : h('p', { class: 'muted', i18n: 'receipt.nodeadlines' })),
    h('div', { class: ['actions', 'noprint'] }, print, more,
      h('a', { href: '#/incidents/' + encodeURIComponent(rc.id), i18n: 'receipt.open' })));
  main.querySelector('h1').focus();
  announce('receipt.done');
}

export function render(main, ctx) {
  const role = ctx.principal.role;
  const key = newKey();
  const c = {
    org: h('input', { type: 'text', id: 'r-org', autocomplete: 'off', required: role !== 'owner' }),
    title: h('input', { type: 'text', id: 'r-title', maxlength: '200', required: true }),
    description: h('textarea', { id: 'r-description', rows: '4', maxlength: '20000' }),
    objects: h('input', { type: 'text', id: 'r-objects', autocomplete: 'off' }),
    detected: h('input', { type: 'datetime-local', id: 'r-detected', required: true, value: almatyInput(Date.now()) }),
    rclass: select('rsit', Object.keys(RSIT), 'intrusions', ''),
    rtype: h('select', { id: 'r-type' }),
    impact: select('impact', IMPACTS, 'medium', ''),
    personal: h('input', { type: 'checkbox', id: 'r-personal' }),
    significant: h('input', { type: 'checkbox', id: 'r-significant' }),
    measures: h('textarea', { id: 'r-measures', rows: '3', maxlength: '20000' }),
    contact: h('input', { type: 'text', id: 'r-contact', autocomplete: 'name', required: true }),
    phone: h('input', { type: 'tel', id: 'r-phone', autocomplete: 'tel' }),
    email: h('input', { type: 'email', id: 'r-email', autocomplete: 'email' }),
    tlp: select('tlp', TLPS, 'amber', ''),
  };
  c.rclass.id = 'r-class';
  c.impact.id = 'r-impact';
  c.tlp.id = 'r-tlp';
  const fillTypes = () => {
    c.rtype.replaceChildren(...(RSIT[c.rclass.value] || []).map((t) => h('option', { value: t, text: t })));
  };
  c.rclass.addEventListener('change', fillTypes);
  fillTypes();
  const notices = h('div', { id: 'report-notices' });
  const submit = h('button', { type: 'submit', id: 'r-submit', i18n: 'report.submit' });
  const check = (el, name) => h('div', { class: ['field', 'check'] }, el, h('label', { for: el.id, i18n: name }));
  const form = h('form', { class: 'card', id: 'report-form', novalidate: true },
    role !== 'owner' ? field('report.org', c.org, 'report.org.hint') : null,
    field('report.title.field', c.title),
    field('report.description', c.description),
    field('report.objects', c.objects, 'report.objects.hint'),
    field('report.detected', c.detected, 'report.detected.hint'),
    h('fieldset', {}, h('legend', { i18n: 'report.category' }), field('report.rsit_class', c.rclass), field('report.rsit_type', c.rtype)),
    field('report.impact', c.impact),
    check(c.personal, 'report.personal'),
    check(c.significant, 'report.significant'),
    field('report.measures', c.measures),
    h('fieldset', {}, h('legend', { i18n: 'report.contact' }),
      field('report.contact.name', c.contact), field('report.contact.phone', c.phone), field('report.contact.email', c.email)),
    field('report.tlp', c.tlp),
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    notices.replaceChildren();
    const detected = fromAlmatyInput(c.detected.value);
    const missing = [];
    if (role !== 'owner' && !c.org.value.trim()) {
      missing.push(c.org);
    }
    if (!c.title.value.trim()) {
      missing.push(c.title);
    }
    if (!detected) {
      missing.push(c.detected);
    }
    if (!c.contact.value.trim()) {
      missing.push(c.contact);
    }
    for (const el of Object.values(c)) {
      el.removeAttribute('aria-invalid');
    }
    if (missing.length) {
      for (const el of missing) {
        el.setAttribute('aria-invalid', 'true');
      }
      notices.append(h('p', { class: ['notice', 'error'], role: 'alert', i18n: 'report.missing' }));
      missing[0].focus();
      return;
    }
    const body = {
      title: c.title.value.trim(),
      description: c.description.value,
      object_ids: c.objects.value.split(',').map((s) => s.trim()).filter(Boolean),
      detected_at: detected,
      rsit_class: c.rclass.value,
      rsit_type: c.rtype.value,
      functional_impact: c.impact.value,
      personal_data_involved: c.personal.checked,
      significant: c.significant.checked,
      measures_taken: c.measures.value,
      contacts: [{ name: c.contact.value.trim(), phone: c.phone.value.trim(), email: c.email.value.trim() }],
      tlp: c.tlp.value,
    };
    if (role !== 'owner') {
      body.org = c.org.value.trim();
    }
    submit.disabled = true;
    try {
      const r = await call('POST', '/api/v1/incidents', { body, headers: { 'Idempotency-Key': key } });
      receipt(main, r.data, () => ctx.go('#/report'));
    } catch (err) {
      submit.disabled = false;
      if (err.status === 401) {
        return;
      }
      notices.append(errorBox(err));
      const bad = FIELDS[String(err.field || '').split('[')[0]];
      const el = bad ? c[bad] : null;
      if (el) {
        el.setAttribute('aria-invalid', 'true');
        el.focus();
      } else {
        notices.querySelector('[role=alert]').focus();
      }
    }
  });
  main.append(heading(role === 'owner' ? 'report.title' : 'report.declare'),
    h('p', { class: 'hint', i18n: 'report.lead' }), notices, form);
  return null;
}
