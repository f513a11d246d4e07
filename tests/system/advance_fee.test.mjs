/*
 * advance_fee.test.mjs - Stripe's real fee arrives after an advance was
 * offset (core/advance.c tly_advance_refee, docs/ledger.md "Advances") on
 * the real stack.  Each payment is completed by its
 * payment_intent.succeeded event alone (asynchronous capture: no balance
 * transaction yet, so the estimate is booked and offset), then its
 * charge.updated brings the fee, set at the emulator per test:
 * - a fee larger than the estimate: the payee owes nothing back from the
 *   payment; the offset gives the difference back to the advance, newest
 *   advance first (across two advances); a full refund then returns the
 *   whole offset;
 * - a fee smaller than the estimate: the larger earning offsets more,
 *   oldest advance first, then an advance the completion did not touch;
 *   the payout pays nothing extra; a full refund returns every cent;
 * - a partial refund booked before the fee: the new base O' and what is
 *   still offset follow T(C) = O' - floor(O' × C / A); the full refund
 *   then returns the rest.
 * assertLedger (tallyctl check, with its advance_payment check) after
 * each step.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
  assertLedger, esc, eventsFor, expectedSplit, flush, makeAccount, makeProduct, newBuyer, okCheckout, paid,
  paymentConf, paymentsOf, postWebhook, server, sql1, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { run } from './lib/proc.mjs';
import { BIN, randomString, req, startStack } from './lib/stack.mjs';

let stack;
let finance;

const PRICE = 1000;
const EST = expectedSplit({ price: PRICE }).shares.STRIPE_FEE;	/* Tally's estimate */

before(async () => {
  stack = await startStack({
    name: 'advance-fee', stripe: true,
    conf: paymentConf({ payouts: { hold_days: 0, lease: 2 } }),
  });
  const pw = `finance-${randomString(16)}`;
  await stack.createAdmin('finance1', 'finance', pw);
  finance = await stack.adminLogin('finance1', pw);
  assert.equal(finance.status, 200, 'finance login');
  await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 10000000, pending: 0 });
});
afterEach(async (t) => {
  stack?.noteTest(t);
  await stack?.emu('POST', '/__emu/webhooks/config', { drop: false });
});
after(async () => {
  try {
    if (stack) {
      await stack.emu('POST', '/__emu/webhooks/config', { drop: false });
      await flush(stack);
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

function admin(method, p, json) {
  return req(stack, method, p, {
    headers: { Cookie: `tally_session=${finance.cookie}`, 'X-CSRF-Token': finance.csrf }, json, timeoutMs: 60000,
  });
}

/* onboarded - a talent made through the API, connected and onboarded */
async function onboarded(extra = {}) {
  const a = await makeAccount(stack, 'talent', extra);
  const c = await server(stack, 'POST', `/api/v1/accounts/${a.id}/connect`);
  assert.equal(c.status, 200, c.body);
  await stack.emu('POST', `/__emu/accounts/${c.json.connect_account_id}/complete_onboarding`);
  await until(async () => (await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(a.id)}`)) === '1',
    'payouts_enabled after onboarding');
  return a;
}

async function grant(acc, amount) {
  const r = await admin('POST', '/admin/api/v1/advances', { account_id: acc, amount_cent: amount, note: 'fee' });
  assert.equal(r.status, 201, r.body);
  assert.equal(r.json.state, 'transferred');
  return r.json.id;
}

/* offsetOf - an advance's offset_cent */
function offsetOf(adv) {
  return sqlNum(stack, `SELECT offset_cent FROM advances WHERE id = ${esc(adv)}`);
}

/* inPay - Σ of payment 'pay''s rows of account 'acc' ('where': more conditions) */
function inPay(pay, acc, where = '1') {
  return sqlNum(stack, `SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE payment_id = ${esc(pay)} AND ` +
    `account_id = ${esc(acc)} AND ${where}`);
}

/* offsetIn - what payment 'pay' still offsets of advance 'adv' (>= 0) */
async function offsetIn(pay, acc, adv) {
  return 0 - (await inPay(pay, acc, `role = 'ADVANCE_OFFSET' AND cause_id = ${esc(adv)}`));
}

/* rowsOf - the payee's ADVANCE_OFFSET rows of 'pay' as "kind cause amount", in order */
async function rowsOf(pay, acc) {
  return (await stack.sql('SELECT kind, cause_id, amount_cent FROM shares WHERE payment_id = ' +
    `${esc(pay)} AND account_id = ${esc(acc)} AND role = 'ADVANCE_OFFSET' ORDER BY id`)).map((r) => r.join(' '));
}

async function balanceOf(acc) {
  const r = await server(stack, 'GET', `/api/v1/accounts/${acc}/balance`);
  assert.equal(r.status, 200, r.body);
  const [b] = r.json.balances.filter((x) => x.currency === 'usd');
  return b;
}

/*
 * lateFee - a purchase of 'product' whose fee at Stripe will be 'fee':
 * completed by its payment_intent.succeeded event alone (events are
 * dropped meanwhile: this test delivers them).  {pay, updated}: the
 * payment and its charge.updated event, not delivered yet.
 */
async function lateFee(product, fee) {
  await stack.emu('POST', '/__emu/webhooks/config', { drop: true });
  await stack.emu('POST', '/__emu/fees', { currency: 'usd', percent_bps: 0, fixed: fee });
  let pi;
  try {
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: product.id });
    pi = c.payment_intent_id;
    await paid(stack, pi);
    const updated = await until(async () => (await eventsFor(stack, pi, 'charge.updated'))[0],
      'the asynchronous capture\'s charge.updated');
    const [succeeded] = await eventsFor(stack, pi, 'payment_intent.succeeded');
    const r = await postWebhook(stack, succeeded);
    assert.deepEqual([r.status, r.json.status], [200, 'processed'], r.body);
    const [[pay]] = await paymentsOf(stack, c.id);
    assert.equal(await sqlNum(stack, 'SELECT stripe_fee_actual_cent IS NULL FROM payments WHERE id = ' +
      `${esc(pay)}`), 1, 'the fee is not known at completion');
    return { pay, updated };
  } finally {
    await stack.emu('POST', '/__emu/fees', { currency: 'usd', percent_bps: 290, fixed: 30 });
  }
}

/* settle - deliver charge.updated: the real fee is booked; later events are delivered again */
async function settle(pay, updated, fee) {
  const r = await postWebhook(stack, updated);
  assert.deepEqual([r.status, r.json.status], [200, 'processed'], r.body);
  await stack.emu('POST', '/__emu/webhooks/config', { drop: false });
  assert.deepEqual(await stack.sql('SELECT stripe_fee_estimate_cent, stripe_fee_actual_cent FROM payments WHERE ' +
    `id = ${esc(pay)}`), [[String(EST), String(fee)]]);
}

/* refund - an admin refund of 'pay' ('amount', or the rest), booked */
async function refund(pay, amount) {
  const r = await admin('POST', `/admin/api/v1/payments/${pay}/refunds`,
    amount ? { amount_cent: amount, reason: 'test' } : { reason: 'test' });
  assert.equal(r.status, 201, r.body);
  await until(async () => (await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(pay)} AND ` +
    'booked = 0')) === 0, 'the refund booked');
}

/* payoutsRun - one `tallyctl payouts run` */
async function payoutsRun() {
  const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'payouts', 'run'], { timeoutMs: 120000 });
  assert.equal(r.code, 0, `tallyctl payouts run: ${r.stderr}`);
  return r;
}

