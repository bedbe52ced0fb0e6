// admin.js: the administrator's page: API keys (GET/POST
// /api/v1/admin/keys; a new or rotated key's secret is shown once, never
// kept; revoke; rotate) and the registry of centers, organisations and
// objects (GET /api/v1/admin/registry as JSON, edited whole and PUT back
// with its ETag as If-Match, so that a change made meanwhile is refused).
import { h, timeEl, announce } from '../dom.js';
import { call, get } from '../api.js';
import { ROLES } from '../model.js';
import { errorBox, field, select, table, heading, value } from '../ui.js';

export function render(main) {
  const notices = h('div', {});
  const secret = h('div', { id: 'key-secret' });
  const keys = h('div', { id: 'keys' }, h('p', { i18n: 'loading' }));
  const name = h('input', { type: 'text', id: 'key-name', required: true, maxlength: '64', autocomplete: 'off', spellcheck: 'false' });
  const role = select('role', ROLES, 'owner');
  role.id = 'key-role';
  const scope = h('input', { type: 'text', id: 'key-scope', maxlength: '200', autocomplete: 'off', spellcheck: 'false' });
  const ttl = h('input', { type: 'text', id: 'key-ttl', value: '720h', maxlength: '16', autocomplete: 'off', spellcheck: 'false' });
  const create = h('button', { type: 'submit', id: 'key-create', i18n: 'admin.keys.create' });
  const form = h('form', { class: 'card', id: 'key-form', 'aria-labelledby': 'key-h' },
    h('h3', { id: 'key-h', i18n: 'admin.keys.new' }),
    h('div', { class: 'filters' }, field('admin.keys.name', name), field('admin.keys.role', role),
      field('admin.keys.scope', scope, 'admin.keys.scope_hint'), field('admin.keys.ttl', ttl, 'admin.keys.ttl_hint')), create);
  const regText = h('textarea', { id: 'registry-json', rows: '18', spellcheck: 'false', autocomplete: 'off' });
  const regSave = h('button', { type: 'submit', id: 'registry-save', i18n: 'admin.registry.save' });
  const regForm = h('form', { id: 'registry-form' }, field('admin.registry.document', regText, 'admin.registry.hint'), regSave);
  const regNote = h('div', {});
  main.append(heading('admin.title'), notices,
    h('section', { 'aria-labelledby': 'keys-h' }, h('h2', { id: 'keys-h', i18n: 'admin.keys.title' }), secret, form, keys),
    h('section', { 'aria-labelledby': 'registry-h' }, h('h2', { id: 'registry-h', i18n: 'admin.registry.title' }), regNote, regForm));
  let live = true;
  let regETag = '';

  function showSecret(k) {
    secret.replaceChildren(h('div', { class: ['notice', 'secret'], role: 'status' },
      h('p', { i18n: ['admin.keys.secret', { name: k.name }] }), h('p', {}, h('code', { id: 'key-secret-value', text: k.key }))));
    announce('admin.keys.secret', { name: k.name });
  }

  async function act(path, button) {
    button.disabled = true;
    try {
      const r = await call('POST', path);
      if (r.data && r.data.key) {
        showSecret(r.data);
      }
      await loadKeys();
    } catch (err) {
      button.disabled = false;
      if (err.status !== 401) {
        notices.replaceChildren(errorBox(err));
      }
    }
  }

  async function loadKeys() {
    try {
      const r = await get('/api/v1/admin/keys');
      if (!live) {
        return;
      }
      const list = r.data.keys || [];
      if (!list.length) {
        keys.replaceChildren(h('p', { class: 'empty', i18n: 'admin.keys.empty' }));
        return;
      }
      keys.replaceChildren(table('admin.keys.title',
        ['admin.keys.name', 'admin.keys.role', 'admin.keys.scope', 'admin.keys.state', 'admin.keys.expires', 'admin.keys.action'],
        list.map((k) => {
          const actions = h('span', {});
          if (k.state === 'active') {
            const id = encodeURIComponent(k.id);
            const rot = h('button', { type: 'button', class: 'small', 'data-action': 'rotate', 'data-id': k.id, i18n: 'admin.keys.rotate' });
            rot.addEventListener('click', () => act('/api/v1/admin/keys/' + id + '/rotate', rot));
            const rev = h('button', { type: 'button', class: ['small', 'secondary'], 'data-action': 'revoke', 'data-id': k.id, i18n: 'admin.keys.revoke' });
            rev.addEventListener('click', () => act('/api/v1/admin/keys/' + id + '/revoke', rev));
            actions.append(rot, ' ', rev);
          }
          return [k.name, value('role', k.role), k.org || k.oisc || (k.sectors || []).join(', '), value('keystate', k.state),
            timeEl(k.expires_at), actions];
        })));
    } catch (err) {
      if (live && err.status !== 401) {
        keys.replaceChildren(errorBox(err));
      }
    }
  }

  async function loadRegistry() {
    try {
      const r = await get('/api/v1/admin/registry');
      if (!live) {
        return;
      }
      regETag = r.etag || '';
      regText.value = JSON.stringify(r.data, null, 2);
    } catch (err) {
      if (live && err.status !== 401) {
        regNote.replaceChildren(errorBox(err));
      }
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const req = { name: name.value.trim(), role: role.value, ttl: ttl.value.trim() };
    const sc = scope.value.trim();
    if (role.value === 'owner') {
      req.org = sc;
    } else if (role.value === 'oisc-analyst') {
      req.oisc = sc;
    } else if (role.value === 'sector-analyst' || role.value === 'regulator') {
      req.sectors = sc.split(',').map((x) => x.trim()).filter(Boolean);
    }
    create.disabled = true;
    try {
      const r = await call('POST', '/api/v1/admin/keys', { body: req });
      showSecret(r.data);
      name.value = '';
      await loadKeys();
    } catch (err) {
      if (err.status !== 401) {
        notices.replaceChildren(errorBox(err));
      }
    } finally {
      create.disabled = false;
    }
  });

  regForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    let doc;
    try {
      doc = JSON.parse(regText.value);
    } catch (x) {
      regNote.replaceChildren(h('div', { class: ['notice', 'error'], role: 'alert' }, h('p', { i18n: 'admin.registry.not_json' })));
      return;
    }
    regSave.disabled = true;
    try {
      const r = await call('PUT', '/api/v1/admin/registry', { body: doc, headers: regETag ? { 'If-Match': regETag } : {} });
      regETag = r.etag || regETag;
      regNote.replaceChildren(h('p', { class: 'notice', id: 'registry-saved', i18n: ['admin.registry.saved', { n: r.data.changed_keys }] }));
    } catch (err) {
      if (err.status !== 401) {
        regNote.replaceChildren(errorBox(err));
      }
    } finally {
      regSave.disabled = false;
    }
  });
  loadKeys();
  loadRegistry();
  return () => {
    live = false;
  };
}
