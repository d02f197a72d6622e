// Sign-in and the console's few HTTP calls (docs/console.md). The CSRF
// token from login or /v1/auth/me is kept in memory only and sent with
// every state change.

let csrf = '';

export class HTTPError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
  }
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* empty or not JSON */ }
  if (!res.ok) throw new HTTPError(res.status, data?.error?.code, data?.error?.message);
  return data;
}

// me returns the signed-in user, or null when signed out.
export async function me() {
  try {
    const r = await call('GET', '/v1/auth/me');
    csrf = r.csrf || '';
    return r.user;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export async function login(username, password) {
  const r = await call('POST', '/v1/auth/login', { username, password });
  csrf = r.csrf || '';
  return r.user;
}

export async function logout() {
  try { await call('POST', '/v1/auth/logout'); } finally { csrf = ''; }
}

// canned lists the intents' answers ({name, answer}), or null when the
// relay has no GET /v1/canned.
export async function canned() {
  try {
    const r = await call('GET', '/v1/canned');
    const list = Array.isArray(r) ? r : r?.canned;
    if (!Array.isArray(list)) return null;
    return list.map((c) => ({ name: String(c.name ?? ''), text: String(c.answer ?? c.text ?? '') })).filter((c) => c.text);
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}
