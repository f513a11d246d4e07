/*
 * negative_share.test.mjs - a negative net share in the reversal engine
 * (core/ledger.c, docs/ledger.md "Reversals") on the real stack.  With
 * [pricing] stripe_fee_payer = platform and the emulator's real Stripe fee
 * set far above Tally's estimate, the fee adjustment makes the platform's
 * net share of a payment negative.  Refunds of that payment must still be
 * booked, exactly: a partial refund, then the rest.  Each refund's rows
 * sum to minus it, the platform (whose share is negative) receives its
 * proportion back, Stripe's kept fee is charged to the platform, the
 * talent's payable balance is its share less what was reversed, and after
 * the full refund every stakeholder's share is exactly zero (the platform
 * is left with minus the fee Stripe kept).
 * assertLedger (tallyctl check) after each test.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertLedger, complete, esc, flush, makeAccount, makeProduct, newBuyer, okCheckout, paid,
  paymentConf, server, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { randomString, req, startStack } from './lib/stack.mjs';

let stack;
let finance;

const PRICE = 1000;		/* amount 1500 with the usd platform fee of 500 */

before(async () => {
  stack = await startStack({
    name: 'negative-share', stripe: true,
    conf: paymentConf({ pricing: { stripe_fee_payer: 'platform' }, payouts: { hold_days: 0 } }),
  });
  const pw = `finance-${randomString(16)}`;
  await stack.createAdmin('finance1', 'finance', pw);
  finance = await stack.adminLogin('finance1', pw);
  assert.equal(finance.status, 200, 'finance login');
});
afterEach(async (t) => {
  stack?.noteTest(t);
  if (stack) {
    await flush(stack);
    await assertLedger(stack);
  }
});
after(async () => {
  await stack?.emu('POST', '/__emu/fees', { currency: 'usd', percent_bps: 290, fixed: 30 });
  await stack?.stop();
});

/* refund - an admin refund of 'amount' of 'pay': the answer */
function refund(pay, amount) {
  return req(stack, 'POST', `/admin/api/v1/payments/${pay}/refunds`, {
    headers: { Cookie: `tally_session=${finance.cookie}`, 'X-CSRF-Token': finance.csrf },
    json: { reason: 'requested_by_customer', amount_cent: amount }, timeoutMs: 30000,
  });
}

/* net - Σ of a payment's rows of 'acc' and 'role' of the kinds 'kinds' */
function net(pay, acc, role, kinds) {
  return sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `payment_id = ${esc(pay)} AND account_id = ${esc(acc)} AND role = ${esc(role)} AND kind IN ` +
    `(${kinds.map(esc).join(', ')})`);
}

/* trunc - the reversal engine's proportion: S × C / A rounded toward zero (BigInt) */
function trunc(s, c, a) {
  return Number(BigInt(s) * BigInt(c) / BigInt(a));
}

test('the platform bears a fee above its share: refunds of the payment are booked, exactly', async () => {
  /* the real fee: 50 % + 30, far above the estimate 2.9 % + 30 */
  await stack.emu('POST', '/__emu/fees', { currency: 'usd', percent_bps: 5000, fixed: 30 });
  const talent = await makeAccount(stack, 'talent', { email: `t-${randomString(6)}@example.test` });
  const product = await makeProduct(stack, { seller_account_id: talent.id, price_cent: PRICE });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id });
  await paid(stack, c.payment_intent_id);
  const done = await complete(stack, b, c.id);
  assert.equal(done.status, 200, done.body);
  const pay = done.json.id;
  const A = done.json.amount_cent;
  await flush(stack);
  await until(async () => (await sqlNum(stack, 'SELECT COUNT(*) FROM payments WHERE id = ' +
    `${esc(pay)} AND stripe_fee_actual_cent IS NOT NULL`)) === 1, 'the real fee known');

  const F = await net(pay, 'acc_stripe_fee', 'STRIPE_FEE', ['split', 'fee_adjustment']);
  const P = await net(pay, 'acc_platform', 'PLATFORM', ['split', 'fee_adjustment']);
  const T = await net(pay, talent.id, 'TALENT', ['split', 'fee_adjustment']);
  assert.equal(A, 1500);
  assert.equal(F, 780, 'the real fee: 750 + 30');
  assert.equal(T, 1000, 'the talent bears no fee');
  assert.equal(P, 500 - F, 'the platform\'s net share is negative');
  assert.ok(P < 0);

  /* a partial refund */
  const C1 = 600;
  const r1 = await refund(pay, C1);
  assert.equal(r1.status, 201, r1.body);
  await until(async () => (await sqlNum(stack, `SELECT refunded_cent FROM payments WHERE id = ${esc(pay)}`)) === C1,
    'the first refund booked');
  const refundOf = (acc, role) => net(pay, acc, role, ['refund']);
  const plat1 = await refundOf('acc_platform', 'PLATFORM');
  const kept1 = await refundOf('acc_platform', 'STRIPE_FEE_KEPT');
  const tal1 = await refundOf(talent.id, 'TALENT');
  assert.equal(plat1, -trunc(P, C1, A), 'the platform receives its proportion of its negative share');
  assert.ok(plat1 > 0);
  assert.equal(kept1, -trunc(F, C1, A), 'Stripe keeps its fee: charged to the platform');
  assert.equal(plat1 + kept1 + tal1, -C1, 'the rows sum to minus the refund');
  const bal1 = await server(stack, 'GET', `/api/v1/accounts/${talent.id}/balance`);
  assert.equal(bal1.status, 200, bal1.body);
  const usd1 = bal1.json.balances.find((x) => x.currency === 'usd');
  assert.equal(usd1.payable_cent, T + tal1, `the talent's payable balance (${JSON.stringify(usd1)})`);

  /* the rest */
  const r2 = await refund(pay, A - C1);
  assert.equal(r2.status, 201, r2.body);
  await until(async () => (await sqlNum(stack, `SELECT refunded_cent FROM payments WHERE id = ${esc(pay)}`)) === A,
    'the second refund booked');
  assert.equal(await net(pay, 'acc_platform', 'PLATFORM', ['split', 'fee_adjustment', 'refund']), 0,
    'the platform\'s share is exactly zero');
  assert.equal(await net(pay, talent.id, 'TALENT', ['split', 'fee_adjustment', 'refund']), 0,
    'the talent\'s share is exactly zero');
  assert.equal(await refundOf('acc_platform', 'STRIPE_FEE_KEPT'), -F, 'the platform pays the whole kept fee');
  assert.equal(await sqlNum(stack, `SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE payment_id = ${esc(pay)}`), 0);
  const bal2 = await server(stack, 'GET', `/api/v1/accounts/${talent.id}/balance`);
  const usd2 = bal2.json.balances.find((x) => x.currency === 'usd');
  assert.equal(usd2.payable_cent, 0);
  assert.equal(usd2.owed_back_cent, 0);
  assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM refunds WHERE payment_id = ' +
    `${esc(pay)} AND state = 'succeeded' AND booked = 1`), 2);
});
