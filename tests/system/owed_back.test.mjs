/*
 * owed_back.test.mjs - a refund after the payout (issue 6, docs/ledger.md):
 * real purchases of an onboarded talent's product, a real payout run at
 * the Stripe emulator, then an admin refund of the paid-out payment.  The
 * talent's reversal rows cannot reduce rows that were already paid, so
 * they stay pending: the talent owes that amount back (the balance says
 * so, and the next payout run pays nothing), and the next earnings are
 * netted against it first — the next payout is exactly new earnings minus
 * what was owed, and claims the negative rows so they are offset once.
 * The ledger's invariants hold at the end (assertLedger: tallyctl check).
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
  assertLedger, complete, esc, flush, makeAccount, makeProduct, newBuyer, okCheckout, paid, paymentConf, server,
  sql1, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { run } from './lib/proc.mjs';
import { BIN, randomString, req, startStack } from './lib/stack.mjs';

let stack;
let finance;

before(async () => {
  stack = await startStack({
    name: 'owed-back', stripe: true,
    conf: paymentConf({ payouts: { hold_days: 0 } }),
  });
  const pw = `finance-${randomString(16)}`;
  await stack.createAdmin('finance1', 'finance', pw);
  finance = await stack.adminLogin('finance1', pw);
  assert.equal(finance.status, 200, 'finance login');
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) {
      await flush(stack);
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

/* payoutsRun - one `tallyctl payouts run`: its "paid N" count */
async function payoutsRun() {
  const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'payouts', 'run'],
    { timeoutMs: 60000 });
  assert.equal(r.code, 0, `tallyctl payouts run: ${r.stderr}`);
  const m = /paid (\d+)/.exec(r.stdout);
  assert.ok(m, `tallyctl output: ${r.stdout}`);
  return Number(m[1]);
}

/* balance - the talent's usd balance from the API */
async function balance(acc) {
  const r = await server(stack, 'GET', `/api/v1/accounts/${acc}/balance`);
  assert.equal(r.status, 200, r.body);
  return r.json.balances.find((b) => b.currency === 'usd') ?? {
    pending_cent: 0, payable_cent: 0, paid_cent: 0, owed_back_cent: 0,
  };
}

/* buy - one completed purchase of 'product': the payment */
async function buy(product) {
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);			/* charge.updated: the real fee */
  return r.json;
}

/* talentNet - Σ of the talent's rows of payment 'pay' */
function talentNet(pay, acc) {
  return sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `payment_id = ${esc(pay)} AND account_id = ${esc(acc)}`);
}

test('a refund after the payout: owed back, offset once by the next earnings', async () => {
  /* the platform has the money to pay out */
  await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 10000000, pending: 0 });
  const talent = await makeAccount(stack, 'talent', { email: 'owed@example.test' });
  const c = await server(stack, 'POST', `/api/v1/accounts/${talent.id}/connect`);
  assert.equal(c.status, 200, c.body);
  await stack.emu('POST', `/__emu/accounts/${c.json.connect_account_id}/complete_onboarding`);
  await until(async () => (await sql1(stack, 'SELECT payouts_enabled FROM accounts WHERE ' +
    `id = ${esc(talent.id)}`)) === '1', 'payouts_enabled');
  const product = await makeProduct(stack, { seller_account_id: talent.id, price_cent: 20000 });

  /* sale 1, paid out in full */
  const p1 = await buy(product);
  const earned1 = await talentNet(p1.id, talent.id);
  assert.ok(earned1 >= 10000, `above the threshold (${earned1})`);
  assert.equal(await payoutsRun(), 1, 'the first payout');
  assert.equal((await balance(talent.id)).paid_cent, earned1, 'paid what it earned');

  /* the buyer is refunded in full after the payout */
  const r = await req(stack, 'POST', `/admin/api/v1/payments/${p1.id}/refunds`, {
    headers: { Cookie: `tally_session=${finance.cookie}`, 'X-CSRF-Token': finance.csrf },
    json: { reason: 'requested_by_customer' },
  });
  assert.equal(r.status, 201, r.body);
  await until(async () => (await sql1(stack, `SELECT status FROM payments WHERE id = ${esc(p1.id)}`)) ===
    'refunded', 'the refund booked');
  const reversed = -(await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `payment_id = ${esc(p1.id)} AND account_id = ${esc(talent.id)} AND kind = 'refund'`));
  assert.ok(reversed > 0, `the talent's reversal (${reversed})`);
  const b1 = await balance(talent.id);
  assert.equal(b1.owed_back_cent, reversed, `owed back (${JSON.stringify(b1)})`);
  assert.equal(b1.payable_cent, 0, 'nothing payable');
  assert.equal(b1.paid_cent, earned1, 'what was paid stays paid');
  assert.equal(await payoutsRun(), 0, 'nothing to pay while it owes');

  /* sale 2 (a dearer product): its earning nets the debt first, then
     the rest is paid */
  const product2 = await makeProduct(stack, { seller_account_id: talent.id, price_cent: 40000 });
  const p2 = await buy(product2);
  const earned2 = await talentNet(p2.id, talent.id);
  const net = earned2 - reversed;
  const b2 = await balance(talent.id);
  assert.ok(net >= 10000, `the net is above the threshold (${net})`);
  assert.equal(b2.owed_back_cent, 0, `no longer owed (${JSON.stringify(b2)})`);
  assert.equal(b2.payable_cent, net, 'payable = new earnings − what was owed');
  assert.equal(await payoutsRun(), 1, 'the second payout');
  const [[po, amount]] = await stack.sql('SELECT id, amount_cent FROM payouts WHERE account_id = ' +
    `${esc(talent.id)} AND state = 'paid' ORDER BY id DESC LIMIT 1`);
  assert.equal(Number(amount), net, 'the second payout is the net');
  assert.ok(await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payout_id = ${esc(po)} AND ` +
    "kind = 'refund'") > 0, 'it claimed the refund rows: the debt is offset once');
  const tr = (await stack.emu('GET', '/__emu/objects/transfers')).data.filter((t) => t.metadata?.tally_id === po);
  assert.equal(tr.length, 1, 'one transfer');
  assert.equal(tr[0].amount, net, 'of the net amount');
  const b3 = await balance(talent.id);
  assert.equal(b3.owed_back_cent, 0, 'nothing owed');
  assert.equal(b3.payable_cent, 0, 'nothing left to pay');
  assert.equal(b3.paid_cent, earned1 + earned2 - reversed, 'paid in all = earned − refunded');
  assert.equal(await payoutsRun(), 0, 'the debt is not offset twice');
});
