/*
 * refund_hold.test.mjs - money being refunded is not paid out (core/payout.h
 * TLY_ELIGIBLE_SQL, docs/ledger.md "Payable balance") on the real stack,
 * real purchases, admin refunds and payout runs at the Stripe emulator.
 * Refunds are asynchronous at the emulator here (refund_async: a card
 * refund would be succeeded at once): it keeps a refund 'pending' for
 * refund_settle_delay_ms (POST /__emu/config) before it succeeds, or
 * fails (fail_next):
 * - a refund pending at Stripe: a payouts run does not pay the payment's
 *   earning; once the refund succeeded and is booked, the next run pays
 *   the earning less the refund's reversal;
 * - a refund pending at Stripe that then fails: nothing paid meanwhile;
 *   once it failed, the next run pays the whole earning;
 * - an oversold payment (booked refund_pending, its automatic refund
 *   pending at Stripe): a payouts run pays the seller's other sale, not
 *   the oversold one.
 * assertLedger (tallyctl check) after each test.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
  assertLedger, complete, esc, flush, makeAccount, makeProduct, newBuyer, okCheckout, paid,
  paymentConf, paymentsOf, server, sql1, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { run } from './lib/proc.mjs';
import { BIN, randomString, req, startStack } from './lib/stack.mjs';

let stack;
let finance;

/* how long the emulator keeps a refund pending: long enough for a run */
const PENDING_MS = 8000;

before(async () => {
  stack = await startStack({
    name: 'refund-hold', stripe: true,
    conf: paymentConf({ payouts: { hold_days: 0, lease: 2 } }),
  });
  const pw = `finance-${randomString(16)}`;
  await stack.createAdmin('finance1', 'finance', pw);
  finance = await stack.adminLogin('finance1', pw);
  assert.equal(finance.status, 200, 'finance login');
  await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 100000000, pending: 0 });
  await stack.emu('POST', '/__emu/config', { refund_async: 1 });
});
afterEach(async (t) => {
  stack?.noteTest(t);
  if (stack) {
    await stack.emu('POST', '/__emu/config', { refund_settle_delay_ms: 0 });
    await flush(stack, 30000);
    await assertLedger(stack);
  }
});
after(async () => {
  await stack?.stop();
});

/* payoutsRun - one `tallyctl payouts run`: {paid, stderr} */
async function payoutsRun() {
  const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'payouts', 'run'],
    { timeoutMs: 120000 });
  assert.equal(r.code, 0, `tallyctl payouts run: ${r.stderr}`);
  const m = /paid (\d+)/.exec(r.stdout);
  assert.ok(m, `tallyctl output: ${r.stdout}`);
  return { paid: Number(m[1]), stderr: r.stderr };
}