describe('the real fee after an advance offset', () => {
  test('a fee larger than the estimate: the offset gives the difference back, newest advance first', async () => {
    const t = await onboarded();
    const product = await makeProduct(stack, { seller_account_id: t.id, price_cent: PRICE });
    const a1 = await grant(t.id, 300);
    const a2 = await grant(t.id, 5000);
    const fee = EST + 701;
    const { pay, updated } = await lateFee(product, fee);
    const e0 = await inPay(pay, t.id, "kind = 'split'");
    assert.ok(e0 - 300 < 701 && 701 < e0, `earning ${e0}: the give-back must cross from a2 into a1`);
    assert.deepEqual([await offsetIn(pay, t.id, a1), await offsetIn(pay, t.id, a2)], [300, e0 - 300],
      'the completion offsets the whole estimated earning, oldest advance first');
    await assertLedger(stack);

    await settle(pay, updated, fee);
    /* the earning is e0 - 701: a2 (the newest) gives back all it took, a1 the rest */
    assert.deepEqual([await offsetIn(pay, t.id, a1), await offsetIn(pay, t.id, a2)], [e0 - 701, 0]);
    assert.deepEqual([await offsetOf(a1), await offsetOf(a2)], [e0 - 701, 0], 'the advances grew back');
    assert.deepEqual(await rowsOf(pay, t.id), [`advance_offset ${a1} -300`, `advance_offset ${a2} ${-(e0 - 300)}`,
      `advance_fee ${a1} ${300 - (e0 - 701)}`, `advance_fee ${a2} ${e0 - 300}`]);
    assert.equal(await inPay(pay, t.id), 0, 'the payee owes nothing back from this payment');
    const b = await balanceOf(t.id);
    assert.deepEqual([b.payable_cent, b.owed_back_cent, b.advance_balance_cent], [0, 0, 5300 - (e0 - 701)]);
    await assertLedger(stack);

    /* a second charge.updated changes nothing */
    const r = await postWebhook(stack, { ...updated, id: `evt_again${randomString(16)}` });
    assert.equal(r.status, 200, r.body);
    assert.equal((await rowsOf(pay, t.id)).length, 4);

    await refund(pay, null);
    assert.deepEqual([await offsetIn(pay, t.id, a1), await offsetIn(pay, t.id, a2)], [0, 0]);
    assert.deepEqual([await offsetOf(a1), await offsetOf(a2)], [0, 0], 'the advances are back to before the payment');
    await assertLedger(stack);
  });

  test('a fee smaller than the estimate: the larger earning offsets more, oldest first; no payout of it', async () => {
    const t = await onboarded({ payout_threshold_cent: 10 });
    const product = await makeProduct(stack, { seller_account_id: t.id, price_cent: PRICE });
    const fee = 3;
    const d = EST - fee;		/* the earning grows by d */
    const probe = expectedSplit({ price: PRICE }).shares.TALENT;
    /* a1 leaves room for part of d only; a2 is not touched at completion */
    const a1 = await grant(t.id, probe + 20);
    const a2 = await grant(t.id, 5000);
    const { pay, updated } = await lateFee(product, fee);
    const e0 = await inPay(pay, t.id, "kind = 'split'");
    assert.equal(e0, probe);
    assert.deepEqual([await offsetIn(pay, t.id, a1), await offsetIn(pay, t.id, a2)], [e0, 0]);
    await assertLedger(stack);

    await settle(pay, updated, fee);
    assert.deepEqual([await offsetIn(pay, t.id, a1), await offsetIn(pay, t.id, a2)], [e0 + 20, d - 20],
      'a1 up to what it had left, then a2');
    assert.deepEqual([await offsetOf(a1), await offsetOf(a2)], [e0 + 20, d - 20], 'the advances shrank by d');
    assert.deepEqual(await rowsOf(pay, t.id), [`advance_offset ${a1} ${-e0}`, `advance_fee ${a1} -20`,
      `advance_fee ${a2} ${-(d - 20)}`]);
    assert.equal(await inPay(pay, t.id), 0, 'nothing of this payment is left to pay');
    await payoutsRun();
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM payouts WHERE account_id = ${esc(t.id)}`), 0,
      'the payout pays nothing extra');
    await assertLedger(stack);

    await refund(pay, null);
    assert.deepEqual([await offsetIn(pay, t.id, a1), await offsetIn(pay, t.id, a2)], [0, 0]);
    assert.deepEqual([await offsetOf(a1), await offsetOf(a2)], [0, 0], 'every cent back, none stranded');
    await assertLedger(stack);
  });

  test('a partial refund before the fee: the offset follows T(C) on the new base; the full refund returns it all', async (tc) => {
    /* refunds pending at Stripe (asynchronous): the settlement's event books them */
    await stack.emu('POST', '/__emu/config', { refund_async: 1 });
    tc.after(() => stack.emu('POST', '/__emu/config', { refund_async: 0 }));
    const t = await onboarded();
    const product = await makeProduct(stack, { seller_account_id: t.id, price_cent: PRICE });
    const adv = await grant(t.id, 5000);
    const fee = EST + 201;
    const { pay, updated } = await lateFee(product, fee);
    const A = await sqlNum(stack, `SELECT amount_cent FROM payments WHERE id = ${esc(pay)}`);
    const O = await inPay(pay, t.id, "kind = 'split'");
    assert.equal(await offsetIn(pay, t.id, adv), O);
    /* the refund is pending at Stripe: its settlement's event (dropped) books it */
    const r = await admin('POST', `/admin/api/v1/payments/${pay}/refunds`, { amount_cent: 333, reason: 'test' });
    assert.equal(r.status, 201, r.body);
    const pi = await sql1(stack, `SELECT pi_id FROM payments WHERE id = ${esc(pay)}`);
    const ev = await until(async () => (await eventsFor(stack, pi, 'refund.updated'))
      .find((e) => e.data.object.status === 'succeeded'), 'the refund\'s settlement');
    const rr = await postWebhook(stack, ev);
    assert.equal(rr.status, 200, rr.body);
    await until(async () => (await sqlNum(stack, `SELECT refunded_cent FROM payments WHERE id = ${esc(pay)}`)) === 333,
      'the refund booked');
    const N = O - Math.floor((O * 333) / A);
    assert.equal(await offsetIn(pay, t.id, adv), N);

    await settle(pay, updated, fee);
    const O2 = O - 201;
    const N2 = Math.min(N, O2 - Math.floor((O2 * 333) / A));
    assert.ok(N2 < N);
    assert.equal(await offsetIn(pay, t.id, adv), N2, 'min(N, T\'(C)) on the new base O\' = O - 201');
    assert.equal(await offsetOf(adv), N2);
    assert.deepEqual(await rowsOf(pay, t.id), [`advance_offset ${adv} ${-O}`, `advance_return ${adv} ${O - N}`,
      `advance_fee ${adv} 201`, `advance_return ${adv} ${-(201 - (N - N2))}`]);
    await assertLedger(stack);

    await refund(pay, null);
    assert.equal(await offsetIn(pay, t.id, adv), 0, 'the whole offset is back at a full refund');
    assert.equal(await offsetOf(adv), 0);
    await assertLedger(stack);
  });
});
