/*
 * checkout.test.mjs - POST /api/v1/checkout against the Stripe emulator
 * (core/checkout.c): a buyer names a product and a quantity, Tally
 * reserves the stock and creates one PaymentIntent.
 * - the amounts come from the product only (any amount, price, seller or
 *   fee in the body is 400 parameter_unknown); the PaymentIntent carries
 *   transfer_group = the checkout and metadata.checkout_id; the receipt
 *   email falls back to the token's email claim; another buyer's
 *   checkout is 404; inactive products, amounts below the minimum and
 *   quantities above the stock are refused;
 * - a double click (2 sequential, 10 concurrent) is one checkout and one
 *   PaymentIntent at the emulator; another quantity is another checkout;
 * - 50 buyers at once for 10 in stock: exactly 10 reservations, 40 x 409;
 *   after expiry (reservation_seconds 10, the checkouts job every second)
 *   the 10 PaymentIntents are canceled at the emulator and the stock is
 *   10 again;
 * - Stripe failing while the PaymentIntent is created (emulator faults):
 *   a stored 500 (a new key generation), a 500 after the work (found by
 *   metadata), 429s, a hang after the work beyond tally's 1 s timeout
 *   (the retry with the same key gets the stored answer), a persistent
 *   500 and a hang before the work (503 stripe_outcome_unknown, then the
 *   same request returns the checkout): always exactly one PaymentIntent
 *   per checkout;
 * - the recording of the PaymentIntent failing (TALLY_FAULTS): 502
 *   checkout_failed, the PaymentIntent canceled, the stock back, the same
 *   Idempotency-Key replays the 502, a new checkout gets a new id.
 * - the dedupe and the host partner (docs/architecture.md, "Checkout
 *   dedupe"): the same partner again (or none named) is the open
 *   checkout; another partner's link while nothing is being paid is a new
 *   checkout with that partner's split (the earlier one expires, its
 *   PaymentIntent canceled, its stock back), and the payment books the
 *   new partner's share; while a payment is under way (3DS) the open
 *   checkout is answered, whatever partner is named.
 * Each describe block has its own stack; the ledger is checked before it
 * stops.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  all, assertErr, assertLedger, asBuyer, checkout, checkoutRow, complete, confirmPi, emuPis, esc, fastBuyer, makeProduct,
  makeAccount, newBuyer, okCheckout, paid, paymentConf, paymentsOf, piOf, richProduct, server, serverPayment, sqlNum, stockOf, until,
} from './lib/checkout_helpers.mjs';
import { sleep, startStack } from './lib/stack.mjs';

/* stackHooks - a stack per describe block, its ledger checked at the end */
function stackHooks(opts) {
  const h = { stack: null };
  before(async () => {
    h.stack = await startStack({ stripe: true, ...opts });
  });
  afterEach((t) => h.stack?.noteTest(t));
  after(async () => {
    try {
      if (h.stack) await assertLedger(h.stack);
    } finally {
      await h.stack?.stop();
    }
  });
  return h;
}

/* piCount - PaymentIntents at the emulator for product 'prod' (their description) */
async function pisOfProduct(stack, prod) {
  return (await emuPis(stack)).filter((p) => p.description === prod);
}

