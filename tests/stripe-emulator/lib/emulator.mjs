/*
 * emulator.mjs - the emulator's core: state + events + money movements.
 *
 * Owns: the Emulator object shared by the HTTP layer (api.mjs, control.mjs)
 * and the business logic (payments.mjs, connect.mjs): the State, the
 * Webhooks engine, the Idempotency table, the Faults, the runtime config
 * (delays), the request log and connection statistics, and the primitives
 * every transition uses:
 *   emit()      - create an Event (snapshot of the object NOW), store it and
 *                 queue it for delivery;
 *   addBT()     - create a BalanceTransaction on an account;
 *   settle()    - an amount converted into the settlement currency;
 *   credit()/debit() - move money in the (owner, currency) balance.
 *
 * Invariants:
 *   - an event's data.object is a deep copy taken at emit time, so later
 *     mutations never leak into already-emitted events;
 *   - an event carries `account` iff it happened on a connected account
 *     (owner !== PLATFORM, or an explicit account such as account.updated);
 *   - a balance transaction is in the currency of the balance it moves
 *     (the settlement currency when one is set, with exchange_rate);
 *   - the balance always equals the sum of the nets of the balance
 *     transactions of the owner (charges go to `pending` until released,
 *     debits take `available` first, then `pending`).
 */

import { State, PLATFORM } from './state.mjs';
import { Webhooks } from './webhooks.mjs';
import { Idempotency } from './idempotency.mjs';
import { Faults } from './faults.mjs';
import { API_VERSION, newId, balanceTransaction } from './objects.mjs';
import { resetFees, exchangeRate, convertAmount } from './currencies.mjs';

export const DEFAULT_CONFIG = {
  async_capture_delay_ms: 0, // automatic_async: charge.updated with balance_transaction after this
  refund_settle_delay_ms: 0, // refunds: pending -> succeeded/failed, succeeded -> failed after this
  refund_async: 0, // 1: refunds start pending (asynchronous methods); 0: a card refund is succeeded at once
  search_index_delay_ms: 0, // search: objects become searchable after this
};

export class Emulator {
  constructor({ webhookSettings = {}, log = null } = {}) {
    this.state = new State();
    this.webhooks = new Webhooks(webhookSettings);
    this.webhooks.onDelivered = (event) => {
      const rec = this.state.get('events', event.id);
      if (rec && rec.obj.pending_webhooks > 0) rec.obj.pending_webhooks -= 1;
    };
    this.idem = new Idempotency(this.state);
    this.faults = new Faults();
    this.config = { ...DEFAULT_CONFIG };
    this.requests = [];
    this.stats = { connections_opened: 0, api_connections: 0, requests: 0, api_requests: 0 };
    this.statsEpoch = 1; // sockets remember the epoch they were counted in
    this.settlement = { currency: null, exchange_rates: {} }; // POST /__emu/settlement
    this.baseUrl = 'http://127.0.0.1';
    this.log = log; // optional (line) => void
    this.platform = PLATFORM;
  }

  reset(all = false) {
    this.faults.reset();
    this.state.reset();
    this.idem.reset();
    this.webhooks.reset(all);
    this.config = { ...DEFAULT_CONFIG };
    this.settlement = { currency: null, exchange_rates: {} };
    this.requests = [];
    this.resetStats();
    resetFees();
  }

  resetStats() {
    this.stats = { connections_opened: 0, api_connections: 0, requests: 0, api_requests: 0 };
    this.statsEpoch += 1;
  }

  now() {
    return this.state.now();
  }

  /* ---- events ------------------------------------------------------------ */

  emit(type, obj, { owner = PLATFORM, previous, request, account } = {}) {
    const acct = account || (owner !== PLATFORM ? owner : undefined);
    const event = { id: newId('evt') };
    event.object = 'event';
    if (acct) event.account = acct;
    event.api_version = API_VERSION;
    event.created = this.now();
    event.data = { object: JSON.parse(JSON.stringify(obj)) };
    if (previous) event.data.previous_attributes = JSON.parse(JSON.stringify(previous));
    event.livemode = false;
    event.pending_webhooks = this.webhooks.targets(event).length; // endpoints still to be told (drop mode: never)
    event.request = request ? { id: request.id ?? null, idempotency_key: request.idempotency_key ?? null } : { id: null, idempotency_key: null };
    event.type = type;
    this.state.put('events', event, acct || PLATFORM);
    this.webhooks.enqueue(JSON.parse(JSON.stringify(event)));
    return event;
  }

  /* ---- money ----------------------------------------------------------------- */

  addBT(owner, fields) {
    const bt = balanceTransaction({ id: newId('txn'), created: this.now(), ...fields });
    this.state.put('balance_transactions', bt, owner, { extra: fields.extra || {} });
    return bt;
  }

  /*
   * settle - 'amount' of 'currency' as it lands in the balance of 'owner':
   * {amount, currency, exchange_rate}.  The platform with a settlement
   * currency (POST /__emu/settlement) converts every other currency into
   * it, as Stripe does for an account that cannot settle in the charge's
   * currency; otherwise nothing is converted and exchange_rate is null.
   */
  settle(owner, currency, amount) {
    const to = this.settlement.currency;
    if (owner !== PLATFORM || !to || to === currency) return { amount, currency, exchange_rate: null };
    const rate = exchangeRate(currency, to, this.settlement.exchange_rates[currency]);
    return { amount: convertAmount(amount, currency, to, rate), currency: to, exchange_rate: rate };
  }

  credit(owner, currency, amount, bucket = 'pending') {
    this.state.balance(owner, currency)[bucket] += amount;
  }

  /* take from available first, then pending (may leave available negative) */
  debit(owner, currency, amount) {
    const b = this.state.balance(owner, currency);
    const fromAvailable = Math.min(Math.max(b.available, 0), amount);
    b.available -= fromAvailable;
    const rest = amount - fromAvailable;
    if (rest > 0) {
      const fromPending = Math.min(Math.max(b.pending, 0), rest);
      b.pending -= fromPending;
      b.available -= rest - fromPending;
    }
  }

  /* POST /__emu/balance/release: pending -> available (all, or amount of one currency) */
  releaseBalance({ owner = PLATFORM, currency, amount } = {}) {
    const m = this.state.balances.get(owner) || new Map();
    const moved = [];
    for (const [cur, b] of m) {
      if (currency && cur !== currency) continue;
      const n = amount !== undefined && amount !== null && amount !== '' ? Math.min(Number(amount), b.pending) : b.pending;
      if (n <= 0) continue;
      b.pending -= n;
      b.available += n;
      moved.push({ currency: cur, amount: n });
    }
    if (amount === undefined || amount === null || amount === '') {
      for (const rec of this.state.list('balance_transactions', owner)) {
        if (rec.obj.status === 'pending' && (!currency || rec.obj.currency === currency)) {
          rec.obj.status = 'available';
          rec.obj.available_on = Math.min(rec.obj.available_on, this.now());
        }
      }
    }
    if (moved.length) this.emit('balance.available', this.state.balanceObject(owner), { owner });
    return { moved, balance: this.state.balanceObject(owner) };
  }

  logRequest(entry) {
    this.requests.push(entry);
    if (this.requests.length > 10000) this.requests.shift();
    if (this.log) this.log(JSON.stringify(entry));
  }
}
