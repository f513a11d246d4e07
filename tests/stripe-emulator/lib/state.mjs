/*
 * state.mjs - every object the emulator knows, the balances and the clock.
 *
 * Owns: one Map per kind (payment_intents, charges, refunds, ...) holding
 * records {obj, owner, seq, createdMs, ...private}, where `obj` is the public
 * Stripe JSON (mutated in place as the object changes state) and `owner` is
 * the account the object lives on (PLATFORM or a connected acct_ id, i.e. the
 * Stripe-Account the call was made with); the per-(owner, currency) balances
 * {available, pending}; the adjustable clock; the scheduler of asynchronous
 * work (refund settlement, automatic_async balance transactions ...).
 *
 * Invariants:
 *   - ids are unique across the whole state; `seq` increases with every put()
 *     so lists are newest-first even within one second;
 *   - nothing outside this module replaces a record's `obj`; transitions
 *     mutate it, and events snapshot it (deep copy) when emitted;
 *   - now() = wall clock + offset; the offset only grows (POST /__emu/clock);
 *   - reset() drops everything and cancels every scheduled task.
 */

export const PLATFORM = 'acct_1EmuPlatformAccount00';

export const KINDS = [
  'payment_intents',
  'charges',
  'refunds',
  'transfers',
  'transfer_reversals',
  'accounts',
  'disputes',
  'events',
  'balance_transactions',
  'payouts',
  'payment_methods',
];

export const PREFIX_KIND = {
  pi: 'payment_intents',
  ch: 'charges',
  re: 'refunds',
  tr: 'transfers',
  trr: 'transfer_reversals',
  acct: 'accounts',
  dp: 'disputes',
  evt: 'events',
  txn: 'balance_transactions',
  po: 'payouts',
  pm: 'payment_methods',
};

export function kindOfId(id) {
  if (typeof id !== 'string') return null;
  const p = id.slice(0, id.indexOf('_'));
  return PREFIX_KIND[p] || null;
}

export class State {
  constructor() {
    this.clockOffset = 0;
    this.timers = new Set();
    this.pendingTasks = 0;
    this.taskWaiters = [];
    this.reset();
  }

  reset() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pendingTasks = 0;
    this.notifyTasks();
    this.kinds = {};
    for (const k of KINDS) this.kinds[k] = new Map();
    this.byId = new Map();
    this.balances = new Map();
    this.seq = 0;
    this.clockOffset = 0;
    this.failNextRefunds = 0;
    this.failAfterSuccess = false;
  }

  now() {
    return Math.floor(Date.now() / 1000) + this.clockOffset;
  }

  nowMs() {
    return Date.now() + this.clockOffset * 1000;
  }

  advance(seconds) {
    this.clockOffset += Math.max(0, Math.floor(Number(seconds) || 0));
    return this.now();
  }

  put(kind, obj, owner = PLATFORM, extra = {}) {
    const rec = { kind, obj, owner, seq: ++this.seq, createdMs: this.nowMs(), ...extra };
    this.kinds[kind].set(obj.id, rec);
    this.byId.set(obj.id, rec);
    return rec;
  }

  get(kind, id) {
    const rec = this.kinds[kind] && this.kinds[kind].get(id);
    return rec || null;
  }

  getAny(id) {
    return this.byId.get(id) || null;
  }

  /* newest first; owner undefined = every owner */
  list(kind, owner) {
    const out = [];
    for (const rec of this.kinds[kind].values()) {
      if (owner === undefined || rec.owner === owner) out.push(rec);
    }
    out.sort((a, b) => b.seq - a.seq);
    return out;
  }

  balance(owner, currency) {
    let m = this.balances.get(owner);
    if (!m) {
      m = new Map();
      this.balances.set(owner, m);
    }
    let b = m.get(currency);
    if (!b) {
      b = { available: 0, pending: 0 };
      m.set(currency, b);
    }
    return b;
  }

  balanceObject(owner) {
    const m = this.balances.get(owner) || new Map();
    const currencies = [...m.keys()];
    if (!currencies.length) currencies.push('usd');
    currencies.sort();
    const entry = (amount, currency) => ({ amount, currency, source_types: { card: amount } });
    return {
      object: 'balance',
      available: currencies.map((c) => entry((m.get(c) || { available: 0 }).available, c)),
      livemode: false,
      pending: currencies.map((c) => entry((m.get(c) || { pending: 0 }).pending, c)),
    };
  }

  /* asynchronous work that /__emu/webhooks/flush waits for */
  schedule(delayMs, fn) {
    this.pendingTasks++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      try {
        fn();
      } catch (err) {
        console.error('stripe-emulator: scheduled task failed:', err);
      } finally {
        this.pendingTasks--;
        this.notifyTasks();
      }
    }, Math.max(0, delayMs));
    this.timers.add(t);
  }

  notifyTasks() {
    if (this.pendingTasks > 0) return;
    const w = this.taskWaiters;
    this.taskWaiters = [];
    for (const fn of w) fn();
  }
}
