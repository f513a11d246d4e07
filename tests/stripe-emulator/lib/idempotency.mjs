/*
 * idempotency.mjs - Stripe's Idempotency-Key semantics for POST requests.
 *
 * Owns: the table scope -> key -> entry, where scope is
 * "<platform account>|<Stripe-Account header or ''>" (keys are per account
 * and per connected account, as on Stripe) and entry is
 *   { state: 'in_flight' | 'done', method, path, params (canonical JSON),
 *     status, body, headers, requestId, createdAt (emulator clock, seconds) }.
 *
 * Rules (docs.stripe.com/idempotency):
 *   - begin() on an unknown or expired key marks it in flight and lets the
 *     request run;
 *   - a second request while the first is in flight -> 409 (not stored);
 *   - a finished key with the same method, path and params -> the stored
 *     status and body again, with `Idempotent-Replayed: true`;
 *   - a finished key with another path or other params -> 400
 *     idempotency_error (not stored);
 *   - abandon() forgets an in-flight key whose request was refused before any
 *     work (validation errors, injected 429/409, dropped sockets), so a
 *     corrected retry runs; finish() stores the answer (including 500s);
 *   - entries older than 24 h on the emulator clock are pruned on lookup.
 */

import { ApiError, idempotencyInUse } from './errors.mjs';

export const TTL_SECONDS = 24 * 3600;

export class Idempotency {
  constructor(state) {
    this.state = state;
    this.table = new Map();
  }

  reset() {
    this.table = new Map();
  }

  scope(platform, stripeAccount) {
    return `${platform}|${stripeAccount || ''}`;
  }

  lookup(scope, key) {
    const k = `${scope}|${key}`;
    const e = this.table.get(k);
    if (!e) return null;
    if (e.state === 'done' && this.state.now() - e.createdAt >= TTL_SECONDS) {
      this.table.delete(k);
      return null;
    }
    return e;
  }

  /*
   * Returns {replay: entry} for a stored answer, throws ApiError for 409/400,
   * or returns {token} after marking the key in flight.
   */
  begin(scope, key, method, path, params) {
    const e = this.lookup(scope, key);
    if (e) {
      if (e.state === 'in_flight') throw idempotencyInUse(key);
      if (e.method !== method || e.path !== path) {
        throw new ApiError(400, {
          type: 'idempotency_error',
          message:
            `Keys for idempotent requests can only be used for the same endpoint they were first used for ` +
            `('${e.method} ${e.path}' vs '${method} ${path}'). Try using a key other than '${key}' if you meant ` +
            'to execute a different request.',
        });
      }
      if (e.params !== params) {
        throw new ApiError(400, {
          type: 'idempotency_error',
          message:
            'Keys for idempotent requests can only be used with the same parameters they were first used with. ' +
            `Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      return { replay: e };
    }
    const entry = { state: 'in_flight', method, path, params, createdAt: this.state.now() };
    this.table.set(`${scope}|${key}`, entry);
    return { token: entry };
  }

  finish(scope, key, token, { status, body, headers, requestId }) {
    Object.assign(token, { state: 'done', status, body, headers, requestId, createdAt: this.state.now() });
    this.table.set(`${scope}|${key}`, token);
  }

  abandon(scope, key, token) {
    const k = `${scope}|${key}`;
    if (this.table.get(k) === token) this.table.delete(k);
  }

  dump() {
    return [...this.table.entries()].map(([k, e]) => ({
      key: k,
      state: e.state,
      method: e.method,
      path: e.path,
      status: e.status,
      created_at: e.createdAt,
    }));
  }
}
