/*
 * control.mjs - the test-only control API under /__emu/ (no auth).
 *
 * Owns: every route that lets a test drive or inspect the emulator: reset,
 * faults, request log, object dumps, connection stats, webhook configuration
 * and delivery log, flush, the "things that happen outside the API"
 * (3-D Secure, settlement, Dashboard refunds, disputes, onboarding, failed
 * payouts, refund failures, balance release, clock, fees, delays, the
 * settlement currency and exchange rates, rolling an API key), and the
 * tiny HTML pages a browser test can click through (3-D Secure challenge,
 * Express onboarding, receipts).
 *
 * Bodies may be JSON or form-encoded; numbers and booleans are accepted as
 * JSON values or strings. Answers are JSON ({error: {...}} with 400/404 on a
 * bad call). Events caused here carry request {id: req_..., idempotency_key:
 * null} for Dashboard-like actions and {id: null, ...} for automatic ones.
 *
 * Invariant: nothing here is reachable under /v1, and nothing here changes
 * state in a way the real Stripe could not (every action maps to something
 * that happens on Stripe's side: a customer, a bank, the Dashboard, time).
 */

import { PLATFORM, KINDS } from './state.mjs';
import { ApiError, invalid, maskKey, notFound } from './errors.mjs';
import { randomId, API_VERSION } from './objects.mjs';
import * as Pay from './payments.mjs';
import * as Con from './connect.mjs';
import { getFees, setFee, isCurrency } from './currencies.mjs';

const routes = [];
function route(method, pattern, handler) {
  const names = [];
  const re = new RegExp(
    `^${pattern.replace(/:([a-z_]+)/g, (_, n) => {
      names.push(n);
      return '([^/]+)';
    })}$`,
  );
  routes.push({ method, re, names, handler });
}

const truthy = (v) => v === true || v === 'true' || v === '1' || v === 1;
const num = (v, name) => {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw invalid(`${name} must be a number`, name);
  return n;
};

function get(emu, kind, id, noun) {
  const rec = emu.state.get(kind, id);
  if (!rec) throw notFound(noun, id);
  return rec;
}

function dashboardRequest() {
  return { id: `req_${randomId(14)}`, idempotency_key: null };
}