describe('checkout', () => {
  const h = stackHooks({ name: 'checkout', conf: paymentConf({ stripe: { timeout_ms: 1000 } }) });

  test('amounts come from the product; the PaymentIntent names the checkout; the JWT email is the receipt email', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 2500, stock: 10 });
    const b = await newBuyer(stack, { email: 'buyer@example.test' });
    const c = await okCheckout(stack, b, { product_id: p.id, quantity: 2 });
    assert.equal(c.object, 'checkout');
    assert.match(c.id, /^chk_[A-Za-z0-9]+$/);
    assert.equal(c.checkout_id, c.id);
    assert.deepEqual([c.status, c.quantity, c.price_cent, c.subtotal_cent, c.platform_fee_cent, c.amount_cent, c.currency],
      ['open', 2, 2500, 5000, 500, 5500, 'usd']);
    assert.equal(c.receipt_email, 'buyer@example.test', 'from the email claim');
    assert.ok(c.expires_at > Date.now() / 1000, 'expires in the future');
    const pi = await piOf(stack, c.payment_intent_id);
    assert.deepEqual([pi.amount, pi.currency, pi.status], [5500, 'usd', 'requires_payment_method']);
    assert.equal(pi.transfer_group, c.id, 'transfer_group is the checkout id');
    assert.equal(pi.metadata.checkout_id, c.id, 'metadata.checkout_id');
    assert.equal(pi.client_secret, c.client_secret, 'the client secret is the PaymentIntent\'s');
    assert.equal(pi.receipt_email, 'buyer@example.test', 'Stripe sends the receipt there');
    assert.equal(await stockOf(stack, p.id), 8, 'two reserved');
    /* the body's receipt_email wins over the claim */
    const c2 = await okCheckout(stack, b, { product_id: p.id, quantity: 1, receipt_email: 'other@example.test' });
    assert.equal(c2.receipt_email, 'other@example.test');
    /* no email claim, no body email: none */
    const b2 = await newBuyer(stack);
    const c3 = await okCheckout(stack, b2, { product_id: p.id });
    assert.equal(c3.receipt_email, null);
    assert.equal((await piOf(stack, c3.payment_intent_id)).receipt_email, null);
    /* the buyer reads it back; another buyer cannot see it exists */
    const g = await asBuyer(stack, b, 'GET', `/api/v1/checkout/${c.id}`);
    assert.equal(g.status, 200, g.body);
    assert.deepEqual([g.json.id, g.json.amount_cent, g.json.payment_intent_id, g.json.client_secret],
      [c.id, 5500, c.payment_intent_id, c.client_secret]);
    assertErr(await asBuyer(stack, b2, 'GET', `/api/v1/checkout/${c.id}`), 404, 'resource_missing');
    assertErr(await asBuyer(stack, b2, 'GET', '/api/v1/checkout/chk_nothere'), 404, 'resource_missing');
    /* a server key is not a buyer */
    assertErr(await server(stack, 'POST', '/api/v1/checkout', { product_id: p.id }), 403, 'forbidden');
  });

  test('an amount, price, seller or fee in the body: 400 parameter_unknown, nothing created', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 2500, stock: 5 });
    const b = await newBuyer(stack);
    const pisBefore = (await emuPis(stack)).length;
    const fields = {
      amount_cent: 1, amount: 1, price_cent: 1, subtotal_cent: 1, platform_fee_cent: 0, currency: 'usd',
      seller_account_id: 'acc_platform', agent_account_id: 'acc_platform', agent_bps: 0, fee_value: 0,
      buyer_account_id: 'acc_platform', payment_intent_id: 'pi_x', status: 'completed', metadata: { a: 1 },
    };
    for (const [k, v] of Object.entries(fields)) {
      assertErr(await checkout(stack, b, { product_id: p.id, [k]: v }), 400, 'parameter_unknown', k, k);
    }
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM checkouts WHERE product_id = ${esc(p.id)}`), 0, 'no checkout');
    assert.equal((await emuPis(stack)).length, pisBefore, 'no PaymentIntent');
    assert.equal(await stockOf(stack, p.id), 5, 'nothing reserved');
  });

  test('a double click: 2 sequential and 10 concurrent checkouts are one checkout and one PaymentIntent', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 1200, stock: 50 });
    const b = await newBuyer(stack);
    const first = await okCheckout(stack, b, { product_id: p.id, quantity: 3 });
    const second = await okCheckout(stack, b, { product_id: p.id, quantity: 3 });
    assert.equal(second.id, first.id, 'the second click returns the first checkout');
    assert.equal(second.payment_intent_id, first.payment_intent_id);
    const b2 = await newBuyer(stack);
    const many = await all(10, () => checkout(stack, b2, { product_id: p.id, quantity: 3 }));
    assert.deepEqual(many.map((r) => r.status), Array(10).fill(200), many.map((r) => r.body).join('\n'));
    const ids = new Set(many.map((r) => r.json.id));
    assert.equal(ids.size, 1, `one checkout for ten concurrent clicks: ${[...ids]}`);
    assert.equal(new Set(many.map((r) => r.json.payment_intent_id)).size, 1, 'one PaymentIntent id in the answers');
    for (const id of [first.id, [...ids][0]]) {
      const pis = await emuPis(stack, id);
      assert.equal(pis.length, 1, `exactly one PaymentIntent at the emulator for ${id}`);
    }
    assert.equal((await pisOfProduct(stack, p.id)).length, 2, 'two buyers, two PaymentIntents');
    assert.equal(await stockOf(stack, p.id), 44, 'each buyer reserved 3 once');
    /* another quantity is another checkout */
    const other = await okCheckout(stack, b, { product_id: p.id, quantity: 1 });
    assert.notEqual(other.id, first.id);
    assert.notEqual(other.payment_intent_id, first.payment_intent_id);
    assert.equal(await stockOf(stack, p.id), 43);
  });

  test('refusals: unknown or inactive product, bad quantity, amount below the minimum, out of stock', async () => {
    const { stack } = h;
    const b = await newBuyer(stack);
    const p = await makeProduct(stack, { price_cent: 2500, stock: 2 });
    assertErr(await checkout(stack, b, { product_id: 'prod_nothere' }), 404, 'resource_missing', 'product_id');
    assertErr(await checkout(stack, b, {}), 400, 'parameter_missing', 'product_id');
    for (const q of [0, -1, 1000001]) {
      assertErr(await checkout(stack, b, { product_id: p.id, quantity: q }), 400, 'parameter_invalid', 'quantity', `quantity ${q}`);
    }
    assertErr(await checkout(stack, b, { product_id: p.id, quantity: '2' }), 400, 'parameter_invalid_type', 'quantity');
    assertErr(await checkout(stack, b, { product_id: p.id, receipt_email: 'nope' }), 400, 'parameter_invalid', 'receipt_email');
    assertErr(await checkout(stack, b, { product_id: p.id, host_partner_slug: 'no-such-host' }),
      400, 'parameter_invalid', 'host_partner_slug');
    assertErr(await checkout(stack, b, { product_id: p.id, quantity: 3 }), 409, 'out_of_stock', 'quantity');
    /* a host partner and an ambassador taking more than the platform fee */
    const rich = await richProduct(stack, { stock: 4 });
    const hp = await makeAccount(stack, 'host_partner');
    const greedy = `greedy-${Date.now()}`;
    assert.equal((await server(stack, 'POST', '/api/v1/host_partners', { slug: greedy, account_id: hp.id, share_bps: 9500 })).status, 201);
    assertErr(await checkout(stack, b, { product_id: rich.product.id, host_partner_slug: greedy }), 422, 'negative_share');
    assert.equal(await stockOf(stack, rich.product.id), 4, 'nothing reserved');
    const big = await makeProduct(stack, { price_cent: 2500 });
    assertErr(await checkout(stack, b, { product_id: big.id, quantity: 1000000 }), 422, 'amount_too_large');
    assert.equal(await stockOf(stack, p.id), 2, 'a refused checkout reserves nothing');
    const off = await makeProduct(stack, { price_cent: 2500 });
    assert.equal((await server(stack, 'POST', `/api/v1/products/${off.id}`, { active: false })).status, 200);
    assertErr(await checkout(stack, b, { product_id: off.id }), 422, 'product_inactive', 'product_id');
    /* 40 cents and no platform fee: below usd's 50-cent minimum charge */
    const tiny = await makeProduct(stack, { price_cent: 40, fee_kind: 'fixed', fee_value: 0 });
    assertErr(await checkout(stack, b, { product_id: tiny.id }), 422, 'amount_too_small');
    const two = await okCheckout(stack, b, { product_id: tiny.id, quantity: 2 });
    assert.equal(two.amount_cent, 80, 'two of them are enough');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM checkouts WHERE product_id IN (${esc(p.id)}, ${esc(off.id)})`), 0);
  });
});

