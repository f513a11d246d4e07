/*
 * checkout_helpers.mjs - the catalog, checkout and payment vocabulary of
 * the system tests (catalog, checkout, complete, webhooks, idempotency)
 *
 * Everything goes through the public surfaces: Tally's HTTP API through
 * nginx, the Stripe emulator's /v1 API (what the buyer's browser and
 * Stripe do) and its control API, and SQL only to read the ledger (or,
 * where a test says so, to set up a state that cannot be reached
 * otherwise).
 *
 *   paymentConf(over)          a stack 'conf' for payment tests (buyer rate
 *                              limit out of the way, [pricing] etc.)
 *   server(stack, m, p, json, {idem})   a server API call (API key)
 *   newBuyer(stack, {email})   {sub, token, headers} (token from tallyctl jwt)
 *   fastBuyer(stack, {email})  the same, signed here (many buyers at once)
 *   asBuyer(stack, b, m, p, json, {idem})
 *   makeSeller(stack), makeProduct(stack, over)  catalog objects (201 asserted)
 *   checkout(stack, b, body, opts), complete(stack, b, id, opts)
 *   confirmPi(stack, pi, pm, extra)  the buyer pays at the emulator
 *   emuPis(stack, checkout), eventsFor(stack, pi, type), piOf(stack, id),
 *   flush(stack), withPausedWebhooks(stack, fn)
 *   richProduct(stack, opts)   a product with every stakeholder
 *   expectedSplit({price, qty, fee, agentBps, hostBps, ambBps})
 *   ledgerProblems(stack) / assertLedger(stack)   the invariants of the
 *                              ledger over the whole database (the latter
 *                              also runs `tallyctl check`)
 *   craftEvent(type, object, {created}) / postWebhook(stack, event, opts)
 *   eventRow, checkoutRow, stockOf, paymentsOf   rows as stored
 *   assertErr(res, status, code, param)          an error answer
 */
import assert from 'node:assert/strict';

import {
  AUDIENCE, HS_ISSUER, bearer, randomString, req, waitFor,
} from './stack.mjs';

/* paymentConf - the stack configuration the payment tests share */
export function paymentConf(over = {}) {
  const base = {
    /* many calls of one buyer at once are the point of several tests */
    ratelimit: { buyer_per_second: 5000, buyer_burst: 10000 },
    api: { workers: 4 },
  };
  for (const [k, v] of Object.entries(over)) base[k] = { ...(base[k] || {}), ...v };
  return base;
}

/* server - a call with the stack's server API key */
export async function server(stack, method, path, json, { idem, headers = {} } = {}) {
  const h = { ...bearer(await stack.apiKey()), ...headers };
  if (idem) h['Idempotency-Key'] = idem;
  return req(stack, method, path, { headers: h, json });
}

/* newBuyer - a buyer token for a fresh sub (its account appears on first use) */
export async function newBuyer(stack, { sub = `buyer-${randomString(8)}`, email } = {}) {
  const token = await stack.buyerJwt(sub, email ? { email } : {});
  return { sub, token, headers: bearer(token) };
}

/*
 * fastBuyer - the same as newBuyer, the token signed here with the stack's
 * HS256 secret (no tallyctl process: for tests that need 50 buyers)
 */
export function fastBuyer(stack, { sub = `buyer-${randomString(8)}`, email } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: HS_ISSUER, aud: AUDIENCE, sub, iat: now, exp: now + 3600 };
  if (email) claims.email = email;
  const token = stack.signJwt({ alg: 'HS256', typ: 'JWT' }, claims);
  return { sub, token, headers: bearer(token) };
}

/* asBuyer - a call as buyer 'b' */
export function asBuyer(stack, b, method, path, json, { idem, timeoutMs, headers = {} } = {}) {
  const h = { ...b.headers, ...headers };
  if (idem) h['Idempotency-Key'] = idem;
  return req(stack, method, path, { headers: h, json, timeoutMs });
}

/* created - assert a 201 of a catalog creation; its body */
function created(res, what) {
  assert.equal(res.status, 201, `${what}: ${res.status} ${res.body}`);
  return res.json;
}

/* makeAccount - a catalog account of 'kind' */
export async function makeAccount(stack, kind, extra = {}) {
  return created(await server(stack, 'POST', '/api/v1/accounts', { kind, ...extra }), `create ${kind}`);
}

