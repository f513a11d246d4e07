/*
 * faults.mjs - injected failures for /v1 requests (test-only).
 *
 * Owns: the list of armed faults {id, method, path (RegExp source), count,
 * mode, seconds, status} and the set of requests hung by hang_before /
 * hang_after, which POST /__emu/faults/release wakes up.
 *
 * Modes (applied by server.mjs around the endpoint):
 *   error_500_stored      answer 500 api_error without doing the work, and
 *                         store it under the Idempotency-Key (replayed 24 h)
 *   error_500_after_work  do the work (objects exist, events fire), answer
 *                         500 and store that 500 under the key
 *   error_429             answer 429 (rate limit), nothing done, not stored
 *   error_409             answer 409 (key in use / lock), nothing done, not stored
 *   hang_before           wait `seconds` (or until released), then run normally
 *   hang_after            run, store the answer, then wait `seconds` (or until
 *                         released) before answering
 *   drop_after            run, store the answer, destroy the socket
 *   drop_before           destroy the socket; nothing done, nothing stored
 * `status` overrides the HTTP status of the error_* modes (e.g. 503);
 * `should_retry` ("true"/"false") overrides their Stripe-Should-Retry
 * header (Stripe sends false when a retry cannot succeed).
 *
 * Invariants: a fault matches when its method (if given) equals the request
 * method and its path regex matches the request path (no query string);
 * the first armed matching fault wins and its count drops by one; a fault
 * whose count reaches 0 is removed.
 */

export const MODES = [
  'error_500_stored',
  'error_500_after_work',
  'error_429',
  'error_409',
  'hang_before',
  'hang_after',
  'drop_after',
  'drop_before',
];

export class Faults {
  constructor() {
    this.list = [];
    this.hung = new Set();
    this.seq = 0;
  }

  reset() {
    this.list = [];
    this.release();
  }

  add({ method, path, count = 1, mode, seconds, status, should_retry }) {
    if (!MODES.includes(mode)) throw new Error(`unknown fault mode '${mode}' (one of ${MODES.join(', ')})`);
    if (path === undefined || path === null || path === '') throw new Error('fault needs a path regex');
    const re = new RegExp(path);
    const f = {
      id: `fault_${++this.seq}`,
      method: method ? String(method).toUpperCase() : null,
      path: String(path),
      re,
      count: Number(count) || 1,
      mode,
      seconds: seconds === undefined || seconds === null || seconds === '' ? null : Number(seconds),
      status: status ? Number(status) : null,
      should_retry: should_retry === undefined || should_retry === null ? null : String(should_retry) === 'true',
    };
    this.list.push(f);
    return this.view(f);
  }

  view(f) {
    const { re, ...rest } = f;
    return rest;
  }

  all() {
    return this.list.map((f) => this.view(f));
  }

  clear() {
    this.list = [];
  }

  take(method, path) {
    const f = this.list.find((x) => (!x.method || x.method === method) && x.re.test(path));
    if (!f) return null;
    f.count -= 1;
    if (f.count <= 0) this.list = this.list.filter((x) => x !== f);
    return this.view(f);
  }

  /* wait `seconds` (null = until released); resolves early on release() */
  hang(seconds) {
    return new Promise((resolve) => {
      const h = { resolve, timer: null };
      if (seconds !== null && seconds !== undefined) {
        h.timer = setTimeout(() => {
          this.hung.delete(h);
          resolve('timeout');
        }, seconds * 1000);
      }
      this.hung.add(h);
    });
  }

  release() {
    const n = this.hung.size;
    for (const h of this.hung) {
      if (h.timer) clearTimeout(h.timer);
      h.resolve('released');
    }
    this.hung.clear();
    return n;
  }
}