export async function flush(emu, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  const quiet = () => emu.state.pendingTasks === 0 && emu.webhooks.idle();
  while (Date.now() < deadline) {
    if (quiet()) {
      await new Promise((r) => setImmediate(r));
      if (quiet()) return true;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

const html = (title, bodyHtml) => ({
  html: `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>` +
    '<style>body{font-family:sans-serif;max-width:36em;margin:3em auto}button{font-size:1.1em;margin:.3em}</style>' +
    `</head><body>${bodyHtml}</body></html>`,
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/* ---- housekeeping ---------------------------------------------------------------- */

route('GET', '/__emu/health', () => ({ ok: true, api_version: API_VERSION }));

route('POST', '/__emu/reset', (emu, b) => {
  emu.reset(truthy(b.all));
  return { reset: true, all: truthy(b.all) };
});

route('GET', '/__emu/faults', (emu) => ({ faults: emu.faults.all(), hung: emu.faults.hung.size }));
route('POST', '/__emu/faults', (emu, b) => {
  try {
    return emu.faults.add({ ...b, seconds: num(b.seconds, 'seconds'), count: num(b.count, 'count'), status: num(b.status, 'status') });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw invalid(err.message, 'mode');
  }
});
route('DELETE', '/__emu/faults', (emu) => {
  emu.faults.clear();
  return { faults: [] };
});
route('POST', '/__emu/faults/release', (emu) => ({ released: emu.faults.release() }));

route('GET', '/__emu/requests', (emu) => ({ requests: emu.requests }));
route('DELETE', '/__emu/requests', (emu) => {
  emu.requests = [];
  return { requests: [] };
});

route('GET', '/__emu/objects/:kind', (emu, b, path, query) => {
  if (!KINDS.includes(path.kind)) throw invalid(`Unknown kind '${path.kind}'. One of: ${KINDS.join(', ')}`, 'kind');
  const owner = query.get('account') || undefined;
  const recs = emu.state.list(path.kind, owner);
  return {
    kind: path.kind,
    count: recs.length,
    data: recs.map((r) => ({ ...JSON.parse(JSON.stringify(r.obj)), _owner: r.owner })),
  };
});

/* delete one object, as Stripe's "delete all test data" does: later reads answer 404 */
route('DELETE', '/__emu/objects/:kind/:id', (emu, b, path) => {
  if (!KINDS.includes(path.kind)) throw invalid(`Unknown kind '${path.kind}'. One of: ${KINDS.join(', ')}`, 'kind');
  const had = emu.state.kinds[path.kind].delete(path.id);
  if (had) emu.state.byId.delete(path.id);
  return { kind: path.kind, id: path.id, deleted: had };
});

route('GET', '/__emu/stats', (emu) => ({ ...emu.stats }));
route('DELETE', '/__emu/stats', (emu) => {
  emu.resetStats();
  return { ...emu.stats };
});

route('GET', '/__emu/idempotency', (emu) => ({ keys: emu.idem.dump() }));

/* ---- webhooks ----------------------------------------------------------------------- */

route('GET', '/__emu/webhooks/deliveries', (emu) => ({ deliveries: emu.webhooks.deliveries }));
route('DELETE', '/__emu/webhooks/deliveries', (emu) => {
  emu.webhooks.deliveries = [];
  return { deliveries: [] };
});
route('GET', '/__emu/webhooks/config', (emu) => emu.webhooks.describe());
route('POST', '/__emu/webhooks/config', (emu, b) => {
  if (b.endpoints !== undefined) {
    const list = Array.isArray(b.endpoints) ? b.endpoints : Object.values(b.endpoints || {});
    for (const e of list) {
      if (!e || !e.url || !e.secret) throw invalid('each endpoint needs url and secret', 'endpoints');
    }
    b = { ...b, endpoints: list };
  }
  return emu.webhooks.configure(b);
});
route('POST', '/__emu/webhooks/pause', (emu) => emu.webhooks.configure({ pause: true }));
route('POST', '/__emu/webhooks/resume', (emu) => {
  emu.webhooks.resume();
  return emu.webhooks.describe();
});
route('POST', '/__emu/webhooks/flush', async (emu, b) => {
  const ok = await flush(emu, num(b.timeout_ms, 'timeout_ms') ?? 10000);
  return { flushed: ok, queued: emu.webhooks.queued(), pending_tasks: emu.state.pendingTasks };
});

/* ---- payments happening outside the API --------------------------------------------------- */

route('POST', '/__emu/payment_intents/:id/authenticate', (emu, b, path) => {
  const rec = get(emu, 'payment_intents', path.id, 'payment_intent');
  const result = b.result || 'succeed';
  if (!['succeed', 'fail'].includes(result)) throw invalid('result must be succeed or fail', 'result');
  return Pay.authenticatePaymentIntent(emu, rec, result, { id: null, idempotency_key: null });
});
route('POST', '/__emu/payment_intents/:id/settle', (emu, b, path) => {
  const rec = get(emu, 'payment_intents', path.id, 'payment_intent');
  const result = b.result || 'succeed';
  if (!['succeed', 'fail'].includes(result)) throw invalid('result must be succeed or fail', 'result');
  return Pay.settlePaymentIntent(emu, rec, result, { id: null, idempotency_key: null });
});
route('POST', '/__emu/charges/:id/dashboard_refund', (emu, b, path) => {
  const chRec = get(emu, 'charges', path.id, 'charge');
  const params = { charge: path.id };
  if (b.amount !== undefined) params.amount = String(b.amount);
  if (b.reason !== undefined) params.reason = String(b.reason);
  if (b.metadata !== undefined) params.metadata = b.metadata;
  return Pay.createRefund(emu, { owner: chRec.owner, request: dashboardRequest(), dashboard: true }, params);
});
route('POST', '/__emu/charges/:id/dispute', (emu, b, path) => {
  const chRec = get(emu, 'charges', path.id, 'charge');
  return Pay.openDispute(emu, chRec, { amount: num(b.amount, 'amount'), reason: b.reason, network_reason_code: b.network_reason_code }, { id: null, idempotency_key: null }).obj;
});
route('POST', '/__emu/disputes/:id/close', (emu, b, path) => {
  const rec = get(emu, 'disputes', path.id, 'dispute');
  return Pay.closeDispute(emu, rec, b.outcome || 'lost', { id: null, idempotency_key: null });
});
route('POST', '/__emu/refunds/fail_next', (emu, b) => {
  emu.state.failNextRefunds = num(b.count, 'count') ?? 1;
  /* after_success: the refund first succeeds, then fails (Stripe: "a refund can
     transition from succeeded to failed", e.g. a closed card account) */
  emu.state.failAfterSuccess = b.after_success === true || b.after_success === 'true';
  return { fail_next: emu.state.failNextRefunds, after_success: emu.state.failAfterSuccess };
});

/* a fee Stripe changes after the fact (drift for reconciliation tests):
   the transaction's fee, fee_details and net change, the difference moves
   in the owner's available balance; no event, as on Stripe */
route('POST', '/__emu/balance_transactions/:id/fee', (emu, b, path) => {
  const rec = get(emu, 'balance_transactions', path.id, 'balance_transaction');
  const fee = num(b.fee, 'fee');
  if (fee === undefined || fee < 0) throw invalid('fee must be a non-negative integer', 'fee');
  const bt = rec.obj;
  const delta = fee - bt.fee;
  bt.fee = fee;
  bt.fee_details = fee ? [{ amount: fee, application: null, currency: bt.currency, description: 'Stripe processing fees', type: 'stripe_fee' }] : [];
  bt.net = bt.amount - fee;
  emu.state.balance(rec.owner, bt.currency).available -= delta;
  return bt;
});

/* ---- connect -------------------------------------------------------------------------------- */

route('POST', '/__emu/accounts/:id/complete_onboarding', (emu, b, path) => {
  const rec = get(emu, 'accounts', path.id, 'account');
  return Con.completeOnboarding(emu, rec, dashboardRequest());
});
route('POST', '/__emu/accounts/:id/fail_payout', (emu, b, path) => {
  const rec = get(emu, 'accounts', path.id, 'account');
  if (b.currency !== undefined && !isCurrency(String(b.currency).toLowerCase())) throw invalid('unknown currency', 'currency');
  return Con.failPayout(
    emu,
    rec,
    { amount: num(b.amount, 'amount'), currency: b.currency && String(b.currency).toLowerCase(), failure_code: b.failure_code },
    { id: null, idempotency_key: null },
  );
});

/* ---- money, time, fees, delays ---------------------------------------------------------------- */

function ownerOf(emu, b) {
  const acct = b.account;
  if (!acct || acct === PLATFORM) return PLATFORM;
  if (!emu.state.get('accounts', acct)) throw notFound('account', acct, 'account');
  return acct;
}

route('GET', '/__emu/balance', (emu, b, path, query) => emu.state.balanceObject(ownerOf(emu, { account: query.get('account') })));
route('POST', '/__emu/balance/release', (emu, b) => {
  const currency = b.currency ? String(b.currency).toLowerCase() : undefined;
  return emu.releaseBalance({ owner: ownerOf(emu, b), currency, amount: num(b.amount, 'amount') });
});
route('POST', '/__emu/balance/set', (emu, b) => {
  const currency = String(b.currency || '').toLowerCase();
  if (!isCurrency(currency)) throw invalid('currency is required and must be supported', 'currency');
  const owner = ownerOf(emu, b);
  const bal = emu.state.balance(owner, currency);
  if (b.available !== undefined) bal.available = num(b.available, 'available');
  if (b.pending !== undefined) bal.pending = num(b.pending, 'pending');
  return emu.state.balanceObject(owner);
});
route('GET', '/__emu/clock', (emu) => ({ now: emu.now(), offset_seconds: emu.state.clockOffset }));
route('POST', '/__emu/clock', (emu, b) => {
  const now = emu.state.advance(num(b.advance_seconds, 'advance_seconds') ?? 0);
  return { now, offset_seconds: emu.state.clockOffset };
});
route('GET', '/__emu/fees', () => getFees());
route('POST', '/__emu/fees', (emu, b) => {
  const currency = String(b.currency || '').toLowerCase();
  if (!isCurrency(currency)) throw invalid('currency is required and must be supported', 'currency');
  return setFee(currency, {
    percent_bps: num(b.percent_bps, 'percent_bps'),
    fixed: num(b.fixed, 'fixed'),
    dispute_fee: num(b.dispute_fee, 'dispute_fee'),
  });
});
/*
 * settlement: {currency?: 'usd' | null, exchange_rates?: {jpy: 0.0067}}:
 * the platform settles every charge, refund and dispute in 'currency'
 * (converted at exchangeRate(), or the rate given per source currency);
 * null or '' settles each in its own currency again (the default)
 */
route('GET', '/__emu/settlement', (emu) => JSON.parse(JSON.stringify(emu.settlement)));
route('POST', '/__emu/settlement', (emu, b) => {
  if (b.currency !== undefined) {
    const c = b.currency === null || b.currency === '' ? null : String(b.currency).toLowerCase();
    if (c !== null && !isCurrency(c)) throw invalid(`Invalid currency: ${c}`, 'currency');
    emu.settlement.currency = c;
  }
  if (b.exchange_rates !== undefined) {
    if (typeof b.exchange_rates !== 'object' || b.exchange_rates === null) {
      throw invalid('exchange_rates must be an object', 'exchange_rates');
    }
    for (const [k, v] of Object.entries(b.exchange_rates)) {
      if (!isCurrency(k)) throw invalid(`Invalid currency: ${k}`, 'exchange_rates');
      const r = Number(v);
      if (!(r > 0)) throw invalid(`Invalid exchange rate for ${k}`, 'exchange_rates');
      emu.settlement.exchange_rates[k] = r;
    }
  }
  return JSON.parse(JSON.stringify(emu.settlement));
});

/*
 * keys: the Dashboard's "roll key" (Developers -> API keys). POST
 * /__emu/keys/roll {key?, expires_in}: a new secret key, valid at once;
 * 'key' (default: the one live --api-key key) keeps working for
 * 'expires_in' seconds (0: expires now), then /v1 refuses it with 401
 * api_key_expired ("Expired API Key provided: sk_test_***abcd"), as
 * Stripe does. POST /__emu/keys/expire {key}: its expiry is now (the end
 * of the roll's overlap). GET /__emu/keys: every key, masked, with its
 * expiry (unix seconds on the emulator's clock, null: none). The request
 * log (GET /__emu/requests) names the key of each call, masked (api_key).
 */
const keyView = (emu) => [...emu.keys].map(([k, v]) => ({ key: maskKey(k), expires_at: v.expires_at }));
function knownKey(emu, b) {
  let key = b.key;
  if (key === undefined || key === null || key === '') {
    const live = [...emu.keys].filter(([, v]) => v.expires_at === null).map(([k]) => k);
    if (live.length !== 1) throw invalid('key is required: there is not exactly one live key to roll', 'key');
    key = live[0];
  }
  key = String(key);
  /* without --api-key every test key works: the one named is known now */
  if (!emu.keys.has(key) && emu.keysOpen && /^(sk|rk)_test_\S+$/.test(key)) emu.keys.set(key, { expires_at: null });
  if (!emu.keys.has(key)) throw invalid('No such API key', 'key');
  return key;
}
route('GET', '/__emu/keys', (emu) => ({ keys: keyView(emu) }));
route('POST', '/__emu/keys/roll', (emu, b) => {
  const old = knownKey(emu, b);
  const expiresIn = num(b.expires_in, 'expires_in') ?? 0;
  if (expiresIn < 0) throw invalid('expires_in must be >= 0 seconds', 'expires_in');
  const prefix = /^rk_/.test(old) ? 'rk_test_' : 'sk_test_';
  const secret = `${prefix}${randomId(24)}`;
  emu.keys.set(secret, { expires_at: null });
  emu.keys.get(old).expires_at = emu.now() + expiresIn;
  return { secret, rolled: maskKey(old), expires_at: emu.keys.get(old).expires_at, keys: keyView(emu) };
});
route('POST', '/__emu/keys/expire', (emu, b) => {
  const key = knownKey(emu, b);
  emu.keys.get(key).expires_at = emu.now();
  return { expired: maskKey(key), keys: keyView(emu) };
});

route('GET', '/__emu/config', (emu) => ({ ...emu.config }));
route('POST', '/__emu/config', (emu, b) => {
  for (const k of Object.keys(emu.config)) {
    if (b[k] !== undefined) emu.config[k] = Math.max(0, num(b[k], k));
  }
  return { ...emu.config };
});

/* ---- pages a browser can click through ------------------------------------------------------------ */

route('GET', '/__emu/3ds/:id', (emu, b, path) => {
  const rec = get(emu, 'payment_intents', path.id, 'payment_intent');
  return html(
    '3D Secure test page',
    `<h1>3D Secure 2 test page</h1><p>PaymentIntent <code>${esc(rec.obj.id)}</code> ` +
      `(${esc(rec.obj.amount)} ${esc(rec.obj.currency)}) - status <b>${esc(rec.obj.status)}</b></p>` +
      `<form method="post"><button name="result" value="succeed" id="complete">Complete authentication</button>` +
      `<button name="result" value="fail" id="fail">Fail authentication</button></form>`,
  );
});
route('POST', '/__emu/3ds/:id', (emu, b, path) => {
  const rec = get(emu, 'payment_intents', path.id, 'payment_intent');
  const pi = Pay.authenticatePaymentIntent(emu, rec, b.result === 'fail' ? 'fail' : 'succeed', { id: null, idempotency_key: null });
  if (rec.returnUrl) {
    const u = new URL(rec.returnUrl);
    u.searchParams.set('payment_intent', pi.id);
    u.searchParams.set('payment_intent_client_secret', pi.client_secret);
    u.searchParams.set('redirect_status', pi.status === 'succeeded' || pi.status === 'processing' || pi.status === 'requires_capture' ? 'succeeded' : 'failed');
    return { redirect: u.toString() };
  }
  return html('3D Secure done', `<p id="done">Authentication ${b.result === 'fail' ? 'failed' : 'completed'}; PaymentIntent is ${esc(pi.status)}.</p>`);
});
route('GET', '/__emu/onboarding/:id', (emu, b, path) => {
  const rec = get(emu, 'accounts', path.id, 'account');
  return html(
    'Express onboarding (emulator)',
    `<h1>Onboarding for <code>${esc(rec.obj.id)}</code></h1><p>${esc(rec.obj.email || '')}</p>` +
      `<form method="post"><button id="submit">Agree and submit</button></form>`,
  );
});
route('POST', '/__emu/onboarding/:id', (emu, b, path, query) => {
  const rec = get(emu, 'accounts', path.id, 'account');
  if (!rec.obj.details_submitted) Con.completeOnboarding(emu, rec, dashboardRequest());
  const token = query.get('link');
  const link = rec.links.find((l) => l.token === token) || rec.links[rec.links.length - 1];
  if (link && link.return_url) return { redirect: link.return_url };
  return html('Onboarding complete', '<p id="done">Onboarding complete.</p>');
});
route('GET', '/__emu/receipts/:id', (emu, b, path) => {
  const rec = get(emu, 'charges', path.id, 'charge');
  return html('Receipt', `<h1>Receipt</h1><p>${esc(rec.obj.amount)} ${esc(rec.obj.currency)} - ${esc(rec.obj.id)}</p>`);
});

export function matchControl(method, path) {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== method) continue;
    const params = {};
    r.names.forEach((n, i) => {
      params[n] = decodeURIComponent(m[i + 1]);
    });
    return { route: r, path: params };
  }
  return { route: null, pathMatched };
}
