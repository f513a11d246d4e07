/*
 * refunds.test.mjs - refunds through the admin API and from Stripe
 *
 * - POST /admin/api/v1/payments/{id}/refunds: full (no amount) and
 *   partial refunds booked once Stripe says succeeded (the refund.updated
 *   webhook), the payment partially_refunded then refunded, the buyer's
 *   email queued once; GET lists them;
 * - who may refund: viewer 403, support up to refund_support_limit_cent
 *   (403 refund_limit_exceeded above, also for an omitted amount whose
 *   remainder is above), finance above it; the CSRF token is required;
 * - bad input: unknown payment 404, amount <= 0 400, above the remainder
 *   409 refund_exceeds_remaining, no reason 400;
 * - 20 concurrent partial refunds summing above the amount: Tally refuses
 *   the excess itself (409) and Stripe never sees it (the emulator's
 *   request log); the rest is exact;
 * - a Dashboard refund is booked as its own refund (origin stripe), once,
 *   however often its events arrive; a Tally refund and its own webhooks
 *   count once, also when the webhooks come before Tally has Stripe's
 *   answer (matched by metadata[tally_id]);
 * - a refund that fails after it was booked: the inverse rows, and
 *   refunded_cent back.
 * All of it twice, once per refund mode of the emulator (MODES): a card
 * refund succeeded at creation (Stripe's behaviour and the emulator's
 * default; a failure comes later, from Stripe's refund-failure card
 * 4000000000005126), and asynchronous refunds (refund_async: pending,
 * then succeeded, or failed: never booked, the amount released).
 * The ledger's invariants hold at the end (assertLedger).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  all, assertErr, assertLedger, complete, craftEvent, esc, eventRow, flush, newBuyer, okCheckout, paid,
  paymentConf, postWebhook, richProduct, sql1, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { randomString, req, startStack } from './lib/stack.mjs';

const LIMIT = 1000;		/* the support role's limit per refund, usd */

/* the emulator's refund modes (tests/stripe-emulator/README.md, Refunds) */
const MODES = [
  { name: 'a card refund is succeeded at once', async: 0 },
  { name: 'asynchronous refunds: pending, then succeeded or failed', async: 1 },
];
let stack;
const admins = {};

before(async () => {
  stack = await startStack({
    name: 'refunds', stripe: true,
    conf: paymentConf({ 'currency.usd': { refund_support_limit_cent: LIMIT } }),
  });
  for (const role of ['viewer', 'support', 'finance']) {
    const pw = `${role}-${randomString(16)}`;
    await stack.createAdmin(`${role}1`, role, pw);
    const s = await stack.adminLogin(`${role}1`, pw);
    assert.equal(s.status, 200, `${role} login`);
    admins[role] = s;
  }
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) {
      await stack.emu('POST', '/__emu/webhooks/config', { duplicate: 1 });
      await flush(stack);
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

/* admin - a call as admin 's' (with its CSRF token unless csrf: false) */
function admin(s, method, path, json, { csrf = true, idem } = {}) {
  const headers = { Cookie: `tally_session=${s.cookie}` };
  if (csrf) headers['X-CSRF-Token'] = s.csrf;
  if (idem) headers['Idempotency-Key'] = idem;
  return req(stack, method, path, { headers, json, timeoutMs: 30000 });
}

function refund(s, pay, body, opts) {
  return admin(s, 'POST', `/admin/api/v1/payments/${pay}/refunds`, body, opts);
}

/* buy - a completed purchase of a product with every stakeholder, paid with 'pm' */
async function buy({ email = `b-${randomString(6).toLowerCase()}@example.test`, pm = 'pm_card_visa' } = {}) {
  const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack, { email });
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id, pm);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);			/* charge.updated: the real fee */
  return { pay: r.json.id, amount: r.json.amount_cent, charge: r.json.charge_id, email };
}

/* pay - the payment's running totals */
async function payRow(pay) {
  const [[status, refunded, requested]] = await stack.sql('SELECT status, refunded_cent, requested_refund_cent ' +
    `FROM payments WHERE id = ${esc(pay)}`);
  return { status, refunded: Number(refunded), requested: Number(requested) };
}

