/*
 * fee_currency.test.mjs - the real Stripe fee of a payment that Stripe
 * settles in another currency (issue 11, defect 5): a jpy sale on a
 * platform that settles in usd (the emulator's POST /__emu/settlement).
 *
 * Stripe's balance transaction is in usd (amount converted, fee in US
 * cents, exchange_rate).  Tally books the fee in the payment's currency,
 * converted back at that rate, to the nearest yen, halves away from zero
 * (docs/ledger.md, "Fees in another currency") - never 89 US cents as
 * ¥89:
 * - completed by the webhook, the fee arriving with charge.updated;
 * - completed by the browser once the balance transaction exists (the
 *   fee comes with the completion's facts);
 * - a dispute of the first: Stripe's usd dispute fee is booked in yen
 *   the same way.
 * A usd sale on the same stack keeps its fee as it is.  assertLedger.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertLedger, complete, esc, flush, makeProduct, newBuyer, okCheckout, paid, paymentConf, piOf, server, serverPayment, splitOf,
  sqlNum, until, withPausedWebhooks,
} from './lib/checkout_helpers.mjs';
import { startStack } from './lib/stack.mjs';

const RATE = 0.0067;	/* usd per jpy */
let stack;

before(async () => {
  stack = await startStack({
    name: 'fee_currency', stripe: true,
    conf: paymentConf({ 'currency.usd': { payout_threshold_cent: 10000 }, 'currency.jpy': { payout_threshold_cent: 10000 } }),
  });
  const s = await stack.emu('POST', '/__emu/settlement', { currency: 'usd', exchange_rates: { jpy: RATE } });
  assert.equal(s.currency, 'usd');
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

/*
 * inYen - 'cents' US cents at 'rate' usd per yen, in yen: cents / (rate ×
 * 100), to the nearest yen, halves away from zero (exact: the rate's
 * decimal digits as a fraction)
 */
function inYen(cents, rate) {
  const [i, f = ''] = String(rate).split('.');
  const num = BigInt(i + f);
  const den = 10n ** BigInt(f.length);
  const n = BigInt(Math.abs(cents)) * den;
  const d = num * 100n;
  const q = (2n * n + d) / (2n * d);
  return Number(cents < 0 ? -q : q);
}

/* txnOf - the balance transaction of a PaymentIntent's charge */
async function txnOf(pi) {
  const ch = (await stack.stripe('GET', `/v1/charges/${(await piOf(stack, pi)).latest_charge}`)).json;
  assert.ok(ch.balance_transaction, 'the charge has its balance transaction');
  return (await stack.stripe('GET', `/v1/balance_transactions/${ch.balance_transaction}`)).json;
}

async function payment(id) {
  const r = await server(stack, 'GET', `/api/v1/payments/${id}`);
  assert.equal(r.status, 200, r.body);
  return r.json;
}

function sum(p) {
  return p.shares.reduce((a, s) => a + s.amount_cent, 0);
}

async function jpySale() {
  const product = await makeProduct(stack, { price_cent: 2520, currency: 'jpy' });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id });
  assert.deepEqual([c.currency, c.amount_cent], ['jpy', 3020]);
  return { b, c };
}

/* webhookSale - a jpy sale completed by the webhook, its real fee booked: {id, charge} */
async function webhookSale() {
  const { c } = await jpySale();
  await paid(stack, c.payment_intent_id);
  await flush(stack);
  const id = await until(async () => {
    const rows = await stack.sql(`SELECT id FROM payments WHERE checkout_id = ${esc(c.id)} AND ` +
      'stripe_fee_actual_cent IS NOT NULL');
    return rows.length ? rows[0][0] : null;
  }, 'the real fee booked');
  return { id, c, charge: (await payment(id)).charge_id };
}