describe('Stripe failing while the PaymentIntent is created', () => {
  const h = stackHooks({ name: 'checkout-faults', conf: paymentConf({ stripe: { timeout_ms: 1000 } }) });
  const PI_CREATE = { method: 'POST', path: '^/v1/payment_intents$' };

  /* keysFor - the Idempotency-Keys of the PaymentIntent creations of checkout 'id' (emulator log) */
  async function keysFor(stack, id) {
    const { requests } = await stack.emu('GET', '/__emu/requests');
    return requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' &&
      (r.idempotency_key ?? '').startsWith(`tally:pi:${id}:`)).map((r) => `${r.idempotency_key} ${r.status}`);
  }

  afterEach(async () => {
    await h.stack?.emu('DELETE', '/__emu/faults');
    await h.stack?.emu('POST', '/__emu/faults/release');
  });

  test('a stored 500: a new key generation, exactly one PaymentIntent', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { stock: 5 });
    const b = await newBuyer(stack);
    await stack.emu('POST', '/__emu/faults', { ...PI_CREATE, mode: 'error_500_stored', count: 1 });
    const c = await okCheckout(stack, b, { product_id: p.id });
    const pis = await emuPis(stack, c.id);
    assert.equal(pis.length, 1, 'one PaymentIntent');
    assert.equal(pis[0].id, c.payment_intent_id);
    assert.deepEqual(await keysFor(stack, c.id), [`tally:pi:${c.id}:g1 500`, `tally:pi:${c.id}:g2 200`],
      'g1 got the stored 500, g2 created it');
    assert.equal(await sqlNum(stack, `SELECT pi_key_gen FROM checkouts WHERE id = ${esc(c.id)}`), 2, 'generation 2 recorded');
  });

  test('a 500 after the work: the PaymentIntent is found by its metadata, not made twice', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { stock: 5 });
    const b = await newBuyer(stack);
    await stack.emu('POST', '/__emu/faults', { ...PI_CREATE, mode: 'error_500_after_work', count: 1 });
    const c = await okCheckout(stack, b, { product_id: p.id });
    const pis = await emuPis(stack, c.id);
    assert.equal(pis.length, 1, 'one PaymentIntent');
    assert.equal(pis[0].id, c.payment_intent_id, 'the one made by the request that answered 500');
  });

  test('429s are retried with the same key: one PaymentIntent', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { stock: 5 });
    const b = await newBuyer(stack);
    await stack.emu('POST', '/__emu/faults', { ...PI_CREATE, mode: 'error_429', count: 2 });
    const c = await okCheckout(stack, b, { product_id: p.id });
    assert.equal((await emuPis(stack, c.id)).length, 1);
    assert.deepEqual(await keysFor(stack, c.id),
      [`tally:pi:${c.id}:g1 429`, `tally:pi:${c.id}:g1 429`, `tally:pi:${c.id}:g1 200`]);
  });

  test('a persistent 500: 503 stripe_outcome_unknown, stock held; the same request later returns the checkout', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { stock: 5 });
    const b = await newBuyer(stack);
    await stack.emu('POST', '/__emu/faults', { ...PI_CREATE, mode: 'error_500_stored', count: 50 });
    const key = `k-${Date.now()}`;
    const r1 = await checkout(stack, b, { product_id: p.id }, { idem: key });
    assertErr(r1, 503, 'stripe_outcome_unknown');
    const [id] = (await stack.sql(`SELECT id FROM checkouts WHERE product_id = ${esc(p.id)}`))[0];
    const row = await checkoutRow(stack, id);
    assert.deepEqual([row.status, row.pi_state, row.stock_held], ['open', 'unknown', 1], 'open, outcome unknown, stock held');
    assert.equal((await emuPis(stack, id)).length, 0, 'no PaymentIntent was made');
    await stack.emu('DELETE', '/__emu/faults');
    const r2 = await checkout(stack, b, { product_id: p.id }, { idem: key });
    assert.equal(r2.status, 200, `the retry (503s are not stored under the key): ${r2.body}`);
    assert.equal(r2.headers.get('idempotent-replayed'), null, 'not a replay');
    assert.equal(r2.json.id, id, 'the same checkout');
    const pis = await emuPis(stack, id);
    assert.equal(pis.length, 1, 'exactly one PaymentIntent');
    assert.equal(pis[0].id, r2.json.payment_intent_id);
    assert.equal(await stockOf(stack, p.id), 4, 'one unit reserved once');
  });

  test('a hang after the work beyond the 1 s timeout: the retry with the same key gets Stripe\'s stored answer', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { stock: 5 });
    const b = await newBuyer(stack);
    /* the PaymentIntent is made and stored under the key, the answer never comes */
    await stack.emu('POST', '/__emu/faults', { ...PI_CREATE, mode: 'hang_after', count: 50 });
    const t0 = Date.now();
    const r = await checkout(stack, b, { product_id: p.id }, { timeoutMs: 30000 });
    assert.equal(r.status, 200, `a safe retry: ${r.body}`);
    assert.ok(Date.now() - t0 >= 1000, 'after one timeout');
    const pis = await emuPis(stack, r.json.id);
    assert.equal(pis.length, 1, 'exactly one PaymentIntent');
    assert.equal(pis[0].id, r.json.payment_intent_id);
    /* the first request (logged once it answers) and the retry, a replay */
    await stack.emu('POST', '/__emu/faults/release');
    const mine = await until(async () => {
      const { requests } = await stack.emu('GET', '/__emu/requests');
      const m = requests.filter((q) => q.idempotency_key === `tally:pi:${r.json.id}:g1`);
      return m.length === 2 && m;
    }, 'both requests in the emulator log');
    assert.deepEqual(mine.map((q) => q.replayed).sort(), [false, true], 'the same key twice, one a replay');
  });

  test('a hang before the work beyond the timeout: 503; after the release the same request returns the checkout', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { stock: 5, price_cent: 3100 });
    const b = await newBuyer(stack);
    /* the first attempt hangs holding its key; every retry meets it in flight (409) */
    await stack.emu('POST', '/__emu/faults', { ...PI_CREATE, mode: 'hang_before', count: 50 });
    const t0 = Date.now();
    const r1 = await checkout(stack, b, { product_id: p.id }, { timeoutMs: 30000 });
    assertErr(r1, 503, 'stripe_outcome_unknown');
    assert.ok(Date.now() - t0 < 15000, `answered within the timeouts (${Date.now() - t0} ms)`);
    const [id] = (await stack.sql(`SELECT id FROM checkouts WHERE product_id = ${esc(p.id)}`))[0];
    const row = await checkoutRow(stack, id);
    assert.deepEqual([row.status, row.pi_state, row.stock_held], ['open', 'unknown', 1]);
    assert.equal((await emuPis(stack, id)).length, 0, 'nothing made while it hangs');
    await stack.emu('DELETE', '/__emu/faults');
    await stack.emu('POST', '/__emu/faults/release');
    const r2 = await checkout(stack, b, { product_id: p.id });
    assert.equal(r2.status, 200, r2.body);
    assert.equal(r2.json.id, id, 'the same checkout');
    const pis = await emuPis(stack, id);
    assert.equal(pis.length, 1, `exactly one PaymentIntent (${pis.map((x) => x.id)})`);
    assert.equal(pis[0].id, r2.json.payment_intent_id);
    /* and it is paid once */
    await paid(stack, r2.json.payment_intent_id);
    const done = await complete(stack, b, id);
    assert.equal(done.status, 200, done.body);
    assert.equal(done.json.amount_cent, 3600);
    assert.equal((await paymentsOf(stack, id)).length, 1);
  });
});

