/*
 * webhooks.mjs - delivering Events to webhook endpoints, as Stripe does.
 *
 * Owns: the endpoint list ({url, secret, connect, enabled_events}), one FIFO
 * queue per endpoint, retries, the delivery modes used for fault injection
 * (duplicate, shuffle, delay_ms, drop, pause) and the log of every attempt.
 *
 * Signing (docs.stripe.com/webhooks#verify-manually): header
 *   Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, `${t}.${body}`)>
 * where body is the exact bytes POSTed. `t` is the wall clock (not the
 * emulator's adjustable clock) so receivers' 300 s tolerance check passes.
 *
 * Routing: an event with `account` set (it happened on a connected account)
 * goes to the endpoints with connect: true, every other event to the
 * endpoints with connect: false.
 *
 * Ordering and retries: each endpoint sends first attempts one at a time in
 * event order (after `delay_ms`, and shuffled within `shuffle_window_ms` when
 * shuffle is on). A non-2xx answer, a connection error or a timeout schedules
 * a retry of that event after retry_base_ms * retry_scale * 2^(n-1) ms (1 s,
 * 2 s, 4 s ... by default), up to max_attempts attempts in all; retries do not
 * hold back later events (Stripe does not either). Delivery never blocks an
 * API response: enqueue() only appends and kicks the pump on a later tick.
 *
 * Invariants: every attempt is logged (deliveries); idle() is true when no
 * endpoint that is not paused has queued, in-flight or scheduled work.
 */

import http from 'node:http';
import https from 'node:https';
import { createHmac } from 'node:crypto';

export function signPayload(secret, body, t = Math.floor(Date.now() / 1000)) {
  const sig = createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex');
  return `t=${t},v1=${sig}`;
}

const DEFAULT_MODES = {
  duplicate: 1,
  shuffle: false,
  shuffle_window_ms: 200,
  delay_ms: 0,
  drop: false,
  pause: false,
};

export class Webhooks {
  constructor({ retry_base_ms = 1000, retry_scale = 1, max_attempts = 8, timeout_ms = 10000 } = {}) {
    this.settings = { retry_base_ms, retry_scale, max_attempts, timeout_ms };
    this.modes = { ...DEFAULT_MODES };
    this.endpoints = [];
    this.deliveries = [];
    this.waiters = [];
    this.onDelivered = null; // (event, endpoint) => void, set by the emulator
    this.seq = 0;
  }

  /* ---- configuration ---------------------------------------------------- */

  addEndpoint({ url, secret, connect = false, enabled_events = ['*'] }) {
    const ep = {
      id: `we_${++this.seq}`,
      url,
      secret,
      connect: !!connect,
      enabled_events,
      queue: [],
      batch: [],
      batchTimer: null,
      busy: false,
      retries: new Set(),
      inflight: 0,
    };
    this.endpoints.push(ep);
    return ep;
  }

  setEndpoints(list) {
    this.clearQueues();
    this.endpoints = [];
    for (const e of list) this.addEndpoint(e);
  }

  configure(cfg) {
    if (cfg.endpoints) this.setEndpoints(cfg.endpoints.map((e) => ({ ...e, connect: e.connect === true || e.connect === 'true' })));
    for (const k of ['duplicate', 'shuffle_window_ms', 'delay_ms']) {
      if (cfg[k] !== undefined) this.modes[k] = Math.max(k === 'duplicate' ? 1 : 0, Number(cfg[k]));
    }
    for (const k of ['shuffle', 'drop']) if (cfg[k] !== undefined) this.modes[k] = cfg[k] === true || cfg[k] === 'true';
    for (const k of ['retry_base_ms', 'retry_scale', 'max_attempts', 'timeout_ms']) {
      if (cfg[k] !== undefined) this.settings[k] = Number(cfg[k]);
    }
    if (cfg.pause !== undefined) {
      const pause = cfg.pause === true || cfg.pause === 'true';
      this.modes.pause = pause;
      if (!pause) this.resume();
    }
    return this.describe();
  }

  resume() {
    this.modes.pause = false;
    for (const ep of this.endpoints) this.kick(ep);
    this.checkIdle();
  }

  describe() {
    return {
      endpoints: this.endpoints.map((e) => ({
        id: e.id,
        url: e.url,
        secret: e.secret,
        connect: e.connect,
        enabled_events: e.enabled_events,
        queued: e.queue.length + e.batch.length,
        retrying: e.retries.size,
      })),
      ...this.modes,
      ...this.settings,
    };
  }

  /* reset(): drop queues, log and modes; keep endpoints and retry settings unless all */
  reset(all = false) {
    this.clearQueues();
    this.deliveries = [];
    this.modes = { ...DEFAULT_MODES };
    if (all) {
      this.endpoints = [];
      this.settings = { retry_base_ms: 1000, retry_scale: 1, max_attempts: 8, timeout_ms: 10000 };
    }
    this.checkIdle();
  }