describe('the real fee of a jpy payment settled in usd', () => {
  test('completed by the webhook, fee from charge.updated: converted into yen', async () => {
    const { id, c } = await webhookSale();
    const bt = await txnOf(c.payment_intent_id);
    assert.deepEqual([bt.currency, bt.exchange_rate], ['usd', RATE], 'Stripe settled it in usd');
    assert.equal(bt.amount, Math.round(3020 * RATE * 100));
    const p = await payment(id);
    const fee = inYen(bt.fee, RATE);
    assert.notEqual(fee, bt.fee);
    assert.equal(p.currency, 'jpy');
    assert.equal(p.stripe_fee_actual_cent, fee, `¥${fee}, not the ${bt.fee} US cents`);
    const d = fee - p.stripe_fee_estimate_cent;
    assert.deepEqual(splitOf(p, 'fee_adjustment'), { STRIPE_FEE: d, TALENT: -d });
    assert.equal(sum(p), 3020);
  });

  test('completed by the browser with the balance transaction: converted at the completion', async () => {
    const { b, c } = await jpySale();
    let id;
    await withPausedWebhooks(stack, async () => {
      await paid(stack, c.payment_intent_id);
      await until(async () => (await piOf(stack, c.payment_intent_id)).latest_charge &&
        (await stack.stripe('GET', `/v1/charges/${(await piOf(stack, c.payment_intent_id)).latest_charge}`))
          .json.balance_transaction, 'the asynchronous capture');
      const r = await complete(stack, b, c.id);
      assert.equal(r.status, 200, r.body);
      id = r.json.id;
      const bt = await txnOf(c.payment_intent_id);
      const fee = inYen(bt.fee, RATE);
      const full = await serverPayment(stack, id);
      assert.equal(full.stripe_fee_actual_cent, fee, `¥${fee}, not the ${bt.fee} US cents`);
      const d = fee - full.stripe_fee_estimate_cent;
      assert.deepEqual(splitOf(full, 'fee_adjustment'), { STRIPE_FEE: d, TALENT: -d });
    });
    await flush(stack);
    const p = await payment(id);
    assert.equal(p.shares.filter((s) => s.kind === 'fee_adjustment').length, 2, 'one adjustment, charge.updated adds none');
    assert.equal(sum(p), 3020);
  });

  test('a dispute of a jpy payment: the usd dispute fee is booked in yen', async () => {
    const first = { ...(await webhookSale()), amount: 3020 };
    const dp = await stack.emu('POST', `/__emu/charges/${first.charge}/dispute`);
    assert.match(dp.id, /^dp_/, JSON.stringify(dp));
    const [wbt] = dp.balance_transactions;
    assert.deepEqual([wbt.currency, wbt.exchange_rate], ['usd', RATE]);
    await flush(stack);
    const fee = inYen(wbt.fee, RATE);
    await until(async () => (await sqlNum(stack, `SELECT COUNT(*) FROM disputes WHERE id = ${esc(dp.id)} AND ` +
      `withdrawn_cent = ${first.amount}`)) === 1, 'the dispute booked');
    assert.equal(await sqlNum(stack, `SELECT fee_cent FROM disputes WHERE id = ${esc(dp.id)}`), fee,
      `¥${fee}, not the ${wbt.fee} US cents`);
    const p = await payment(first.id);
    assert.deepEqual(splitOf(p, 'dispute').DISPUTE_FEE, 0, 'a zero-sum pair');
    const rows = p.shares.filter((s) => s.role === 'DISPUTE_FEE').map((s) => s.amount_cent).sort((a, b) => a - b);
    assert.deepEqual(rows, [-fee, fee]);
  });

  test('a usd payment on the same platform keeps Stripe\'s fee as it is', async () => {
    const product = await makeProduct(stack, { price_cent: 2520 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: product.id });
    await paid(stack, c.payment_intent_id);
    await flush(stack);
    const id = await until(async () => {
      const rows = await stack.sql(`SELECT id FROM payments WHERE checkout_id = ${esc(c.id)} AND ` +
        'stripe_fee_actual_cent IS NOT NULL');
      return rows.length ? rows[0][0] : null;
    }, 'the real fee booked');
    const bt = await txnOf(c.payment_intent_id);
    assert.deepEqual([bt.currency, bt.exchange_rate], ['usd', null]);
    assert.equal((await payment(id)).stripe_fee_actual_cent, bt.fee);
  });
});