export function makeSeller(stack) {
  return makeAccount(stack, 'talent', { email: `t-${randomString(6).toLowerCase()}@example.test` });
}

/* makeProduct - a product (a new talent unless seller_account_id given) */
export async function makeProduct(stack, over = {}) {
  const seller = over.seller_account_id ?? (await makeSeller(stack)).id;
  const body = {
    name: `Product ${randomString(6)}`, seller_account_id: seller, price_cent: 2500, currency: 'usd', ...over,
  };
  return created(await server(stack, 'POST', '/api/v1/products', body), 'create product');
}

/*
 * richProduct - a product whose sales have every stakeholder: a talent
 * with an ambassador (default share), an agent ('agentBps' of the
 * subtotal) and a host partner slug (default share) to name at checkout.
 * {product, slug, ids: {TALENT, AGENT, AMBASSADOR, HOST_PARTNER}}
 */
export async function richProduct(stack, { price_cent = 2520, agentBps = 1000, stock = null } = {}) {
  const talent = await makeSeller(stack);
  const agent = await makeAccount(stack, 'agent');
  const amb = await makeAccount(stack, 'ambassador');
  const host = await makeAccount(stack, 'host_partner');
  const link = await server(stack, 'POST', `/api/v1/accounts/${talent.id}/ambassador`,
    { ambassador_account_id: amb.id, active_from: Math.floor(Date.now() / 1000) - 60 });
  assert.equal(link.status, 200, link.body);
  const slug = `host-${randomString(8).toLowerCase()}`;
  created(await server(stack, 'POST', '/api/v1/host_partners', { slug, account_id: host.id }), 'host partner');
  const product = await makeProduct(stack, {
    seller_account_id: talent.id, agent_account_id: agent.id, agent_bps: agentBps, price_cent, stock,
  });
  return {
    product, slug,
    ids: { TALENT: talent.id, AGENT: agent.id, AMBASSADOR: amb.id, HOST_PARTNER: host.id },
  };
}

/* checkout - POST /api/v1/checkout as 'b' */
export function checkout(stack, b, body, opts) {
  return asBuyer(stack, b, 'POST', '/api/v1/checkout', body, opts);
}

/* okCheckout - a checkout that must succeed: its body */
export async function okCheckout(stack, b, body, opts) {
  const res = await checkout(stack, b, body, opts);
  assert.equal(res.status, 200, `checkout: ${res.status} ${res.body}`);
  return res.json;
}

/*
 * serverPayment - payment 'id' as the marketplace's server sees it, with
 * its split and fees (a buyer's completion answer has neither)
 */
export async function serverPayment(stack, id) {
  const r = await server(stack, 'GET', `/api/v1/payments/${id}`);
  assert.equal(r.status, 200, `GET /api/v1/payments/${id}: ${r.body}`);
  return r.json;
}

/* complete - POST /api/v1/payments/complete as 'b' */
export function complete(stack, b, checkoutId, opts) {
  return asBuyer(stack, b, 'POST', '/api/v1/payments/complete', { checkout_id: checkoutId }, opts);
}

/*
 * confirmPi - the buyer pays PaymentIntent 'pi' at the emulator with test
 * payment method 'pm' (what Stripe.js does): {status, json}
 */
export function confirmPi(stack, pi, pm = 'pm_card_visa', extra = {}) {
  return stack.stripe('POST', `/v1/payment_intents/${pi}/confirm`, {
    payment_method: pm, return_url: 'http://127.0.0.1/return', ...extra,
  });
}

/* paid - confirm with a card that succeeds; asserts the PaymentIntent succeeded */
export async function paid(stack, pi, pm = 'pm_card_visa') {
  const r = await confirmPi(stack, pi, pm);
  assert.equal(r.status, 200, `confirm ${pi}: ${r.status} ${JSON.stringify(r.json)}`);
  assert.equal(r.json.status, 'succeeded', `confirm ${pi}: status`);
  return r.json;
}

/* emuPis - the emulator's PaymentIntents (optionally those of one checkout) */
export async function emuPis(stack, checkoutId) {
  const all = (await stack.emu('GET', '/__emu/objects/payment_intents')).data;
  return checkoutId ? all.filter((p) => p.metadata?.checkout_id === checkoutId) : all;
}

