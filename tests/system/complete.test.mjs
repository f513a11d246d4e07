/*
 * complete.test.mjs - completing a payment exactly once (core/complete.c)
 * against the Stripe emulator:
 * - 50 concurrent POST /api/v1/payments/complete plus the webhook (the
 *   emulator delivering every event 3 times, and the signed
 *   payment_intent.succeeded posted 5 more times at once): one payment
 *   row, one set of shares equal to the contract's split (every
 *   stakeholder), summing to the amount, one fee adjustment pair; every
 *   call answers 200 with the same payment id;
 * - Stripe failing while the completion reads the PaymentIntent: 500s and
 *   a hang are retried (200), a persistent 500 is a clear 502 and a later
 *   call books the payment once;
 * - tampering: another buyer's checkout is 404, extra fields are 400, a
 *   PaymentIntent whose amount or metadata was changed at Stripe books
 *   nothing (422 payment_mismatch; the webhook's event stored failed);
 *   the amount is the checkout's, whatever the product costs later;
 * - the reservation expiring while the payment succeeded (deliveries
 *   paused): the job's cancel fails at Stripe and it completes the
 *   payment (completed_via 'job'); the delayed events change nothing;
 * - the oversold defence: a reservation released although its
 *   PaymentIntent lived (set up in SQL), the last unit sold to another
 *   buyer, then the first PaymentIntent paid: its payment is booked
 *   refund_pending, refunded at the emulator once (origin 'oversold') and
 *   booked: status refunded, reversal rows summing to -amount.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  all, assertErr, assertLedger, asBuyer, checkoutRow, complete, emuObjects, emulatorFee, esc, eventRow,
  eventsFor, expectedSplit, flush, makeAccount, makeProduct, makeSeller, newBuyer, okCheckout, paid, paymentConf, paymentsOf, piOf,
  postWebhook, richProduct, server, serverPayment, splitOf, sql1, sqlNum, stockOf, until, withPausedWebhooks,
} from './lib/checkout_helpers.mjs';
import { startStack } from './lib/stack.mjs';

function stackHooks(opts) {
  const h = { stack: null };
  before(async () => {
    h.stack = await startStack({ stripe: true, ...opts });
  });
  afterEach((t) => h.stack?.noteTest(t));
  after(async () => {
    try {
      if (h.stack) {
        await h.stack.emu('POST', '/__emu/webhooks/config', { duplicate: 1, shuffle: false, pause: false });
        await flush(h.stack);
        await assertLedger(h.stack);
      }
    } finally {
      await h.stack?.stop();
    }
  });
  return h;
}

/* shareRows - a payment's share rows as sorted "kind role account amount" strings */
async function shareRows(stack, pay) {
  return (await stack.sql(`SELECT kind, role, account_id, amount_cent FROM shares WHERE payment_id = ${esc(pay)} ` +
    'ORDER BY kind, role, amount_cent')).map((r) => r.join(' '));
}