/* onboarded - a talent with a connected account, onboarded */
async function onboarded() {
  const a = await makeAccount(stack, 'talent', { email: `t-${randomString(6)}@example.test` });
  const c = await server(stack, 'POST', `/api/v1/accounts/${a.id}/connect`);
  assert.equal(c.status, 200, c.body);
  await stack.emu('POST', `/__emu/accounts/${c.json.connect_account_id}/complete_onboarding`);
  await until(async () => (await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(a.id)}`)) === '1',
    'payouts_enabled');
  return a;
}

/* sale - a completed purchase of 'talent' at 'price': {pay, earned} */
async function sale(talent, price) {
  const product = await makeProduct(stack, { seller_account_id: talent.id, price_cent: price });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);			/* charge.updated: the real fee */
  const earned = await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `payment_id = ${esc(r.json.id)} AND account_id = ${esc(talent.id)}`);
  return { pay: r.json.id, earned };
}

/* refund - an admin refund of 'amount' of 'pay', left pending at Stripe */
async function pendingRefund(pay, amount) {
  await stack.emu('POST', '/__emu/config', { refund_settle_delay_ms: PENDING_MS });
  const r = await req(stack, 'POST', `/admin/api/v1/payments/${pay}/refunds`, {
    headers: { Cookie: `tally_session=${finance.cookie}`, 'X-CSRF-Token': finance.csrf },
    json: { reason: 'requested_by_customer', amount_cent: amount }, timeoutMs: 30000,
  });
  assert.equal(r.status, 201, r.body);
  assert.equal(r.json.state, 'pending', 'pending at Stripe');
  return r.json.id;
}

const refundState = (id) => sql1(stack, `SELECT state FROM refunds WHERE id = ${esc(id)}`);

/* paidTo - Σ of the talent's paid payouts */
const paidTo = (acc) => sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM payouts WHERE ' +
  `account_id = ${esc(acc)} AND state = 'paid'`);

test('a refund pending at Stripe holds the payment\'s earning; once booked, the rest is paid', async () => {
  const talent = await onboarded();
  const { pay, earned } = await sale(talent, 20000);
  const rfd = await pendingRefund(pay, 5000);

  const r1 = await payoutsRun();
  assert.equal(await refundState(rfd), 'pending', 'the run happened while the refund was pending');
  assert.equal(r1.paid, 0, `nothing paid while the refund is pending: ${r1.stderr}`);
  assert.equal(await paidTo(talent.id), 0, 'the earning is held');

  await until(async () => (await sqlNum(stack, `SELECT booked FROM refunds WHERE id = ${esc(rfd)}`)) === 1,
    'the refund succeeded and is booked', 30000);
  const reversed = await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `cause_id = ${esc(rfd)} AND account_id = ${esc(talent.id)}`);
  assert.ok(reversed < 0);
  const r2 = await payoutsRun();
  assert.equal(r2.paid, 1, r2.stderr);
  assert.equal(await paidTo(talent.id), earned + reversed, 'the earning less the refund\'s reversal');
  const bal = await server(stack, 'GET', `/api/v1/accounts/${talent.id}/balance`);
  const usd = bal.json.balances.find((x) => x.currency === 'usd');
  assert.equal(usd.owed_back_cent, 0, JSON.stringify(usd));
  assert.equal(usd.payable_cent, 0, JSON.stringify(usd));
});

test('a refund pending at Stripe that fails: held meanwhile, then the whole earning is paid', async () => {
  const talent = await onboarded();
  const { pay, earned } = await sale(talent, 20000);
  await stack.emu('POST', '/__emu/refunds/fail_next', { count: 1 });
  const rfd = await pendingRefund(pay, 7000);

  const r1 = await payoutsRun();
  assert.equal(await refundState(rfd), 'pending', 'the run happened while the refund was pending');
  assert.equal(r1.paid, 0, `nothing paid while the refund is pending: ${r1.stderr}`);

  await until(async () => (await refundState(rfd)) === 'failed', 'the refund failed', 30000);
  const r2 = await payoutsRun();
  assert.equal(r2.paid, 1, r2.stderr);
  assert.equal(await paidTo(talent.id), earned, 'the whole earning');
});

test('an oversold payment is not paid out while its refund is pending', async () => {
  const talent = await onboarded();
  const product = await makeProduct(stack, { seller_account_id: talent.id, price_cent: 20000, stock: 1 });
  const a = await newBuyer(stack);
  const b = await newBuyer(stack);
  const ca = await okCheckout(stack, a, { product_id: product.id });
  /* a bug elsewhere released A's unit although its PaymentIntent lives on (as in complete.test.mjs) */
  await stack.sql(`UPDATE checkouts SET status = 'expired', open_key = NULL, stock_held = 0, pi_state = 'canceled' ` +
    `WHERE id = ${esc(ca.id)}; UPDATE products SET stock = stock + 1 WHERE id = ${esc(product.id)}`);
  /* B buys the last unit and pays: a real sale */
  const cb = await okCheckout(stack, b, { product_id: product.id });
  await paid(stack, cb.payment_intent_id);
  const rb = await complete(stack, b, cb.id);
  assert.equal(rb.status, 200, rb.body);
  await flush(stack);
  const earnedB = await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `payment_id = ${esc(rb.json.id)} AND account_id = ${esc(talent.id)}`);
  /* A's PaymentIntent is paid now: booked refund_pending, refunded automatically (kept pending at Stripe) */
  await stack.emu('POST', '/__emu/config', { refund_settle_delay_ms: 20000 });
  await paid(stack, ca.payment_intent_id);
  const [payA] = await until(async () => {
    const r = await paymentsOf(stack, ca.id);
    return r.length ? r : null;
  }, 'A\'s payment to be booked');
  await until(async () => (await sql1(stack, 'SELECT IFNULL(MAX(stripe_refund_id), \'\') FROM refunds WHERE ' +
    `payment_id = ${esc(payA[0])}`)) !== '', 'the oversold refund created at Stripe');
  assert.equal(await sql1(stack, `SELECT status FROM payments WHERE id = ${esc(payA[0])}`), 'refund_pending',
    'oversold, not refunded yet');
  assert.equal(await sqlNum(stack, `SELECT refunded_cent FROM payments WHERE id = ${esc(payA[0])}`), 0);
  const earnedA = await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `payment_id = ${esc(payA[0])} AND account_id = ${esc(talent.id)}`);
  assert.ok(earnedA > 0, 'the oversold payment has its split rows');
  /* its negative rows (a fee adjustment) are netted at once, as every negative row is */
  const negativeA = await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `payment_id = ${esc(payA[0])} AND account_id = ${esc(talent.id)} AND amount_cent < 0`);

  const r = await payoutsRun();
  assert.equal(r.paid, 1, r.stderr);
  assert.equal(await paidTo(talent.id), earnedB + negativeA, 'only the real sale is paid, not the oversold one');
});