describe('reservations and their expiry', () => {
  const h = stackHooks({
    name: 'checkout-stock',
    conf: paymentConf({ pricing: { reservation_seconds: 10 }, 'job.checkouts': { interval: 1 } }),
  });

  test('exactly 10 reservations and 40 x 409; after expiry the PaymentIntents are canceled and the stock is back', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 1500, stock: 10 });
    const buyers = Array.from({ length: 50 }, () => fastBuyer(stack));
    const res = await all(50, (i) => checkout(stack, buyers[i], { product_id: p.id }, { timeoutMs: 30000 }));
    const ok = res.filter((r) => r.status === 200);
    const refused = res.filter((r) => r.status === 409);
    assert.equal(ok.length, 10, `10 checkouts: ${JSON.stringify(res.map((r) => r.status))}`);
    assert.equal(refused.length, 40, '40 refused');
    for (const r of refused) assert.equal(r.json.error.code, 'out_of_stock', r.body);
    assert.equal(new Set(ok.map((r) => r.json.id)).size, 10, 'ten distinct checkouts');
    assert.equal(await stockOf(stack, p.id), 0, 'stock 0');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM checkouts WHERE product_id = ${esc(p.id)}`), 10, '10 rows');
    const pis = await pisOfProduct(stack, p.id);
    assert.equal(pis.length, 10, 'ten PaymentIntents at the emulator');
    assert.deepEqual(new Set(pis.map((x) => x.id)), new Set(ok.map((r) => r.json.payment_intent_id)));
    /* the reservations run out; the job cancels each PaymentIntent, then gives the unit back */
    await until(async () => (await stockOf(stack, p.id)) === 10, 'the stock to come back to 10', 40000);
    const after_ = await pisOfProduct(stack, p.id);
    assert.deepEqual(after_.map((x) => x.status), Array(10).fill('canceled'), 'every PaymentIntent canceled at the emulator');
    const rows = await stack.sql(`SELECT status, pi_state, stock_held FROM checkouts WHERE product_id = ${esc(p.id)}`);
    assert.deepEqual(rows, Array(10).fill(['expired', 'canceled', '0']));
    const first = ok[0].json;
    assert.equal(first.expires_at - first.created, 10, 'reserved for reservation_seconds');
    const g = await asBuyer(stack, buyers[res.indexOf(ok[0])], 'GET', `/api/v1/checkout/${first.id}`);
    assert.deepEqual([g.json.status, g.json.client_secret], ['expired', null], 'no client secret once it cannot be paid');
    /* an expired checkout cannot be completed, and its buyer may start again */
    const b0 = buyers[res.indexOf(ok[0])];
    assertErr(await complete(stack, b0, ok[0].json.id), 409, 'payment_not_succeeded');
    const again = await okCheckout(stack, b0, { product_id: p.id });
    assert.notEqual(again.id, ok[0].json.id, 'a new checkout');
    assert.equal(await stockOf(stack, p.id), 9);
  });

  test('a release lost to a crash (closed, PaymentIntent canceled, stock still held) is redone by the job', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 1500, stock: 1 });
    const b = fastBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    assert.equal(await stockOf(stack, p.id), 0, 'reserved');
    await stack.stripe('POST', `/v1/payment_intents/${c.payment_intent_id}/cancel`, {});
    /* the state a crash between tly_checkout_note_status's two transactions leaves */
    await stack.sql("UPDATE checkouts SET status = 'canceled', open_key = NULL, pi_state = 'canceled', " +
      `updated_at = NOW(3) - INTERVAL 2 MINUTE WHERE id = ${esc(c.id)}`);
    await until(async () => (await stockOf(stack, p.id)) === 1, 'the job to give the unit back', 20000);
    assert.deepEqual((await stack.sql(`SELECT status, pi_state, stock_held FROM checkouts WHERE id = ${esc(c.id)}`))[0],
      ['canceled', 'canceled', '0']);
    await sleep(2500);
    assert.equal(await stockOf(stack, p.id), 1, 'given back once, not on every run');
  });

  /* expire - the reservation of checkout 'id' ran out (instead of waiting 10 s) */
  async function expire(stack, id) {
    await stack.sql(`UPDATE checkouts SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ${esc(id)}`);
  }

  /* cancelsOf - the emulator's answers to the cancels of PaymentIntent 'pi' */
  async function cancelsOf(stack, pi) {
    const { requests } = await stack.emu('GET', '/__emu/requests');
    return requests.filter((q) => q.method === 'POST' && q.path === `/v1/payment_intents/${pi}/cancel`);
  }

  test('a stored 500 on the cancel: the PaymentIntent is still canceled and the stock comes back', async (t) => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 1500, stock: 1 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    await stack.emu('POST', '/__emu/faults', {
      method: 'POST', path: `^/v1/payment_intents/${c.payment_intent_id}/cancel$`, mode: 'error_500_stored', count: 1,
    });
    try {
      await expire(stack, c.id);
      await until(async () => (await cancelsOf(stack, c.payment_intent_id)).some((q) => q.status === 500),
        'the job\'s cancel to meet the 500');
      await until(async () => (await piOf(stack, c.payment_intent_id)).status === 'canceled',
        'the PaymentIntent to be canceled after all', 5000);
      await until(async () => (await stockOf(stack, p.id)) === 1, 'the unit to come back', 5000);
    } finally {
      await stack.emu('DELETE', '/__emu/faults');
      const calls = await cancelsOf(stack, c.payment_intent_id);
      t.diagnostic(`cancel attempts: ${calls.map((q) => `${q.idempotency_key} ${q.status}` +
        `${q.replayed ? ' (replayed)' : ''}`).slice(0, 3).join(', ')} ... ${calls.length} in all`);
    }
  });

  test('a processing payment that fails after its reservation expired: canceled then, the stock comes back', async (t) => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 1500, stock: 1 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    const r = await confirmPi(stack, c.payment_intent_id, 'pm_card_processing');
    assert.equal(r.json.status, 'processing', JSON.stringify(r.json));
    await expire(stack, c.id);
    await until(async () => (await cancelsOf(stack, c.payment_intent_id)).length > 0, 'the job to try the cancel');
    assert.equal((await stockOf(stack, p.id)), 0, 'held while the payment is processing');
    /* the bank says no: nothing will ever pay this PaymentIntent */
    await stack.emu('POST', `/__emu/payment_intents/${c.payment_intent_id}/settle`, { result: 'fail' });
    assert.equal((await piOf(stack, c.payment_intent_id)).status, 'requires_payment_method');
    try {
      await until(async () => (await piOf(stack, c.payment_intent_id)).status === 'canceled',
        'the PaymentIntent to be canceled', 5000);
      await until(async () => (await stockOf(stack, p.id)) === 1, 'the unit to come back', 5000);
    } finally {
      const calls = await cancelsOf(stack, c.payment_intent_id);
      t.diagnostic(`cancel attempts: ${calls.map((q) => `${q.status}${q.replayed ? ' (replayed)' : ''}`)
        .slice(0, 4).join(', ')} ... ${calls.length} in all`);
    }
    assert.equal((await paymentsOf(stack, c.id)).length, 0);
  });

  test('a processing payment that succeeds after its reservation expired is completed, its unit sold', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 1500, stock: 1 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    const r = await confirmPi(stack, c.payment_intent_id, 'pm_card_processing');
    assert.equal(r.json.status, 'processing');
    await expire(stack, c.id);
    await until(async () => (await cancelsOf(stack, c.payment_intent_id)).length > 0, 'the job to try the cancel');
    assert.equal((await checkoutRow(stack, c.id)).status, 'expired');
    await stack.emu('POST', `/__emu/payment_intents/${c.payment_intent_id}/settle`, {});
    await until(async () => (await paymentsOf(stack, c.id)).length === 1, 'the payment to be booked');
    assert.equal((await checkoutRow(stack, c.id)).status, 'completed');
    assert.equal(await stockOf(stack, p.id), 0, 'sold, not released');
    const pay = (await paymentsOf(stack, c.id))[0];
    assert.equal(pay[1], 'succeeded');
  });
});

describe('the PaymentIntent cannot be recorded', () => {
  const h = stackHooks({
    name: 'checkout-record',
    conf: paymentConf({ api: { workers: 1 }, 'job.checkouts': { interval: 1 } }),
    tallydEnv: { TALLY_FAULTS: 'checkout.record_pi:1' },
  });

  test('502 checkout_failed, the PaymentIntent canceled, the stock back; the key replays the 502; a new checkout gets a new id', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { stock: 2 });
    const b = await newBuyer(stack);
    const key = `rec-${Date.now()}`;
    const r1 = await checkout(stack, b, { product_id: p.id }, { idem: key });
    assertErr(r1, 502, 'checkout_failed');
    const [id] = (await stack.sql(`SELECT id FROM checkouts WHERE product_id = ${esc(p.id)}`))[0];
    const pis = await emuPis(stack, id);
    assert.equal(pis.length, 1, 'the PaymentIntent was made once');
    await until(async () => (await piOf(stack, pis[0].id)).status === 'canceled', 'the PaymentIntent to be canceled');
    await until(async () => (await stockOf(stack, p.id)) === 2, 'the stock to come back');
    const row = await checkoutRow(stack, id);
    assert.deepEqual([row.status, row.pi_state, row.stock_held], ['failed', 'canceled', 0]);
    const r2 = await checkout(stack, b, { product_id: p.id }, { idem: key });
    assert.equal(r2.status, 502, r2.body);
    assert.equal(r2.body, r1.body, 'the same answer, byte for byte');
    assert.equal(r2.headers.get('idempotent-replayed'), 'true');
    const r3 = await checkout(stack, b, { product_id: p.id });
    assert.equal(r3.status, 200, r3.body);
    assert.notEqual(r3.json.id, id, 'a new checkout, a new id');
    assert.equal(await stockOf(stack, p.id), 1);
    assert.equal((await emuPis(stack, r3.json.id)).length, 1);
    assertErr(await complete(stack, b, id), 409, 'payment_not_succeeded', undefined, 'the failed checkout');
  });
});

describe('the checkout dedupe and the host partner', () => {
  const h = stackHooks({ name: 'checkout-host', conf: paymentConf({ 'job.checkouts': { interval: 1 } }) });

  test('another partner\'s link while nothing is paid: a new checkout with its split; the same or no partner: the open one', async () => {
    const { stack } = h;
    const rich = await richProduct(stack, { stock: 5 });
    const host2 = await makeAccount(stack, 'host_partner');
    const slug2 = `host2-${Date.now()}`;
    assert.equal((await server(stack, 'POST', '/api/v1/host_partners', { slug: slug2, account_id: host2.id })).status, 201);
    const b = await newBuyer(stack);
    const c1 = await okCheckout(stack, b, { product_id: rich.product.id, host_partner_slug: rich.slug });
    assert.equal(c1.host_partner_slug, rich.slug);
    const dbl = await okCheckout(stack, b, { product_id: rich.product.id, host_partner_slug: rich.slug });
    assert.equal(dbl.id, c1.id, 'a double click is the same checkout');
    const none = await okCheckout(stack, b, { product_id: rich.product.id });
    assert.equal(none.id, c1.id, 'no partner named: the open checkout keeps its partner');
    const c2 = await okCheckout(stack, b, { product_id: rich.product.id, host_partner_slug: slug2 });
    assert.notEqual(c2.id, c1.id, 'another partner brought the buyer back: a new checkout');
    assert.equal(c2.host_partner_slug, slug2);
    assert.equal((await okCheckout(stack, b, { product_id: rich.product.id, host_partner_slug: slug2 })).id, c2.id,
      'and a double click on it is it');
    assert.equal((await checkoutRow(stack, c1.id)).status, 'expired', 'the earlier checkout is closed');
    await until(async () => (await piOf(stack, c1.payment_intent_id)).status === 'canceled',
      'the earlier PaymentIntent canceled');
    await until(async () => (await stockOf(stack, rich.product.id)) === 4, 'the earlier reservation released');
    assertErr(await confirmPi(stack, c1.payment_intent_id), 400, 'payment_intent_unexpected_state', undefined,
      'the earlier checkout cannot be paid');
    await paid(stack, c2.payment_intent_id);
    const r = await complete(stack, b, c2.id);
    assert.equal(r.status, 200, r.body);
    const hostRows = (await serverPayment(stack, r.json.id)).shares.filter((x) => x.role === 'HOST_PARTNER');
    assert.deepEqual(hostRows.map((x) => x.account_id), [host2.id], 'the new partner is credited');
    assert.ok(hostRows[0].amount_cent > 0);
    assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM shares WHERE account_id = ' +
      `${esc(rich.ids.HOST_PARTNER)}`), 0, 'the first partner is not');
    assert.equal((await paymentsOf(stack, c1.id)).length, 0, 'nothing booked for the earlier checkout');
  });

  test('while a payment is under way (3DS), the open checkout is answered whatever partner is named', async () => {
    const { stack } = h;
    const rich = await richProduct(stack, { stock: 5 });
    const host2 = await makeAccount(stack, 'host_partner');
    const slug2 = `host3-${Date.now()}`;
    assert.equal((await server(stack, 'POST', '/api/v1/host_partners', { slug: slug2, account_id: host2.id })).status, 201);
    const b = await newBuyer(stack);
    const c1 = await okCheckout(stack, b, { product_id: rich.product.id, host_partner_slug: rich.slug });
    const r = await confirmPi(stack, c1.payment_intent_id, 'pm_card_authenticationRequired');
    assert.equal(r.json.status, 'requires_action', JSON.stringify(r.json));
    await until(async () => (await checkoutRow(stack, c1.id)).status === 'requires_action',
      'Tally knows the payment is under way');
    const c2 = await okCheckout(stack, b, { product_id: rich.product.id, host_partner_slug: slug2 });
    assert.equal(c2.id, c1.id, 'the checkout being paid');
    assert.equal(c2.host_partner_slug, rich.slug, 'with its own partner');
    assert.equal(await stockOf(stack, rich.product.id), 4, 'one reservation');
  });
});
