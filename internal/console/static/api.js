// api.js: calls to the kuzet API (/api/v1) with the signed-in key as a
// bearer token. GETs are revalidated with If-None-Match when the API sent
// an ETag; a 401 ends the sign-in.
import { authorization, signOut, touch } from './session.js';

// APIError is an answer other than 2xx: status, the API's stable code,
// its message and field.
export class APIError extends Error {
  constructor(status, code, message, field) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

const validators = new Map();

// call sends one request. opts: body (sent as JSON), headers, poll (a
// background refresh: it does not count as activity).
export async function call(method, path, opts) {
  const o = opts || {};
  const auth = authorization();
  if (!auth) {
    throw new APIError(401, 'unauthorized', '', '');
  }
  if (!o.poll) {
    touch();
  }
  const headers = Object.assign({}, o.headers || {}, { Authorization: auth, Accept: 'application/json' });
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (o.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(o.body);
  }
  const seen = method === 'GET' ? validators.get(path) : undefined;
  if (seen) {
    headers['If-None-Match'] = seen.etag;
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, 'network', '', '');
  }
  if (r.status === 304 && seen) {
    return { status: 200, data: seen.data, etag: seen.etag, unchanged: true };
  }
  const text = await r.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = null;
    }
  }
  if (r.status === 401) {
    signOut('rejected');
    throw new APIError(401, 'unauthorized', '', '');
  }
  if (!r.ok) {
    const e = (data && data.error) || {};
    throw new APIError(r.status, e.code || 'http_' + r.status, e.message || '', e.field || '');
  }
  const etag = r.headers.get('ETag');
  if (method === 'GET' && etag) {
    validators.set(path, { etag, data });
  }
  return { status: r.status, data, etag, unchanged: false };
}

// get is call('GET', ...).
export function get(path, opts) {
  return call('GET', path, opts);
}

// forget drops the cached validators (on sign-out: another key sees
// other data).
export function forget() {
  validators.clear();
}

// download fetches a file with the signed-in key and saves it as name (a
// link to the API cannot carry the key).
export async function download(path, name) {
  const auth = authorization();
  if (!auth) {
    throw new APIError(401, 'unauthorized', '', '');
  }
  touch();
  let r;
  try {
    r = await fetch(path, { headers: { Authorization: auth }, cache: 'no-store', credentials: 'omit', redirect: 'error' });
  } catch (e) {
    throw new APIError(0, 'network', '', '');
  }
  if (r.status === 401) {
    signOut('rejected');
    throw new APIError(401, 'unauthorized', '', '');
  }
  if (!r.ok) {
    let e = {};
    try {
      e = (await r.json()).error || {};
    } catch (x) {
      e = {};
    }
    throw new APIError(r.status, e.code || 'http_' + r.status, e.message || '', e.field || '');
  }
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