/* emuObjects - every emulator object of 'kind' */
export async function emuObjects(stack, kind) {
  return (await stack.emu('GET', `/__emu/objects/${kind}`)).data;
}

/*
 * eventsFor - the emulator's events about PaymentIntent 'pi' (the PI's own
 * and its charges'), oldest first, optionally of one type, as delivered
 */
export async function eventsFor(stack, pi, type) {
  const evs = (await emuObjects(stack, 'events'))
    .filter((e) => e.data?.object?.id === pi || e.data?.object?.payment_intent === pi)
    .filter((e) => !type || e.type === type)
    .map(({ _owner, ...e }) => e);
  return evs.sort((a, b) => a.created - b.created);
}

/* withPausedWebhooks - run 'fn' with the emulator's deliveries paused */
export async function withPausedWebhooks(stack, fn) {
  await stack.emu('POST', '/__emu/webhooks/pause');
  try {
    return await fn();
  } finally {
    await stack.emu('POST', '/__emu/webhooks/resume');
  }
}

/* piOf - a PaymentIntent as the emulator has it now */
export async function piOf(stack, id) {
  const r = await stack.stripe('GET', `/v1/payment_intents/${id}`);
  assert.equal(r.status, 200, `GET ${id}: ${JSON.stringify(r.json)}`);
  return r.json;
}

/* flush - wait until the emulator delivered everything it has queued */
export async function flush(stack, timeoutMs = 15000) {
  const r = await stack.emu('POST', '/__emu/webhooks/flush', { timeout_ms: timeoutMs });
  assert.equal(r.flushed, true, `webhook flush: ${JSON.stringify(r)}`);
  return r;
}

/* sql1 - the first column of the first row (or null) */
export async function sql1(stack, q) {
  const rows = await stack.sql(q);
  return rows.length ? rows[0][0] : null;
}

/* sqlNum - a number from SQL */
export async function sqlNum(stack, q) {
  return Number(await sql1(stack, q));
}

/* esc - a SQL string literal for an id made by Tally or a test */
export function esc(s) {
  assert.match(String(s), /^[A-Za-z0-9_.:-]+$/, `not an id: ${s}`);
  return `'${s}'`;
}

/*
 * expectedSplit - the shares of the contract (the issue's split), as
 * {ROLE: cents}; roles with no party are absent
 */
export function expectedSplit({ price, qty = 1, fee = 500, agentBps = null, hostBps = null, ambBps = null }) {
  const sub = price * qty;
  const amount = sub + fee;
  const out = {};
  const agent = agentBps === null ? 0 : Math.floor((sub * agentBps) / 10000);
  const host = hostBps === null ? 0 : Math.floor((fee * hostBps) / 10000);
  const amb = ambBps === null ? 0 : Math.floor((fee * ambBps) / 10000);
  const stripe = Math.floor((amount * 290) / 10000) + 30;
  const platform = fee - host - amb;
  if (agentBps !== null) out.AGENT = agent;
  if (hostBps !== null) out.HOST_PARTNER = host;
  if (ambBps !== null) out.AMBASSADOR = amb;
  out.STRIPE_FEE = stripe;
  out.PLATFORM = platform;
  out.TALENT = amount - agent - host - amb - stripe - platform;
  return { amount, shares: out };
}

/* emulatorFee - the fee the emulator charges in usd: round(2.9 %) + 30 */
export function emulatorFee(amount) {
  return Math.round((amount * 290) / 10000) + 30;
}

/* splitOf - a payment's 'split' shares as {ROLE: cents} */
export function splitOf(payment, kind = 'split') {
  const out = {};
  for (const s of payment.shares) if (s.kind === kind) out[s.role] = (out[s.role] ?? 0) + s.amount_cent;
  return out;
}

