// session.js: the sign-in. The API key lives in this module's variable
// only: never in web storage, a cookie or the URL, so it is gone with the
// tab, on sign-out and when the sign-in expires (8 hours after it began,
// or 30 minutes without input). The console sets no cookie, so no other
// site can make a request in its name (no CSRF).

export const MAX_AGE_MS = 8 * 3600 * 1000;
export const IDLE_MS = 30 * 60 * 1000;

let key = null;
let who = null;
let since = 0;
let last = 0;
let timer = null;
const listeners = [];

// SignInError is a refused sign-in; code is a catalogue key.
export class SignInError extends Error {
  constructor(code) {
    super(code);
    this.code = code;
  }
}

// onEnd registers fn(reason) for the end of a sign-in: 'signedout',
// 'expired', 'idle' or 'rejected' (the API refused the key).
export function onEnd(fn) {
  listeners.push(fn);
}

function expiry(now) {
  if (key === null) {
    return 'signedout';
  }
  if (now - since >= MAX_AGE_MS) {
    return 'expired';
  }
  if (now - last >= IDLE_MS) {
    return 'idle';
  }
  return '';
}

// signedIn reports whether a sign-in is in force (ending it if it expired).
export function signedIn() {
  const why = expiry(Date.now());
  if (why && key !== null) {
    signOut(why);
  }
  return !why;
}

// principal is whoami's answer for the key: name, role, org, oisc, sectors.
export function principal() {
  return who;
}

// signIn checks the key with GET /api/v1/whoami and keeps it.
export async function signIn(k) {
  k = String(k || '').trim();
  if (!k) {
    throw new SignInError('signin.empty');
  }
  let r;
  try {
    r = await fetch('/api/v1/whoami', {
      headers: { Authorization: 'Bearer ' + k, Accept: 'application/json' },
      cache: 'no-store', credentials: 'omit',
    });
  } catch (e) {
    throw new SignInError('signin.network');
  }
  if (r.status === 401) {
    throw new SignInError('signin.bad');
  }
  if (r.status === 429) {
    throw new SignInError('error.rate_limited');
  }
  if (!r.ok) {
    throw new SignInError('signin.failed');
  }
  who = await r.json();
  key = k;
  since = Date.now();
  last = since;
  clearInterval(timer);
  timer = setInterval(signedIn, 15000);
}

// touch records input, which keeps the sign-in from going idle.
export function touch() {
  if (key !== null && !expiry(Date.now())) {
    last = Date.now();
  }
}

// signOut forgets the key.
export function signOut(reason) {
  const had = key !== null;
  key = null;
  who = null;
  clearInterval(timer);
  timer = null;
  if (had) {
    for (const fn of listeners) {
      fn(reason || 'signedout');
    }
  }
}

// authorization is the Authorization header value, or null when signed out.
export function authorization() {
  return signedIn() ? 'Bearer ' + key : null;
}