/* sharesSum - Σ of a payment's rows (of one kind, or all) */
function sharesSum(pay, kind) {
  return sqlNum(stack, `SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE payment_id = ${esc(pay)}` +
    (kind ? ` AND kind = ${esc(kind)}` : ''));
}

/* settled - every refund of 'pay' is booked or failed */
function settled(pay) {
  return until(async () => (await sqlNum(stack, 'SELECT COUNT(*) FROM refunds WHERE payment_id = ' +
    `${esc(pay)} AND NOT (booked = 1 OR state = 'failed')`)) === 0, `refunds of ${pay} settled`);
}

/* refundEvents - stored refund events about 'charge': {status: count} */
async function refundEvents(charge) {
  const rows = await stack.sql('SELECT status, COUNT(*) FROM webhook_events WHERE (type LIKE \'refund.%\' OR ' +
    `type LIKE 'charge.refund%') AND payload LIKE '%${charge}%' GROUP BY status`);
  return Object.fromEntries(rows.map(([s, n]) => [s, Number(n)]));
}

for (const mode of MODES) {
describe(`admin refunds (${mode.name})`, () => {
  before(() => stack.emu('POST', '/__emu/config', { refund_async: mode.async, refund_settle_delay_ms: 0 }));

  test('full refund (no amount): booked once Stripe says succeeded, payment refunded, email queued once', async () => {
    const p = await buy();
    const r = await refund(admins.finance, p.pay, { reason: 'customer asked' });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.object, 'refund');
    assert.equal(r.json.amount_cent, p.amount, 'the whole payment');
    assert.match(r.json.stripe_refund_id, /^re_/);
    if (mode.async) assert.ok(['pending', 'succeeded'].includes(r.json.state), r.json.state);
    else assert.deepEqual([r.json.state, r.json.booked], ['succeeded', true], 'Stripe answered succeeded: booked at once');
    await flush(stack);
    await settled(p.pay);
    const row = await payRow(p.pay);
    assert.deepEqual(row, { status: 'refunded', refunded: p.amount, requested: p.amount });
    assert.equal(await sharesSum(p.pay, 'refund'), -p.amount, 'the refund rows sum to minus the refund');
    assert.equal(await sharesSum(p.pay), 0, 'nothing left of the payment');
    /* Stripe keeps its fee: the talent (bearer) carries it, the Stripe-fee account keeps its share */
    assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM shares WHERE payment_id = ' +
      `${esc(p.pay)} AND role = 'STRIPE_FEE_KEPT'`), 1);
    const mail = await stack.sql(`SELECT kind, to_addr, dedupe_key FROM outbox WHERE dedupe_key = ${esc(`refund:${r.json.id}`)}`);
    assert.deepEqual(mail, [['refund', p.email, `refund:${r.json.id}`]], 'one refund email to the buyer');
    const list = await admin(admins.viewer, 'GET', `/admin/api/v1/payments/${p.pay}/refunds`);
    assert.equal(list.status, 200, list.body);
    assert.equal(list.json.object, 'list');
    assert.deepEqual(list.json.data.map((x) => [x.id, x.state, x.booked, x.origin, x.amount_cent]),
      [[r.json.id, 'succeeded', true, 'tally', p.amount]]);
    /* its own webhooks counted it once, and were processed (not ignored) */
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p.pay)}`), 1);
    const evs = await refundEvents(p.charge);
    assert.ok(evs.processed >= 2 && !evs.failed && !evs.ignored, JSON.stringify(evs));
    const again = await refund(admins.finance, p.pay, { reason: 'twice' });
    assertErr(again, 409, 'refund_exceeds_remaining', 'amount_cent', 'nothing left');
  });

  test('partial refunds: partially_refunded, then refunded', async () => {
    const p = await buy();
    const r1 = await refund(admins.finance, p.pay, { amount_cent: 1234, reason: 'partial' });
    assert.equal(r1.status, 201, r1.body);
    assert.equal(r1.json.amount_cent, 1234);
    await flush(stack);
    await settled(p.pay);
    assert.deepEqual(await payRow(p.pay), { status: 'partially_refunded', refunded: 1234, requested: 1234 });
    const r2 = await refund(admins.finance, p.pay, { reason: 'the rest' });
    assert.equal(r2.json.amount_cent, p.amount - 1234, 'the remainder');
    await flush(stack);
    await settled(p.pay);
    assert.deepEqual(await payRow(p.pay), { status: 'refunded', refunded: p.amount, requested: p.amount });
    for (const [id, amt] of [[r1.json.id, 1234], [r2.json.id, p.amount - 1234]]) {
      assert.equal(await sqlNum(stack, `SELECT SUM(amount_cent) FROM shares WHERE cause_id = ${esc(id)}`), -amt);
    }
    assert.equal(await sharesSum(p.pay), 0);
  });

  test('a double click with one Idempotency-Key refunds once; the key with another amount is 422', async () => {
    const p = await buy();
    const key = `dbl-${randomString(12)}`;
    const body = { amount_cent: 500, reason: 'double click' };
    const [a, b] = await Promise.all([
      refund(admins.finance, p.pay, body, { idem: key }),
      refund(admins.finance, p.pay, body, { idem: key }),
    ]);
    const ok = [a, b].filter((x) => x.status === 201);
    assert.ok(ok.length >= 1, `one created (${a.status} ${b.status})`);
    for (const x of [a, b]) {
      assert.ok(x.status === 201 || (x.status === 409 && x.json?.error?.code === 'idempotency_key_in_use'),
        `201 or 409 in use (${x.status} ${x.body})`);
    }
    const again = await refund(admins.finance, p.pay, body, { idem: key });
    assert.equal(again.status, 201, again.body);
    assert.equal(again.headers.get('idempotent-replayed'), 'true', 'replayed');
    assert.equal(again.json.id, ok[0].json.id, 'the same refund');
    const other = await refund(admins.finance, p.pay, { ...body, amount_cent: 600 }, { idem: key });
    assert.equal(other.status, 422, other.body);
    assert.equal(other.json.error.code, 'idempotency_key_reused');
    await flush(stack);
    await settled(p.pay);
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p.pay)}`), 1,
      'one refund');
    assert.equal((await payRow(p.pay)).refunded, 500, 'refunded once');
  });

  test('roles: viewer 403, support up to its limit, finance above; CSRF required', async () => {
    const p = await buy();
    assertErr(await refund(admins.viewer, p.pay, { amount_cent: 100, reason: 'x' }), 403, 'role_required');
    assertErr(await refund(admins.support, p.pay, { amount_cent: LIMIT + 1, reason: 'x' }), 403,
      'refund_limit_exceeded', 'amount_cent', 'support above the limit');
    assertErr(await refund(admins.support, p.pay, { reason: 'x' }), 403, 'refund_limit_exceeded', 'amount_cent',
      'support: the omitted amount is the remainder, above the limit');
    assertErr(await refund(admins.finance, p.pay, { amount_cent: 100, reason: 'x' }, { csrf: false }), 403,
      'csrf_failed');
    assert.equal((await payRow(p.pay)).requested, 0, 'nothing refused was requested');
    const ok = await refund(admins.support, p.pay, { amount_cent: LIMIT, reason: 'support, at the limit' });
    assert.equal(ok.status, 201, ok.body);
    const big = await refund(admins.finance, p.pay, { amount_cent: LIMIT + 500, reason: 'finance' });
    assert.equal(big.status, 201, big.body);
    await flush(stack);
    await settled(p.pay);
    assert.equal((await payRow(p.pay)).refunded, 2 * LIMIT + 500);
    const audit = await stack.sql(`SELECT actor_id FROM audit_log WHERE action = 'refund.create' AND object_id IN ` +
      `(${esc(ok.json.id)}, ${esc(big.json.id)}) ORDER BY id`);
    assert.equal(audit.length, 2, 'both audited with the acting admin');
  });

  test('bad input: unknown payment, amounts, reason', async () => {
    const p = await buy();
    assertErr(await refund(admins.finance, 'pay_NoSuchPaymentAtAll000', { reason: 'x' }), 404, 'resource_missing');
    assertErr(await admin(admins.finance, 'GET', '/admin/api/v1/payments/pay_NoSuchPaymentAtAll000/refunds'), 404,
      'resource_missing');
    assertErr(await refund(admins.finance, p.pay, { amount_cent: 0, reason: 'x' }), 400, 'parameter_invalid');
    assertErr(await refund(admins.finance, p.pay, { amount_cent: -5, reason: 'x' }), 400, 'parameter_invalid');
    assertErr(await refund(admins.finance, p.pay, { amount_cent: p.amount + 1, reason: 'x' }), 409,
      'refund_exceeds_remaining', 'amount_cent');
    const noReason = await refund(admins.finance, p.pay, { amount_cent: 100 });
    assert.equal(noReason.status, 400, noReason.body);
    const str = await refund(admins.finance, p.pay, { amount_cent: '100', reason: 'x' });
    assert.equal(str.status, 400, str.body);
    assert.deepEqual(await payRow(p.pay), { status: 'succeeded', refunded: 0, requested: 0 });
  });

  test('20 concurrent partial refunds above the amount: the excess refused by Tally before Stripe', async () => {
    const p = await buy();
    const each = 200;
    await stack.emu('DELETE', '/__emu/requests');
    const res = await all(20, () => refund(admins.finance, p.pay, { amount_cent: each, reason: 'concurrent' }));
    const ok = res.filter((r) => r.status === 201);
    const refused = res.filter((r) => r.status !== 201);
    const fit = Math.floor(p.amount / each);
    assert.equal(ok.length, fit, `${fit} fit in ${p.amount}: ${res.map((r) => r.status).join(',')}`);
    for (const r of refused) assertErr(r, 409, 'refund_exceeds_remaining', 'amount_cent');
    const log = (await stack.emu('GET', '/__emu/requests')).requests;
    const posts = log.filter((x) => x.method === 'POST' && x.path === '/v1/refunds');
    assert.equal(posts.length, fit, 'Stripe saw only the refunds Tally accepted');
    assert.ok(posts.every((x) => x.status === 200), 'and refused none of them');
    await flush(stack);
    await settled(p.pay);
    const row = await payRow(p.pay);
    assert.deepEqual([row.refunded, row.requested], [fit * each, fit * each]);
    for (const r of ok) {
      assert.equal(await sqlNum(stack, `SELECT SUM(amount_cent) FROM shares WHERE kind = 'refund' AND ` +
        `cause_id = ${esc(r.json.id)}`), -each, `the rows of ${r.json.id}`);
    }
    assert.equal(await sharesSum(p.pay), p.amount - fit * each, 'the shares sum to amount - refunded');
  });
});