/*
 * ledgerProblems - every violation of the ledger's invariants in the
 * stack's database (an empty list when it is sound):
 *  - a payment's split + fee_adjustment shares sum to its amount;
 *  - each booked refund's rows (kind 'refund', cause = the refund) sum to
 *    minus its amount, and no refund rows exist for an unbooked refund;
 *    a booked refund that failed since (reversed) has refund_failed rows
 *    summing to plus its amount, and no other has any;
 *  - refunded_cent = the booked refunds not reversed; disputed_cent = the
 *    withdrawn amounts of its disputes; all of a payment's shares sum to
 *    amount - refunded_cent - disputed_cent;
 *  - each dispute's reversal rows sum to minus its withdrawn amount, its
 *    DISPUTE_FEE rows to zero with its fee_cent on the Stripe-fee account;
 *  - no checkout has two payments; every checkout payment has a checkout,
 *    and that checkout is completed with the same PaymentIntent;
 *  - no product's stock is below zero;
 *  - payouts (docs/ledger.md): a payout that is not failed equals the sum
 *    of its rows (the transfer_reversal rows of its own reversals aside;
 *    the payable side of a reversal is paid by a later payout like any
 *    row); rows of a paid payout are paid, of an unfinished one claimed,
 *    a failed one has none; a pending row has no payout_id, a claimed or
 *    paid one has one; reversed_cent is minus the payee's
 *    transfer_reversal rows of its reversals on it; the
 *    transfer_reversal rows of each reversal sum to zero.
 */
