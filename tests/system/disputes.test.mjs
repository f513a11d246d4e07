/*
 * disputes.test.mjs - chargebacks of Tally's payments, from the
 * emulator's disputes (/__emu/charges/:id/dispute, /__emu/disputes/:id/close)
 *
 * - opened: the payment is 'disputed' (its positive rows are frozen for
 *   payouts), refunds are refused (409 charge_disputed) before Stripe;
 *   funds withdrawn: the disputed amount reversed through the reversal
 *   engine (kind dispute) and the dispute fee as a zero-sum pair
 *   (DISPUTE_FEE: -fee on the talent, +fee on the Stripe-fee account);
 * - won: the inverse rows (dispute_reinstated), the fee kept as Stripe
 *   keeps it in this API version, the payment back to succeeded;
 * - lost, on a partially refunded payment with a partial dispute: rows
 *   stay, the payment 'dispute_lost', every stakeholder's total reversal
 *   is floor(share × (refunded + disputed) / amount);
 * - every event twice, and old events again afterwards: nothing twice.
 * The ledger's invariants hold at the end (assertLedger).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertErr, assertLedger, complete, craftEvent, esc, flush, newBuyer, okCheckout, paid, paymentConf, postWebhook,
  richProduct, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { randomString, req, startStack } from './lib/stack.mjs';

const DISPUTE_FEE = 1500;	/* the emulator's usd dispute fee */
let stack;
let fin;

before(async () => {
  stack = await startStack({ name: 'disputes', stripe: true, conf: paymentConf() });
  const pw = `finance-${randomString(16)}`;
  await stack.createAdmin('finance1', 'finance', pw);
  fin = await stack.adminLogin('finance1', pw);
  assert.equal(fin.status, 200);
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

function refund(pay, body) {
  return req(stack, 'POST', `/admin/api/v1/payments/${pay}/refunds`, {
    headers: { Cookie: `tally_session=${fin.cookie}`, 'X-CSRF-Token': fin.csrf }, json: body, timeoutMs: 30000,
  });
}

async function buy() {
  const { product, slug, ids } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack, { email: `d-${randomString(6).toLowerCase()}@example.test` });
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);
  return { pay: r.json.id, amount: r.json.amount_cent, charge: r.json.charge_id, ids };
}

async function payRow(pay) {
  const [[status, refunded, disputed]] = await stack.sql('SELECT status, refunded_cent, disputed_cent FROM payments ' +
    `WHERE id = ${esc(pay)}`);
  return { status, refunded: Number(refunded), disputed: Number(disputed) };
}

async function disputeRow(id) {
  const rows = await stack.sql(`SELECT status, withdrawn_cent, fee_cent, IFNULL(fee_account_id, '') FROM disputes WHERE id = ${esc(id)}`);
  if (!rows.length) return null;
  const [status, withdrawn, fee, feeAccount] = rows[0];
  return { status, withdrawn: Number(withdrawn), fee: Number(fee), feeAccount };
}

/* rowsOf - Σ of a payment's rows by "kind role account" */
async function rowsOf(pay, kinds) {
  const rows = await stack.sql(`SELECT kind, role, account_id, SUM(amount_cent) FROM shares WHERE payment_id = ${esc(pay)} ` +
    `AND kind IN (${kinds.map(esc).join(', ')}) GROUP BY kind, role, account_id`);
  return Object.fromEntries(rows.map(([k, r, a, v]) => [`${k} ${r} ${a}`, Number(v)]));
}

function sum(pay, where = '1') {
  return sqlNum(stack, `SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE payment_id = ${esc(pay)} AND ${where}`);
}

/* dispute - open one on the charge, wait until Tally booked the withdrawal */
async function dispute(p, amount) {
  const dp = await stack.emu('POST', `/__emu/charges/${p.charge}/dispute`, amount ? { amount } : {});
  assert.match(dp.id, /^dp_/, JSON.stringify(dp));
  await flush(stack);
  await until(async () => (await disputeRow(dp.id))?.withdrawn === dp.amount, 'the withdrawal booked');
  return dp;
}

async function close(dp, outcome) {
  const r = await stack.emu('POST', `/__emu/disputes/${dp.id}/close`, { outcome });
  assert.equal(r.status, outcome, JSON.stringify(r));
  await flush(stack);
  await until(async () => (await disputeRow(dp.id))?.status === outcome, `the dispute ${outcome}`);
}