  clearQueues() {
    for (const ep of this.endpoints) {
      ep.queue = [];
      ep.batch = [];
      if (ep.batchTimer) clearTimeout(ep.batchTimer);
      ep.batchTimer = null;
      for (const t of ep.retries) clearTimeout(t);
      ep.retries.clear();
    }
  }

  /* ---- routing ----------------------------------------------------------- */

  targets(event) {
    const connect = !!event.account;
    return this.endpoints.filter(
      (ep) =>
        ep.connect === connect &&
        (ep.enabled_events.includes('*') || ep.enabled_events.includes(event.type)),
    );
  }

  enqueue(event) {
    const body = JSON.stringify(event, null, 2);
    for (const ep of this.targets(event)) {
      if (this.modes.drop) {
        this.deliveries.push({
          endpoint: ep.url,
          connect: ep.connect,
          event_id: event.id,
          type: event.type,
          attempt: 0,
          status: null,
          dropped: true,
          time: Date.now(),
        });
        continue;
      }
      for (let i = 0; i < this.modes.duplicate; i++) {
        const item = { event, body, attempt: 1, copy: i };
        if (this.modes.shuffle) {
          ep.batch.push(item);
          if (!ep.batchTimer) {
            ep.batchTimer = setTimeout(() => {
              ep.batchTimer = null;
              const batch = ep.batch;
              ep.batch = [];
              for (let j = batch.length - 1; j > 0; j--) {
                const k = Math.floor(Math.random() * (j + 1));
                [batch[j], batch[k]] = [batch[k], batch[j]];
              }
              ep.queue.push(...batch);
              this.kick(ep);
            }, this.modes.shuffle_window_ms);
          }
        } else {
          ep.queue.push(item);
        }
      }
      setImmediate(() => this.kick(ep));
    }
  }

  /* ---- the pump ------------------------------------------------------------ */

  kick(ep) {
    if (ep.busy || this.modes.pause || !this.endpoints.includes(ep)) return;
    const item = ep.queue.shift();
    if (!item) {
      this.checkIdle();
      return;
    }
    ep.busy = true;
    const go = () => {
      this.attempt(ep, item).finally(() => {
        ep.busy = false;
        this.kick(ep);
      });
    };
    if (this.modes.delay_ms > 0) setTimeout(go, this.modes.delay_ms);
    else go();
  }

  async attempt(ep, item) {
    ep.inflight++;
    const t = Math.floor(Date.now() / 1000);
    const entry = {
      endpoint: ep.url,
      connect: ep.connect,
      event_id: item.event.id,
      type: item.event.type,
      attempt: item.attempt,
      copy: item.copy,
      status: null,
      error: null,
      time: Date.now(),
    };
    this.deliveries.push(entry);
    let ok = false;
    try {
      entry.status = await this.post(ep.url, item.body, {
        'Content-Type': 'application/json; charset=utf-8',
        'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        'Stripe-Signature': signPayload(ep.secret, item.body, t),
        'Cache-Control': 'no-cache',
        Accept: '*/*; q=0.5, application/xml',
      });
      ok = entry.status >= 200 && entry.status < 300;
    } catch (err) {
      entry.error = err.code || err.message;
    } finally {
      ep.inflight--;
    }
    entry.duration_ms = Date.now() - entry.time;
    if (ok) {
      if (item.copy === 0 && this.onDelivered) this.onDelivered(item.event, ep);
    } else if (item.attempt < this.settings.max_attempts && this.endpoints.includes(ep)) {
      const delay = this.settings.retry_base_ms * this.settings.retry_scale * 2 ** (item.attempt - 1);
      entry.next_retry_ms = delay;
      const timer = setTimeout(() => {
        ep.retries.delete(timer);
        this.attempt(ep, { ...item, attempt: item.attempt + 1 }).finally(() => this.checkIdle());
      }, delay);
      ep.retries.add(timer);
    }
    this.checkIdle();
  }

  post(url, body, headers) {
    return new Promise((resolve, reject) => {
      let u;
      try {
        u = new URL(url);
      } catch (err) {
        reject(err);
        return;
      }
      const mod = u.protocol === 'https:' ? https : http;
      const req = mod.request(
        u,
        {
          method: 'POST',
          headers: { ...headers, 'Content-Length': Buffer.byteLength(body) },
          agent: false,
          timeout: this.settings.timeout_ms,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  /* ---- flush --------------------------------------------------------------- */

  idle() {
    if (this.modes.pause) {
      // paused endpoints hold their queue; only in-flight work counts
      return this.endpoints.every((ep) => !ep.busy && ep.inflight === 0);
    }
    return this.endpoints.every(
      (ep) => !ep.busy && ep.inflight === 0 && ep.queue.length === 0 && ep.batch.length === 0 && ep.retries.size === 0,
    );
  }

  queued() {
    return this.endpoints.reduce((n, ep) => n + ep.queue.length + ep.batch.length + ep.retries.size, 0);
  }

  checkIdle() {
    if (!this.idle()) return;
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  whenIdle() {
    return new Promise((resolve) => {
      if (this.idle()) resolve();
      else this.waiters.push(resolve);
    });
  }
}