export async function ledgerProblems(stack) {
  const problems = [];
  const add = (what, rows) => { for (const r of rows) problems.push(`${what}: ${r.join(' ')}`); };
  add('payment shares != amount', await stack.sql(
    'SELECT p.id, p.amount_cent, IFNULL(SUM(s.amount_cent), 0) FROM payments p LEFT JOIN shares s ' +
    "ON s.payment_id = p.id AND s.kind IN ('split', 'fee_adjustment') GROUP BY p.id, p.amount_cent " +
    'HAVING IFNULL(SUM(s.amount_cent), 0) <> p.amount_cent'));
  add('payment without split rows', await stack.sql(
    'SELECT p.id FROM payments p WHERE NOT EXISTS (SELECT 1 FROM shares s WHERE s.payment_id = p.id ' +
    "AND s.kind = 'split')"));
  add('negative split share', await stack.sql(
    "SELECT payment_id, role, amount_cent FROM shares WHERE kind = 'split' AND amount_cent < 0"));
  add('booked refund rows != -amount', await stack.sql(
    'SELECT r.id, r.amount_cent, IFNULL(SUM(s.amount_cent), 0) FROM refunds r LEFT JOIN shares s ' +
    "ON s.cause_id = r.id AND s.kind = 'refund' WHERE r.booked = 1 GROUP BY r.id, r.amount_cent " +
    'HAVING IFNULL(SUM(s.amount_cent), 0) <> -r.amount_cent'));
  add('refund rows of an unbooked refund', await stack.sql(
    "SELECT r.id FROM refunds r WHERE r.booked = 0 AND EXISTS (SELECT 1 FROM shares s WHERE s.kind = 'refund' " +
    'AND s.cause_id = r.id)'));
  add('refunded_cent != booked refunds', await stack.sql(
    'SELECT p.id, p.refunded_cent, IFNULL(SUM(r.amount_cent), 0) FROM payments p LEFT JOIN refunds r ' +
    'ON r.payment_id = p.id AND r.booked = 1 AND r.reversed = 0 GROUP BY p.id, p.refunded_cent ' +
    'HAVING IFNULL(SUM(r.amount_cent), 0) <> p.refunded_cent'));
  add('failed booked refund: refund_failed rows != +amount', await stack.sql(
    'SELECT r.id, r.amount_cent, IFNULL(SUM(s.amount_cent), 0) FROM refunds r LEFT JOIN shares s ' +
    "ON s.cause_id = r.id AND s.kind = 'refund_failed' WHERE r.booked = 1 GROUP BY r.id, r.amount_cent, r.reversed " +
    'HAVING IFNULL(SUM(s.amount_cent), 0) <> IF(r.reversed = 1, r.amount_cent, 0)'));
  add('payment shares != amount - refunded - disputed', await stack.sql(
    'SELECT p.id, p.amount_cent, p.refunded_cent, p.disputed_cent, IFNULL(SUM(s.amount_cent), 0) FROM payments p ' +
    'LEFT JOIN shares s ON s.payment_id = p.id GROUP BY p.id, p.amount_cent, p.refunded_cent, p.disputed_cent ' +
    'HAVING IFNULL(SUM(s.amount_cent), 0) <> p.amount_cent - p.refunded_cent - p.disputed_cent'));
  add('dispute rows != -withdrawn', await stack.sql(
    'SELECT d.id, d.withdrawn_cent, IFNULL(SUM(s.amount_cent), 0) FROM disputes d LEFT JOIN shares s ' +
    "ON s.cause_id = d.id AND s.kind IN ('dispute', 'dispute_reinstated') AND s.role <> 'DISPUTE_FEE' " +
    'GROUP BY d.id, d.withdrawn_cent HAVING IFNULL(SUM(s.amount_cent), 0) <> -d.withdrawn_cent'));
  add('dispute fee rows not a zero-sum pair of fee_cent', await stack.sql(
    'SELECT d.id, d.fee_cent, IFNULL(SUM(s.amount_cent), 0), ' +
    "IFNULL(SUM(IF(s.account_id = 'acc_stripe_fee', s.amount_cent, 0)), 0) FROM disputes d LEFT JOIN shares s " +
    "ON s.cause_id = d.id AND s.role = 'DISPUTE_FEE' GROUP BY d.id, d.fee_cent " +
    "HAVING IFNULL(SUM(s.amount_cent), 0) <> 0 OR IFNULL(SUM(IF(s.account_id = 'acc_stripe_fee', s.amount_cent, 0)), 0) <> d.fee_cent"));
  add('disputed_cent != withdrawn disputes', await stack.sql(
    'SELECT p.id, p.disputed_cent, IFNULL(SUM(d.withdrawn_cent), 0) FROM payments p LEFT JOIN disputes d ' +
    'ON d.payment_id = p.id GROUP BY p.id, p.disputed_cent HAVING IFNULL(SUM(d.withdrawn_cent), 0) <> p.disputed_cent'));
  add('checkout with two payments', await stack.sql(
    'SELECT checkout_id, COUNT(*) FROM payments WHERE checkout_id IS NOT NULL GROUP BY checkout_id HAVING COUNT(*) > 1'));
  add('payment without a checkout', await stack.sql(
    "SELECT p.id FROM payments p LEFT JOIN checkouts c ON c.id = p.checkout_id WHERE p.purpose = 'checkout' " +
    'AND c.id IS NULL'));
  add('payment of a checkout not completed / other PaymentIntent', await stack.sql(
    'SELECT p.id, c.id, c.status, c.pi_id, p.pi_id FROM payments p JOIN checkouts c ON c.id = p.checkout_id ' +
    "WHERE c.status <> 'completed' OR c.pi_id IS NULL OR c.pi_id <> p.pi_id"));
  add('completed checkout without payment', await stack.sql(
    "SELECT c.id FROM checkouts c WHERE c.status = 'completed' AND NOT EXISTS (SELECT 1 FROM payments p " +
    'WHERE p.checkout_id = c.id)'));
  add('product stock below zero', await stack.sql('SELECT id, stock FROM products WHERE stock < 0'));
  add('payout != sum of its rows', await stack.sql(
    'SELECT o.id, o.amount_cent, IFNULL(SUM(s.amount_cent), 0) FROM payouts o LEFT JOIN shares s ' +
    "ON s.payout_id = o.id AND NOT (s.kind = 'transfer_reversal' AND s.cause_id IN (SELECT t.id FROM " +
    "transfer_reversals t WHERE t.payout_id = o.id)) WHERE o.state <> 'failed' " +
    'GROUP BY o.id, o.amount_cent HAVING IFNULL(SUM(s.amount_cent), 0) <> o.amount_cent'));
  add('share status vs its payout', await stack.sql(
    "SELECT s.id, s.status, o.id, o.state FROM shares s JOIN payouts o ON o.id = s.payout_id WHERE s.kind <> " +
    "'transfer_reversal' AND NOT ((o.state = 'paid' AND s.status = 'paid') OR (o.state IN ('to_transfer', " +
    "'unknown') AND s.status = 'claimed'))"));
  add('payout_id vs status', await stack.sql(
    "SELECT id, status FROM shares WHERE (status = 'pending' AND payout_id IS NOT NULL) OR " +
    "(status IN ('claimed', 'paid') AND payout_id IS NULL)"));
  add('reversed_cent != transfer_reversal rows', await stack.sql(
    'SELECT o.id, o.reversed_cent, IFNULL(SUM(s.amount_cent), 0) FROM payouts o LEFT JOIN shares s ' +
    "ON s.payout_id = o.id AND s.kind = 'transfer_reversal' AND s.cause_id IN (SELECT t.id FROM " +
    'transfer_reversals t WHERE t.payout_id = o.id) GROUP BY o.id, o.reversed_cent ' +
    'HAVING IFNULL(SUM(s.amount_cent), 0) <> -o.reversed_cent'));
  add('transfer_reversal rows not zero-sum', await stack.sql(
    "SELECT cause_id, SUM(amount_cent) FROM shares WHERE kind = 'transfer_reversal' GROUP BY cause_id " +
    'HAVING SUM(amount_cent) <> 0'));
  return problems;
}

