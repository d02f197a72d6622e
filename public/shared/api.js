// The relay's HTTP API as the admin page and the console call it
// (docs/admin.md, docs/console.md). The CSRF token from sign-in or
// /v1/auth/me lives in memory only and goes with every state change. A 401
// on a signed-in call means the session ended: onSignedOut is called.

let csrf = '';
let signedOut = () => {};

export function onSignedOut(fn) { signedOut = fn; }

export class HTTPError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
  }
}

async function call(method, path, body, { quiet401 = false, raw = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined || raw ? body : JSON.stringify(body),
    });
  } catch {
    throw new HTTPError(0, 'network', 'The relay cannot be reached. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* empty or not JSON */ }
  if (!res.ok) {
    const err = new HTTPError(res.status, data?.error?.code, data?.error?.message);
    if (res.status === 401 && !quiet401) signedOut();
    throw err;
  }
  return data;
}

// csrfToken is the session's CSRF token, for requests made without
// call (a file sent with XMLHttpRequest, for its upload progress).
export const csrfToken = () => csrf;

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);
// postJSONText sends text that already is JSON (a file), byte for byte.
export const postJSONText = (path, text) => call('POST', path, text, { raw: true });
export const put = (path, body) => call('PUT', path, body);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);

// me returns the signed-in user, or null.
export async function me() {
  try {
    const r = await call('GET', '/v1/auth/me', undefined, { quiet401: true });
    csrf = r.csrf || '';
    return r.user;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export async function login(username, password) {
  const r = await call('POST', '/v1/auth/login', { username, password }, { quiet401: true });
  csrf = r.csrf || '';
  return r.user;
}

export async function logout() {
  try { await call('POST', '/v1/auth/logout', undefined, { quiet401: true }); } finally { csrf = ''; }
}

export function changePassword(old, next) {
  return call('POST', '/v1/auth/password', { old, new: next }, { quiet401: true });
}

// events POSTs to a text/event-stream endpoint and calls onEvent(name,
// data) for each event as it arrives (EventSource can neither POST nor
// send the CSRF header).
export async function events(path, onEvent, signal) {
  const res = await fetch(path, {
    method: 'POST', credentials: 'same-origin', cache: 'no-store', signal,
    headers: { Accept: 'text/event-stream', 'X-CSRF-Token': csrf },
  });
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    if (res.status === 401) signedOut();
    throw new HTTPError(res.status, data?.error?.code, data?.error?.message);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let name = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      let parsed = null;
      try { parsed = JSON.parse(data); } catch { /* ignore a broken event */ }
      onEvent(name, parsed);
    }
  }
}
