/*
 * api.js - the admin panel's only way to the server: /admin/api/v1/
 *
 * Every call sends the session cookie (same origin) and, on writes, the
 * CSRF token the login (or GET /me) returned.  A JSON error becomes an
 * ApiError carrying the API's message, code and request id, which the
 * views show as they are.  A 401 means the session ended (logged out,
 * timed out, revoked elsewhere): the panel goes back to the login page.
 */

const BASE = '/admin/api/v1';

export class ApiError extends Error {
  constructor(status, body, requestId) {
    const e = body?.error ?? {};
    super(e.message || `The server answered ${status}.`);
    this.status = status;
    this.code = e.code ?? null;
    this.param = e.param ?? null;
    this.requestId = e.request_id ?? requestId ?? null;
  }
}

let csrf = null;
let onUnauthenticated = () => {};

export function setCsrf(token) { csrf = token; }
export function onLoggedOut(fn) { onUnauthenticated = fn; }

/*
 * call - 'method' 'path' (below /admin/api/v1) with JSON 'body'; the
 * parsed answer, or throws ApiError.  'idem': the Idempotency-Key.
 */
export async function call(method, path, body, { idem } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    if (csrf) headers['X-CSRF-Token'] = csrf;
    if (idem) headers['Idempotency-Key'] = idem;
  }
  let res;
  try {
    res = await fetch(BASE + path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
    });
  } catch {
    throw new ApiError(0, { error: { message: 'The server could not be reached. Check the connection and try again.' } });
  }
  let json = null;
  try { json = await res.json(); } catch { json = null; }
  if (res.ok) return json;
  const err = new ApiError(res.status, json, res.headers.get('X-Request-Id'));
  if (res.status === 401 && path !== '/login') onUnauthenticated(err);
  throw err;
}

export const get = (path) => call('GET', path);
export const post = (path, body, opts) => call('POST', path, body, opts);

/* query - "?a=1&b=2" of the non-empty members of 'params' */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