/*
 * assertLedger - no ledger problem (call it in after() of each file):
 * the queries above, and, independently, `tallyctl check` (core/check.c)
 * over the same database, which must exit 0 and report no violation
 */
export async function assertLedger(stack) {
  const p = await ledgerProblems(stack);
  assert.deepEqual(p, [], `ledger invariants:\n${p.join('\n')}`);
  const r = await stack.tallyctl('check');
  assert.equal(r.code, 0, `tallyctl check exited ${r.code}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /^check: [1-9]\d* checks, \d+ passed, 0 failed, 0 violations$/m, r.stderr);
}

/*
 * craftEvent - a Stripe event as the emulator would send it, for
 * signature and ordering tests (the object is usually a real one read
 * from the emulator, then altered)
 */
export function craftEvent(type, object, { created = Math.floor(Date.now() / 1000), id } = {}) {
  return {
    id: id ?? `evt_test${randomString(20)}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/*
 * postWebhook - POST 'event' (an object or a raw string) to the platform
 * endpoint (or 'connect'), signed with the stack's secret unless
 * 'signature' is given
 */
export function postWebhook(stack, event, { signature, secret, connect = false, from } = {}) {
  const payload = typeof event === 'string' ? event : JSON.stringify(event);
  const sig = signature ?? stack.signWebhook(payload, secret ?? (connect ? stack.whsecConnect : stack.whsec));
  return req(stack, 'POST', connect ? '/webhooks/stripe/connect' : '/webhooks/stripe', {
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': sig }, body: payload, from,
  });
}

/* eventRow - the stored webhook event 'id': {status, attempts, last_error, type} or null */
export async function eventRow(stack, id) {
  const rows = await stack.sql(`SELECT status, attempts, IFNULL(last_error, ''), type FROM webhook_events WHERE id = ${esc(id)}`);
  if (!rows.length) return null;
  return { status: rows[0][0], attempts: Number(rows[0][1]), last_error: rows[0][2], type: rows[0][3] };
}

/* checkoutRow - a checkout as stored */
export async function checkoutRow(stack, id) {
  const rows = await stack.sql('SELECT status, pi_state, stock_held, IFNULL(pi_id, \'\'), quantity, product_id ' +
    `FROM checkouts WHERE id = ${esc(id)}`);
  if (!rows.length) return null;
  const [status, pi_state, stock_held, pi_id, quantity, product_id] = rows[0];
  return { status, pi_state, stock_held: Number(stock_held), pi_id, quantity: Number(quantity), product_id };
}

/* stockOf - a product's stock (null: unlimited) */
export async function stockOf(stack, productId) {
  const v = await sql1(stack, `SELECT IFNULL(stock, -1) FROM products WHERE id = ${esc(productId)}`);
  return Number(v) < 0 ? null : Number(v);
}

/* paymentsOf - payment rows of a checkout */
export async function paymentsOf(stack, checkoutId) {
  return stack.sql(`SELECT id, status, completed_via, amount_cent FROM payments WHERE checkout_id = ${esc(checkoutId)}`);
}

/* until - waitFor with the tests' defaults */
export function until(fn, what, timeoutMs = 15000) {
  return waitFor(fn, { timeoutMs, interval: 100, what });
}

/* errOf - the error object of an error answer ({} when there is none) */
export function errOf(res) {
  return res.json?.error ?? {};
}

/* assertErr - status and code (and param when given) of an error answer */
export function assertErr(res, status, code, param, what = '') {
  assert.equal(res.status, status, `${what} status (${res.body})`);
  assert.equal(errOf(res).code, code, `${what} code (${res.body})`);
  if (param !== undefined) assert.equal(errOf(res).param, param, `${what} param (${res.body})`);
}

/* all - 'n' calls of fn(i) at once; their results in order */
export function all(n, fn) {
  return Promise.all(Array.from({ length: n }, (_, i) => fn(i)));
}

export { randomString };