describe('disputes', () => {
  test('won: withdrawn, fee pair, refunds refused, then reinstated and back to succeeded', async () => {
    const p = await buy();
    await stack.emu('POST', '/__emu/webhooks/config', { duplicate: 2 });
    let dp;
    try {
      dp = await dispute(p);
    } finally {
      await stack.emu('POST', '/__emu/webhooks/config', { duplicate: 1 });
    }
    assert.equal(dp.amount, p.amount);
    assert.deepEqual(await payRow(p.pay), { status: 'disputed', refunded: 0, disputed: p.amount });
    assert.deepEqual(await disputeRow(dp.id),
      { status: 'needs_response', withdrawn: p.amount, fee: DISPUTE_FEE, feeAccount: p.ids.TALENT });
    const fee = await rowsOf(p.pay, ['dispute']);
    assert.equal(fee[`dispute DISPUTE_FEE ${p.ids.TALENT}`], -DISPUTE_FEE, 'the talent bears the dispute fee');
    assert.equal(fee['dispute DISPUTE_FEE acc_stripe_fee'], DISPUTE_FEE, 'Stripe gets it');
    assert.equal(await sum(p.pay, "kind = 'dispute' AND role <> 'DISPUTE_FEE'"), -p.amount, 'the whole amount reversed');
    assert.equal(await sum(p.pay), 0, 'nothing left of the payment');
    /* while disputed: no refund, and Stripe is not asked */
    await stack.emu('DELETE', '/__emu/requests');
    assertErr(await refund(p.pay, { amount_cent: 100, reason: 'x' }), 409, 'charge_disputed');
    const log = (await stack.emu('GET', '/__emu/requests')).requests;
    assert.equal(log.filter((x) => x.path === '/v1/refunds').length, 0);

    await close(dp, 'won');
    assert.deepEqual(await payRow(p.pay), { status: 'succeeded', refunded: 0, disputed: 0 });
    const d = await disputeRow(dp.id);
    assert.deepEqual([d.withdrawn, d.fee], [0, DISPUTE_FEE], 'reinstated; Stripe keeps the fee');
    const fwd = await rowsOf(p.pay, ['dispute']);
    const back = await rowsOf(p.pay, ['dispute_reinstated']);
    for (const [k, v] of Object.entries(fwd)) {
      if (k.includes('DISPUTE_FEE')) continue;
      assert.equal(back[k.replace(/^dispute /, 'dispute_reinstated ')], -v, `reinstated: ${k}`);
    }
    assert.equal(await sum(p.pay), p.amount, 'the payment is whole again (the fee pair is zero-sum)');
    /* old events again, with new ids: nothing moves */
    const obj = (await stack.stripe('GET', `/v1/disputes/${dp.id}`)).json;
    for (const t of ['charge.dispute.created', 'charge.dispute.funds_withdrawn', 'charge.dispute.funds_reinstated']) {
      const r = await postWebhook(stack, craftEvent(t, obj));
      assert.equal(r.status, 200, r.body);
    }
    assert.deepEqual(await payRow(p.pay), { status: 'succeeded', refunded: 0, disputed: 0 });
    assert.equal(await sum(p.pay), p.amount);
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payment_id = ${esc(p.pay)} AND ` +
      "role = 'DISPUTE_FEE'"), 2, 'one fee pair');
    /* won: refundable again */
    const r = await refund(p.pay, { amount_cent: 500, reason: 'after the dispute' });
    assert.equal(r.status, 201, r.body);
  });

  test('lost, partial dispute of a partially refunded payment: the cumulative reversal', async () => {
    const p = await buy();
    const r = await refund(p.pay, { amount_cent: 500, reason: 'partial first' });
    assert.equal(r.status, 201, r.body);
    await flush(stack);
    await until(async () => (await payRow(p.pay)).refunded === 500, 'the refund booked');
    const dp = await dispute(p, 1000);
    assert.deepEqual(await payRow(p.pay), { status: 'disputed', refunded: 500, disputed: 1000 });
    await close(dp, 'lost');
    assert.deepEqual(await payRow(p.pay), { status: 'dispute_lost', refunded: 500, disputed: 1000 });
    assert.deepEqual(await disputeRow(dp.id),
      { status: 'lost', withdrawn: 1000, fee: DISPUTE_FEE, feeAccount: p.ids.TALENT });
    assert.equal(await sum(p.pay), p.amount - 1500, 'amount - refunded - disputed');
    /* each stakeholder but the talent: floor(S × C / A) in all, C = 1500 */
    const shares = await stack.sql(`SELECT role, SUM(amount_cent) FROM shares WHERE payment_id = ${esc(p.pay)} ` +
      "AND kind IN ('split', 'fee_adjustment') GROUP BY role");
    const S = Object.fromEntries(shares.map(([k, v]) => [k, Number(v)]));
    const reversed = await stack.sql(`SELECT role, SUM(amount_cent) FROM shares WHERE payment_id = ${esc(p.pay)} ` +
      "AND kind IN ('refund', 'dispute') AND role <> 'DISPUTE_FEE' GROUP BY role");
    const R = Object.fromEntries(reversed.map(([k, v]) => [k, Number(v)]));
    for (const role of ['AGENT', 'PLATFORM', 'HOST_PARTNER', 'AMBASSADOR']) {
      assert.equal(R[role] ?? 0, -Math.floor((S[role] * 1500) / p.amount), role);
    }
    assert.equal(R.STRIPE_FEE_KEPT, -Math.floor((S.STRIPE_FEE * 1500) / p.amount), 'the kept fee');
    assert.equal(Object.values(R).reduce((a, v) => a + v, 0), -1500, 'no cent stranded');
    assertErr(await refund(p.pay, { amount_cent: 100, reason: 'x' }), 409, 'charge_disputed', undefined,
      'a lost dispute is not refundable');
    /* a late charge.dispute.created after the close: nothing moves */
    const obj = (await stack.stripe('GET', `/v1/disputes/${dp.id}`)).json;
    assert.equal((await postWebhook(stack, craftEvent('charge.dispute.created', { ...obj, status: 'needs_response' }))).status, 200);
    assert.deepEqual(await payRow(p.pay), { status: 'dispute_lost', refunded: 500, disputed: 1000 });
  });
});