describe('exactly once', () => {
  const h = stackHooks({ name: 'complete', conf: paymentConf({ stripe: { timeout_ms: 1000 } }) });

  afterEach(async () => {
    await h.stack?.emu('DELETE', '/__emu/faults');
    await h.stack?.emu('POST', '/__emu/faults/release');
  });

  test('50 concurrent completions plus the webhook (each event 3x, and 5 more at once): one payment, one set of shares', async () => {
    const { stack } = h;
    /* 2520 + 500 = 3020: the estimate floors 2.9 % (87), the emulator rounds it (88) */
    const { product, slug, ids } = await richProduct(stack, { price_cent: 2520, agentBps: 1000, stock: 5 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
    assert.equal(c.amount_cent, 3020);
    await stack.emu('POST', '/__emu/webhooks/config', { duplicate: 3 });
    let succeeded;
    let answers;
    let direct;
    await stack.emu('POST', '/__emu/webhooks/pause');
    try {
      await paid(stack, c.payment_intent_id);
      [succeeded] = await eventsFor(stack, c.payment_intent_id, 'payment_intent.succeeded');
      assert.ok(succeeded, 'the emulator has the payment_intent.succeeded event');
      /* the completions start; the deliveries resume in the middle of them */
      const calls = all(50, () => complete(stack, b, c.id, { timeoutMs: 30000 }));
      const posts = all(5, () => postWebhook(stack, succeeded));
      await stack.emu('POST', '/__emu/webhooks/resume');
      [answers, direct] = await Promise.all([calls, posts]);
      await flush(stack);
    } finally {
      await stack.emu('POST', '/__emu/webhooks/config', { duplicate: 1, pause: false });
    }
    assert.deepEqual(answers.map((r) => r.status), Array(50).fill(200),
      answers.filter((r) => r.status !== 200).map((r) => r.body).join('\n'));
    const payIds = new Set(answers.map((r) => r.json.id));
    assert.equal(payIds.size, 1, `one payment id in every answer: ${[...payIds]}`);
    const [pay] = payIds;
    for (const r of direct) {
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.received, true);
      assert.equal(r.json.event_id, succeeded.id);
    }
    assert.ok(direct.filter((r) => r.json.duplicate).length >= 4, 'the same event again is a duplicate');
    /* the database */
    assert.equal((await paymentsOf(stack, c.id)).length, 1, 'one payment row');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM payments WHERE pi_id = ${esc(c.payment_intent_id)}`), 1);
    const p = (await server(stack, 'GET', `/api/v1/payments/${pay}`)).json;
    assert.deepEqual([p.amount_cent, p.status, p.checkout_id, p.payment_intent_id], [3020, 'succeeded', c.id, c.payment_intent_id]);
    assert.ok(['client', 'webhook'].includes(p.completed_via), p.completed_via);
    const want = expectedSplit({ price: 2520, agentBps: 1000, hostBps: 1000, ambBps: 1000 });
    assert.deepEqual(splitOf(p), want.shares, 'the split of the contract, one row per stakeholder');
    assert.equal(p.shares.filter((s) => s.kind === 'split').length, 6, 'six split rows, no more');
    for (const s of p.shares.filter((x) => x.kind === 'split')) assert.equal(s.account_id, ids[s.role] ?? s.account_id);
    const fee = emulatorFee(3020);
    assert.equal(fee - want.shares.STRIPE_FEE, 1, 'the scenario has a one-cent fee difference');
    assert.deepEqual(splitOf(p, 'fee_adjustment'), { STRIPE_FEE: 1, TALENT: -1 }, 'one adjustment pair');
    assert.equal(p.shares.filter((s) => s.kind === 'fee_adjustment').length, 2);
    assert.deepEqual([p.stripe_fee_estimate_cent, p.stripe_fee_actual_cent], [want.shares.STRIPE_FEE, fee]);
    assert.equal(p.shares.reduce((a, s) => a + s.amount_cent, 0), 3020, 'the rows sum to the amount');
    /* every answer is that payment, and so is a later call */
    const later = await complete(stack, b, c.id);
    assert.deepEqual([later.status, later.json.id], [200, pay]);
    assert.equal((await checkoutRow(stack, c.id)).status, 'completed');
    const g = await asBuyer(stack, b, 'GET', `/api/v1/checkout/${c.id}`);
    assert.deepEqual([g.json.status, g.json.payment_id, g.json.client_secret], ['completed', pay, null]);
    /* each event stored once; the success events processed */
    const stored = await stack.sql(`SELECT type, status, COUNT(*) FROM webhook_events WHERE object_id IN ` +
      `(${esc(c.payment_intent_id)}, ${esc(p.charge_id)}) GROUP BY id, type, status ORDER BY type`);
    for (const [type, status, n] of stored) {
      assert.equal(n, '1', `${type} stored once`);
      if (['payment_intent.succeeded', 'charge.succeeded', 'charge.updated'].includes(type)) {
        assert.equal(status, 'processed', `${type} processed`);
      }
    }
    assert.equal(await stockOf(stack, product.id), 4, 'the unit sold once');
  });

  test('the split is the checkout\'s snapshot: custom shares, a bps fee, floors, the ambassador only while linked', async () => {
    const { stack } = h;
    const now = Math.floor(Date.now() / 1000);
    const { product, slug, ids } = await richProduct(stack, { price_cent: 3333, agentBps: 333 });
    /* custom shares: host partner 777 bps, ambassador 1234 bps; fee 15 % of the subtotal */
    const hp = await makeAccount(stack, 'host_partner');
    const slug2 = `${slug}-b`;
    assert.equal((await server(stack, 'POST', '/api/v1/host_partners', { slug: slug2, account_id: hp.id, share_bps: 777 })).status, 201);
    const link = await server(stack, 'POST', `/api/v1/accounts/${ids.TALENT}/ambassador`,
      { ambassador_account_id: ids.AMBASSADOR, share_bps: 1234, active_from: now - 60 });
    assert.equal(link.status, 200, link.body);
    assert.equal((await server(stack, 'POST', `/api/v1/products/${product.id}`, { fee_bps: 1500 })).status, 200);
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: product.id, quantity: 3, host_partner_slug: slug2 });
    /* 9999 subtotal, fee floor(1499.85) = 1499 */
    assert.deepEqual([c.subtotal_cent, c.platform_fee_cent, c.amount_cent], [9999, 1499, 11498]);
    /* later changes do not reach the checkout */
    assert.equal((await server(stack, 'POST', `/api/v1/products/${product.id}`,
      { agent_bps: 0, price_cent: 100000, fee_fixed_cent: 0 })).status, 200);
    assert.equal((await server(stack, 'POST', `/api/v1/accounts/${ids.TALENT}/ambassador`,
      { ambassador_account_id: ids.AMBASSADOR, share_bps: 0 })).status, 200);
    await paid(stack, c.payment_intent_id);
    const r = await complete(stack, b, c.id);
    assert.equal(r.status, 200, r.body);
    const want = expectedSplit({ price: 3333, qty: 3, fee: 1499, agentBps: 333, hostBps: 777, ambBps: 1234 });
    assert.deepEqual(want.shares, {
      AGENT: 332, HOST_PARTNER: 116, AMBASSADOR: 184, STRIPE_FEE: 363, PLATFORM: 1199, TALENT: 9304,
    }, 'the model, worked out by hand');
    const full = await serverPayment(stack, r.json.id);
    assert.deepEqual(splitOf(full), want.shares);
    const byRole = Object.fromEntries(full.shares.filter((x) => x.kind === 'split').map((x) => [x.role, x.account_id]));
    assert.deepEqual([byRole.HOST_PARTNER, byRole.AMBASSADOR, byRole.AGENT, byRole.TALENT],
      [hp.id, ids.AMBASSADOR, ids.AGENT, ids.TALENT], 'each share to its account');
    /* links outside their window give the ambassador nothing */
    for (const [from, until] of [[now - 7200, now - 3600], [now + 3600, 0]]) {
      const t2 = await makeSeller(stack);
      const amb = await makeAccount(stack, 'ambassador');
      const l2 = await server(stack, 'POST', `/api/v1/accounts/${t2.id}/ambassador`,
        { ambassador_account_id: amb.id, active_from: from, ...(until ? { active_until: until } : {}) });
      assert.equal(l2.status, 200, l2.body);
      const p2 = await makeProduct(stack, { seller_account_id: t2.id, price_cent: 2000 });
      const c2 = await okCheckout(stack, b, { product_id: p2.id });
      await paid(stack, c2.payment_intent_id);
      const r2 = await complete(stack, b, c2.id);
      assert.deepEqual(splitOf(await serverPayment(stack, r2.json.id)), expectedSplit({ price: 2000 }).shares, `no ambassador share (link ${from}..${until})`);
    }
  });

  test('a 500 on reading the PaymentIntent is retried; a persistent one is a clear 502, then booked once', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 2000 });
    const b = await newBuyer(stack);
    const c1 = await okCheckout(stack, b, { product_id: p.id, quantity: 1 });
    const c2 = await okCheckout(stack, b, { product_id: p.id, quantity: 2 });
    const c3 = await okCheckout(stack, b, { product_id: p.id, quantity: 3 });
    await withPausedWebhooks(stack, async () => {
      for (const c of [c1, c2, c3]) await paid(stack, c.payment_intent_id);
      /* two 500s: the GET is retried */
      await stack.emu('POST', '/__emu/faults',
        { method: 'GET', path: `^/v1/payment_intents/${c1.payment_intent_id}$`, mode: 'error_500_stored', count: 2 });
      const r1 = await complete(stack, b, c1.id);
      assert.equal(r1.status, 200, r1.body);
      assert.equal(r1.json.amount_cent, 2500);
      const { requests } = await stack.emu('GET', '/__emu/requests');
      assert.deepEqual(requests.filter((q) => q.method === 'GET' && q.path === `/v1/payment_intents/${c1.payment_intent_id}`)
        .map((q) => q.status), [500, 500, 200], 'two 500s, then the answer');
      /* a 500 every time: 502, nothing booked; later, one payment */
      await stack.emu('POST', '/__emu/faults',
        { method: 'GET', path: `^/v1/payment_intents/${c2.payment_intent_id}$`, mode: 'error_500_stored', count: 100 });
      const r2 = await complete(stack, b, c2.id);
      assertErr(r2, 502, 'stripe_unavailable');
      assert.equal((await paymentsOf(stack, c2.id)).length, 0, 'nothing booked');
      await stack.emu('DELETE', '/__emu/faults');
      const r2b = await complete(stack, b, c2.id);
      assert.equal(r2b.status, 200, r2b.body);
      assert.equal(r2b.json.amount_cent, 4500);
      /* a hang beyond the 1 s timeout: a GET is safe to send again */
      await stack.emu('POST', '/__emu/faults',
        { method: 'GET', path: `^/v1/payment_intents/${c3.payment_intent_id}$`, mode: 'hang_before', count: 1 });
      const r3 = await complete(stack, b, c3.id, { timeoutMs: 20000 });
      assert.equal(r3.status, 200, r3.body);
      assert.equal(r3.json.amount_cent, 6500);
      await stack.emu('POST', '/__emu/faults/release');
    });
    await flush(stack);
    for (const [c, amount] of [[c1, 2500], [c2, 4500], [c3, 6500]]) {
      const rows = await paymentsOf(stack, c.id);
      assert.equal(rows.length, 1, `one payment for ${c.id}`);
      assert.deepEqual([rows[0][2], Number(rows[0][3])], ['client', amount], 'booked by the client call, once');
    }
  });

  test('another buyer cannot complete (nor see) my checkout; extra fields are refused', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 2000 });
    const b = await newBuyer(stack);
    const other = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    assertErr(await complete(stack, b, c.id), 409, 'payment_not_succeeded', undefined, 'before paying');
    await paid(stack, c.payment_intent_id);
    await flush(stack);
    assertErr(await complete(stack, other, c.id), 404, 'resource_missing', undefined, 'another buyer');
    assertErr(await complete(stack, other, 'chk_nothere'), 404, 'resource_missing');
    for (const [k, v] of [['amount_cent', 1], ['buyer_account_id', 'x'], ['payment_intent_id', c.payment_intent_id],
      ['seller_account_id', 'acc_platform']]) {
      assertErr(await asBuyer(stack, b, 'POST', '/api/v1/payments/complete', { checkout_id: c.id, [k]: v }),
        400, 'parameter_unknown', k);
    }
    assertErr(await asBuyer(stack, b, 'POST', '/api/v1/payments/complete', {}), 400, 'parameter_missing', 'checkout_id');
    assertErr(await server(stack, 'POST', '/api/v1/payments/complete', { checkout_id: c.id }), 403, 'forbidden');
    const mine = await complete(stack, b, c.id);
    assert.equal(mine.status, 200, mine.body);
    assert.equal(mine.json.amount_cent, 2500);
  });

  test('a PaymentIntent whose amount was changed at Stripe books nothing: 422 payment_mismatch, the event stored failed', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 2000, stock: 3 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    /* whoever could change it: the PaymentIntent now asks for 1.00 */
    const upd = await stack.stripe('POST', `/v1/payment_intents/${c.payment_intent_id}`, { amount: '100' });
    assert.equal(upd.status, 200, JSON.stringify(upd.json));
    const pi = await paid(stack, c.payment_intent_id);
    assert.equal(pi.amount_received, 100);
    await flush(stack);
    assertErr(await complete(stack, b, c.id), 422, 'payment_mismatch', 'amount_received');
    assert.equal((await paymentsOf(stack, c.id)).length, 0, 'no payment');
    const [ev] = await eventsFor(stack, c.payment_intent_id, 'payment_intent.succeeded');
    const row = await eventRow(stack, ev.id);
    assert.deepEqual([row.status, row.last_error], ['failed', 'payment_mismatch'], 'the webhook booked nothing either');
    assert.equal((await checkoutRow(stack, c.id)).status, 'open', 'the checkout is not completed');
    assert.equal(await stockOf(stack, p.id), 2, 'the unit stays reserved, not sold');
  });

  test('a PaymentIntent switched to another currency books nothing', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 2000 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    const upd = await stack.stripe('POST', `/v1/payment_intents/${c.payment_intent_id}`, { currency: 'eur' });
    assert.equal(upd.status, 200, JSON.stringify(upd.json));
    const pi = await paid(stack, c.payment_intent_id);
    assert.deepEqual([pi.currency, pi.amount_received], ['eur', 2500]);
    await flush(stack);
    assertErr(await complete(stack, b, c.id), 422, 'payment_mismatch', 'currency');
    assert.equal((await paymentsOf(stack, c.id)).length, 0);
  });

  test('a PaymentIntent pointed at another checkout pays neither', async () => {
    const { stack } = h;
    const p1 = await makeProduct(stack, { price_cent: 2000 });
    const p2 = await makeProduct(stack, { price_cent: 2000 });
    const b = await newBuyer(stack);
    const b2 = await newBuyer(stack);
    const c1 = await okCheckout(stack, b, { product_id: p1.id });
    const c2 = await okCheckout(stack, b2, { product_id: p2.id });
    /* same amount and currency: only the checkout named differs */
    const upd = await stack.stripe('POST', `/v1/payment_intents/${c1.payment_intent_id}`,
      { 'metadata[checkout_id]': c2.id, 'metadata[tally_id]': c2.id });
    assert.equal(upd.status, 200, JSON.stringify(upd.json));
    await paid(stack, c1.payment_intent_id);
    await flush(stack);
    assertErr(await complete(stack, b, c1.id), 422, 'payment_mismatch', 'metadata.checkout_id');
    assertErr(await complete(stack, b2, c2.id), 409, 'payment_not_succeeded', undefined, 'c2 was not paid');
    assert.equal((await paymentsOf(stack, c1.id)).length + (await paymentsOf(stack, c2.id)).length, 0, 'nothing booked');
    const [ev] = await eventsFor(stack, c1.payment_intent_id, 'payment_intent.succeeded');
    assert.equal((await eventRow(stack, ev.id)).status, 'failed');
    assert.equal((await eventRow(stack, ev.id)).last_error, 'payment_mismatch');
  });

  test('the amount is the checkout\'s: a price change after the checkout changes nothing paid', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 2000 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    assert.equal((await server(stack, 'POST', `/api/v1/products/${p.id}`, { price_cent: 9000 })).status, 200);
    await paid(stack, c.payment_intent_id);
    const r = await complete(stack, b, c.id);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.amount_cent, 2500);
    assert.deepEqual(splitOf(await serverPayment(stack, r.json.id)), expectedSplit({ price: 2000 }).shares);
    assert.equal((await piOf(stack, c.payment_intent_id)).amount_received, 2500);
  });
});

describe('expiry and the oversold defence', () => {
  const h = stackHooks({
    name: 'complete-expiry',
    conf: paymentConf({
      pricing: { reservation_seconds: 10 }, 'job.checkouts': { interval: 1 }, 'job.refunds': { interval: 1 },
    }),
  });

  test('the reservation expires while the payment succeeded: the job completes it; the delayed events change nothing', async () => {
    const { stack } = h;
    const p = await makeProduct(stack, { price_cent: 2000, stock: 3 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    let pay;
    await withPausedWebhooks(stack, async () => {
      await paid(stack, c.payment_intent_id);
      /* the reservation (10 s) runs out; the job's cancel is refused: it completes instead */
      const rows = await until(async () => {
        const r = await paymentsOf(stack, c.id);
        return r.length ? r : null;
      }, 'the job to complete the payment', 30000);
      [pay] = rows;
      assert.deepEqual([pay[1], pay[2], Number(pay[3])], ['succeeded', 'job', 2500], 'completed by the job');
      assert.equal((await piOf(stack, c.payment_intent_id)).status, 'succeeded', 'not canceled');
      assert.equal((await checkoutRow(stack, c.id)).status, 'completed');
      assert.equal(await stockOf(stack, p.id), 2, 'the unit is sold, not released');
    });
    await flush(stack);
    const evs = await eventsFor(stack, c.payment_intent_id);
    assert.ok(evs.length >= 3, 'the delayed events were delivered');
    for (const e of evs) {
      const row = await eventRow(stack, e.id);
      assert.ok(row && ['processed', 'ignored'].includes(row.status), `${e.type}: ${JSON.stringify(row)}`);
    }
    const rows = await paymentsOf(stack, c.id);
    assert.equal(rows.length, 1, 'still one payment');
    assert.equal(rows[0][2], 'job', 'still the job\'s');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payment_id = ${esc(pay[0])} AND kind = 'split'`), 3);
    const again = await complete(stack, b, c.id);
    assert.deepEqual([again.status, again.json.id], [200, pay[0]]);
    assert.equal(await stockOf(stack, p.id), 2);
  });

  test('a released reservation whose PaymentIntent is paid after the last unit was sold: refunded, never oversold', async (t) => {
    const { stack } = h;
    /* the refund is asynchronous at the emulator: pending, then the janitor's look-up */
    await stack.emu('POST', '/__emu/config', { refund_async: 1 });
    t.after(() => stack.emu('POST', '/__emu/config', { refund_async: 0 }));
    const p = await makeProduct(stack, { price_cent: 2000, stock: 1 });
    const a = await newBuyer(stack);
    const bb = await newBuyer(stack);
    const ca = await okCheckout(stack, a, { product_id: p.id });
    assert.equal(await stockOf(stack, p.id), 0);
    /* a bug elsewhere released A's unit although its PaymentIntent lives on */
    await stack.sql(`UPDATE checkouts SET status = 'expired', open_key = NULL, stock_held = 0, pi_state = 'canceled' ` +
      `WHERE id = ${esc(ca.id)}; UPDATE products SET stock = stock + 1 WHERE id = ${esc(p.id)}`);
    /* B buys the last unit and pays */
    const cb = await okCheckout(stack, bb, { product_id: p.id });
    await paid(stack, cb.payment_intent_id);
    const rb = await complete(stack, bb, cb.id);
    assert.equal(rb.status, 200, rb.body);
    assert.equal(await stockOf(stack, p.id), 0);
    /* now A's PaymentIntent is paid */
    await paid(stack, ca.payment_intent_id);
    await flush(stack);
    const [pay] = await until(async () => {
      const r = await paymentsOf(stack, ca.id);
      return r.length ? r : null;
    }, 'A\'s payment to be booked');
    const payId = pay[0];
    assert.equal(pay[2], 'webhook');
    /* it was booked as refund_pending (then refunded) */
    await stack.waitForLog((l) => l.payment_id === payId && /out of stock: to be refunded/.test(l.msg),
      { what: 'the out-of-stock completion in the log' });
    const refund = await until(async () => {
      const r = await stack.sql(`SELECT id, origin, amount_cent, state, IFNULL(stripe_refund_id, '') FROM refunds ` +
        `WHERE payment_id = ${esc(payId)}`);
      return r.length && r[0][4] ? r : null;
    }, 'the refund to be created at Stripe');
    assert.equal(refund.length, 1, 'one refund');
    const [rid, origin, amount, , stripeRefund] = refund[0];
    assert.deepEqual([origin, Number(amount)], ['oversold', 2500]);
    /*
     * Tally asks Stripe about a pending refund after 60 s (refund.* events
     * are not acted on): let that minute pass for this refund.  (The
     * emulator makes refunds asynchronous for this test, see above: a card
     * refund would be succeeded at once and booked from the answer.)
     */
    await stack.sql(`UPDATE refunds SET updated_at = NOW(3) - INTERVAL 2 MINUTE WHERE id = ${esc(rid)} AND state = 'pending'`);
    await until(async () => (await sql1(stack, `SELECT status FROM payments WHERE id = ${esc(payId)}`)) === 'refunded',
      'the payment to be refunded', 20000);
    const rev = await stack.sql(`SELECT SUM(amount_cent), COUNT(*) FROM shares WHERE payment_id = ${esc(payId)} AND kind = 'refund'`);
    assert.equal(Number(rev[0][0]), -2500, 'the reversal rows sum to -amount');
    assert.ok(Number(rev[0][1]) >= 2, 'reversal rows for the stakeholders');
    const net = await sqlNum(stack, `SELECT SUM(amount_cent) FROM shares WHERE payment_id = ${esc(payId)}`);
    assert.equal(net, 0, 'A\'s payment nets to zero');
    const atStripe = (await emuObjects(stack, 'refunds')).filter((r) => r.payment_intent === ca.payment_intent_id);
    assert.equal(atStripe.length, 1, 'refunded once at the emulator');
    assert.deepEqual([atStripe[0].id, atStripe[0].amount, atStripe[0].metadata.tally_id], [stripeRefund, 2500, rid]);
    assert.equal(await stockOf(stack, p.id), 0, 'never below zero');
    const pb = (await paymentsOf(stack, cb.id))[0];
    assert.equal(pb[1], 'succeeded', 'B keeps what B bought');
  });
});