describe(`refunds made at Stripe (${mode.name})`, () => {
  before(() => stack.emu('POST', '/__emu/config', { refund_async: mode.async, refund_settle_delay_ms: 0 }));

  test('a Dashboard refund is booked once, whatever its events do', async () => {
    const p = await buy();
    await stack.emu('POST', '/__emu/webhooks/config', { duplicate: 3 });
    let re;
    try {
      re = await stack.emu('POST', `/__emu/charges/${p.charge}/dashboard_refund`, { amount: 700 });
      await flush(stack);
    } finally {
      await stack.emu('POST', '/__emu/webhooks/config', { duplicate: 1 });
    }
    await until(async () => (await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE stripe_refund_id = ${esc(re.id)} ` +
      'AND booked = 1')) === 1, 'the Dashboard refund booked');
    const rows = await stack.sql(`SELECT id, origin, amount_cent, state FROM refunds WHERE payment_id = ${esc(p.pay)}`);
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0].slice(1), ['stripe', '700', 'succeeded']);
    assert.deepEqual(await payRow(p.pay), { status: 'partially_refunded', refunded: 700, requested: 700 });
    assert.equal(await sharesSum(p.pay, 'refund'), -700);
    /* the same refund in new events (new ids): listed again, booked nothing new */
    const obj = (await stack.stripe('GET', `/v1/refunds/${re.id}`)).json;
    const ch = (await stack.stripe('GET', `/v1/charges/${p.charge}`)).json;
    for (const ev of [craftEvent('refund.updated', obj), craftEvent('charge.refunded', ch),
      craftEvent('refund.created', obj)]) {
      const r = await postWebhook(stack, ev);
      assert.equal(r.status, 200, r.body);
      assert.equal((await eventRow(stack, ev.id)).status, 'processed');
    }
    assert.deepEqual(await payRow(p.pay), { status: 'partially_refunded', refunded: 700, requested: 700 });
    assert.equal(await sharesSum(p.pay, 'refund'), -700, 'counted once');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p.pay)}`), 1);
    const evs = await refundEvents(p.charge);
    assert.ok(!evs.failed, JSON.stringify(evs));
    /* Tally then refunds the rest: the Dashboard refund is not refundable twice */
    const rest = await refund(admins.finance, p.pay, { reason: 'rest' });
    assert.equal(rest.json.amount_cent, p.amount - 700);
    await flush(stack);
    await settled(p.pay);
    assert.deepEqual(await payRow(p.pay), { status: 'refunded', refunded: p.amount, requested: p.amount });
  });

  test('its own webhooks before Tally records the answer: found by metadata, counted once', async () => {
    const p = await buy();
    /* Stripe makes the refund and sends its events, but answers Tally 3 s later */
    await stack.emu('POST', '/__emu/faults', { method: 'POST', path: '^/v1/refunds$', mode: 'hang_after', seconds: 3 });
    let answered = false;
    const pending = refund(admins.finance, p.pay, { amount_cent: 900, reason: 'slow answer' });
    pending.then(() => { answered = true; }, () => { answered = true; });
    await until(async () => (await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p.pay)} ` +
      'AND booked = 1')) === 1, 'booked from the webhooks while Tally waits for Stripe');
    assert.equal(answered, false, 'booked before Stripe answered Tally');
    assert.equal(await sql1(stack, `SELECT IFNULL(stripe_refund_id, '') FROM refunds WHERE payment_id = ${esc(p.pay)}`) !== '',
      true, 'the webhook recorded Stripe\'s id');
    const r = await pending;
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.state, 'succeeded');
    await flush(stack);
    const rows = await stack.sql(`SELECT id, origin, stripe_refund_id FROM refunds WHERE payment_id = ${esc(p.pay)}`);
    assert.deepEqual(rows, [[r.json.id, 'tally', r.json.stripe_refund_id]], 'one refund, Tally\'s');
    assert.deepEqual(await payRow(p.pay), { status: 'partially_refunded', refunded: 900, requested: 900 });
    assert.equal(await sharesSum(p.pay, 'refund'), -900);
  });

  test('a refund that fails after it was booked: inverse rows, refunded_cent back', async () => {
    /* a card refund: Stripe's refund-failure card, succeeded at once (Tally
     * books it), failed 1.5 s later; asynchronous: pending 1.5 s,
     * succeeded 1.5 s (Tally books it), then failed */
    const p = await buy(mode.async ? {} : { pm: 'pm_card_refundFail' });
    await stack.emu('POST', '/__emu/config', { refund_settle_delay_ms: 1500 });
    if (mode.async) await stack.emu('POST', '/__emu/refunds/fail_next', { count: 1, after_success: true });
    let r;
    try {
      r = await refund(admins.finance, p.pay, { amount_cent: 1500, reason: 'will bounce' });
      assert.equal(r.status, 201, r.body);
      await until(async () => Number(await sql1(stack, `SELECT booked FROM refunds WHERE id = ${esc(r.json.id)}`)) === 1,
        'booked while Stripe said succeeded');
      await flush(stack, 20000);
    } finally {
      await stack.emu('POST', '/__emu/config', { refund_settle_delay_ms: 0 });
    }
    await until(async () => (await sql1(stack, `SELECT state FROM refunds WHERE id = ${esc(r.json.id)}`)) === 'failed',
      'the refund failed');
    const [[booked, reversed]] = await stack.sql(`SELECT booked, reversed FROM refunds WHERE id = ${esc(r.json.id)}`);
    assert.deepEqual([Number(booked), Number(reversed)], [1, 1], 'it had been booked, and is reversed');
    assert.equal(await sqlNum(stack, `SELECT SUM(amount_cent) FROM shares WHERE cause_id = ${esc(r.json.id)} ` +
      "AND kind = 'refund'"), -1500);
    const inverse = await stack.sql(`SELECT role, amount_cent FROM shares WHERE cause_id = ${esc(r.json.id)} ` +
      "AND kind = 'refund_failed' ORDER BY role");
    const fwd = await stack.sql(`SELECT role, -amount_cent FROM shares WHERE cause_id = ${esc(r.json.id)} ` +
      "AND kind = 'refund' ORDER BY role");
    assert.deepEqual(inverse, fwd, 'the inverse of each row');
    assert.deepEqual(await payRow(p.pay), { status: 'succeeded', refunded: 0, requested: 0 });
    assert.equal(await sharesSum(p.pay), p.amount, 'the payment is whole again');
    /* the same refund.failed again changes nothing */
    const obj = (await stack.stripe('GET', `/v1/refunds/${r.json.stripe_refund_id}`)).json;
    const ev = craftEvent('refund.failed', obj);
    assert.equal((await postWebhook(stack, ev)).status, 200);
    assert.equal(await sharesSum(p.pay, 'refund_failed'), 1500, 'reversed once');
    /* and it can be refunded again (a charge of the refund-failure card
     * bounces every refund: booked, then reversed again) */
    const again = await refund(admins.finance, p.pay, { amount_cent: 1500, reason: 'again' });
    assert.equal(again.status, 201, again.body);
    await flush(stack);
    if (mode.async) {
      await settled(p.pay);
      assert.deepEqual(await payRow(p.pay), { status: 'partially_refunded', refunded: 1500, requested: 1500 });
    } else {
      await until(async () => Number(await sql1(stack, `SELECT booked + reversed FROM refunds WHERE id = ` +
        `${esc(again.json.id)} AND state = 'failed'`)) === 2, 'the second refund booked, then reversed');
      assert.deepEqual(await payRow(p.pay), { status: 'succeeded', refunded: 0, requested: 0 });
      assert.equal(await sharesSum(p.pay), p.amount, 'whole again');
    }
  });

  /* a card refund is never pending: this case exists only for asynchronous refunds */
  if (mode.async) test('a refund that fails while pending: never booked, the amount released', async () => {
    const p = await buy();
    await stack.emu('POST', '/__emu/config', { refund_settle_delay_ms: 1500 });
    await stack.emu('POST', '/__emu/refunds/fail_next', { count: 1 });
    let r;
    try {
      r = await refund(admins.finance, p.pay, { amount_cent: 700, reason: 'will fail' });
      assert.equal(r.status, 201, r.body);
      assert.deepEqual([r.json.state, r.json.booked], ['pending', false], 'pending at Stripe: not booked');
      assert.deepEqual(await payRow(p.pay), { status: 'succeeded', refunded: 0, requested: 700 },
        'requested, not refunded, while pending');
      await flush(stack, 20000);
    } finally {
      await stack.emu('POST', '/__emu/config', { refund_settle_delay_ms: 0 });
    }
    await until(async () => (await sql1(stack, `SELECT state FROM refunds WHERE id = ${esc(r.json.id)}`)) === 'failed',
      'the refund failed');
    assert.equal(Number(await sql1(stack, `SELECT booked FROM refunds WHERE id = ${esc(r.json.id)}`)), 0, 'never booked');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE cause_id = ${esc(r.json.id)}`), 0, 'no rows');
    assert.deepEqual(await payRow(p.pay), { status: 'succeeded', refunded: 0, requested: 0 }, 'the amount released');
    const ok = await refund(admins.finance, p.pay, { reason: 'all of it' });
    assert.equal(ok.json.amount_cent, p.amount, 'all of it refundable again');
    await flush(stack);
    await settled(p.pay);
    assert.deepEqual(await payRow(p.pay), { status: 'refunded', refunded: p.amount, requested: p.amount });
  });
});
}
