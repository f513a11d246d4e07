/*
 * webhooks.test.mjs - Stripe's events at /webhooks/stripe (core/webhook.c)
 * with the emulator delivering them, and crafted events signed with the
 * stack's secret:
 * - the same purchase scenario (a decline, a success with every
 *   stakeholder and a fee adjustment, a payment that is processing first)
 *   run with clean delivery and with each event 3x in shuffled order ends
 *   in the same state: checkouts, payments, shares, stock; the clean run
 *   also matches the contract's split;
 * - a bad signature (wrong secret, tampered body, stale, missing, the
 *   other endpoint's secret) is 400, counted per source address in
 *   webhook_refusals, and never stored; unknown types are stored and
 *   acknowledged (ignored); a duplicate is acknowledged and does nothing;
 * - statuses move forward only: an older event changes nothing, a
 *   terminal status never changes, an old processing after success
 *   changes nothing;
 * - a forged payment_intent.succeeded whose amount_received differs books
 *   nothing: stored failed, retried by the webhooks job, dead after 10
 *   attempts, listed by tallyctl webhook list --dead;
 * - a charge.updated that failed because it came before the payment is
 *   processed by tallyctl webhook replay once the payment exists;
 * - a decline leaves the checkout payment_failed (complete: 409); an
 *   authorisation alone (manual capture) completes nothing until captured.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertErr, assertLedger, checkoutRow, complete, confirmPi, craftEvent, esc, eventRow, eventsFor, expectedSplit,
  fastBuyer, flush, makeProduct, newBuyer, okCheckout, paid, paymentConf, paymentsOf, piOf, postWebhook,
  richProduct, server, splitOf, stockOf, until,
} from './lib/checkout_helpers.mjs';
import { sleep, startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({
    name: 'webhooks', stripe: true, conf: paymentConf({ 'job.webhooks': { interval: 1 } }),
  });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) {
      await stack.emu('POST', '/__emu/webhooks/config', { duplicate: 1, shuffle: false, pause: false });
      await flush(stack);
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

/*
 * settleEvents - every stored event about the PaymentIntents 'pis' is
 * done (processed / ignored): a failed one (it came before what it
 * needs) is made due at once so the webhooks job retries it, as it would
 * after its backoff
 */
async function settleEvents(pis) {
  const about = pis.map((p) => `payload LIKE '%${esc(p).slice(1, -1)}%'`).join(' OR ');
  await until(async () => {
    const pending = await stack.sql(`SELECT id FROM webhook_events WHERE status IN ('received', 'failed') AND (${about})`);
    if (!pending.length) return true;
    await stack.sql(`UPDATE webhook_events SET next_attempt_at = NOW(3) WHERE id IN (${pending.map((r) => esc(r[0])).join(', ')})`);
    return false;
  }, 'every event of the scenario to be processed', 30000);
}

/*
 * scenario - one purchase story, delivered as configured; returns its
 * final state with accounts replaced by roles (comparable across runs)
 */
async function scenario(delivery) {
  await stack.emu('POST', '/__emu/webhooks/config', delivery);
  try {
    const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000, stock: 10 });
    const [ba, bb, bc] = [fastBuyer(stack), fastBuyer(stack), fastBuyer(stack)];
    const ca = await okCheckout(stack, ba, { product_id: product.id, host_partner_slug: slug });
    const cb = await okCheckout(stack, bb, { product_id: product.id, quantity: 2, host_partner_slug: slug });
    const cc = await okCheckout(stack, bc, { product_id: product.id });
    /* A is declined; B pays; C is processing, then settles */
    const da = await confirmPi(stack, ca.payment_intent_id, 'pm_card_chargeDeclined');
    assert.equal(da.status, 402, JSON.stringify(da.json));
    await paid(stack, cb.payment_intent_id);
    const pc = await confirmPi(stack, cc.payment_intent_id, 'pm_card_processing');
    assert.equal(pc.json.status, 'processing', JSON.stringify(pc.json));
    await stack.emu('POST', `/__emu/payment_intents/${cc.payment_intent_id}/settle`, {});
    await flush(stack, 20000);
    const pis = [ca, cb, cc].map((c) => c.payment_intent_id);
    await settleEvents(pis);
    const state = { stock: await stockOf(stack, product.id) };
    for (const [name, c] of Object.entries({ A: ca, B: cb, C: cc })) {
      const row = await checkoutRow(stack, c.id);
      const pays = await paymentsOf(stack, c.id);
      const s = { status: row.status, stock_held: row.stock_held, payments: pays.length };
      if (pays.length) {
        const p = (await server(stack, 'GET', `/api/v1/payments/${pays[0][0]}`)).json;
        s.payment = {
          status: p.status,
          amount: p.amount_cent,
          fee_estimate: p.stripe_fee_estimate_cent,
          fee_actual: p.stripe_fee_actual_cent,
          shares: p.shares.map((x) => `${x.kind} ${x.role} ${x.amount_cent}`).sort(),
        };
      }
      state[name] = s;
    }
    return { state, product, checkouts: { A: ca, B: cb, C: cc } };
  } finally {
    await stack.emu('POST', '/__emu/webhooks/config', { duplicate: 1, shuffle: false });
  }
}

describe('duplicates and shuffled order', () => {
  test('each event 3x in shuffled order ends in the same state as clean delivery', async () => {
    const clean = await scenario({ duplicate: 1, shuffle: false });
    const chaos = await scenario({ duplicate: 3, shuffle: true, shuffle_window_ms: 300 });
    /* the clean run is right by the contract */
    const s = clean.state;
    assert.equal(s.A.status, 'payment_failed');
    assert.deepEqual([s.A.payments, s.A.stock_held], [0, 1], 'A has no payment and still holds its unit');
    const wantB = expectedSplit({ price: 2520, qty: 2, agentBps: 1000, hostBps: 1000, ambBps: 1000 });
    const wantC = expectedSplit({ price: 2520, qty: 1, agentBps: 1000, ambBps: 1000 });
    for (const [name, want] of [['B', wantB], ['C', wantC]]) {
      const x = s[name];
      assert.equal(x.status, 'completed', `${name} completed`);
      assert.equal(x.payments, 1);
      assert.equal(x.payment.amount, want.amount);
      assert.equal(x.payment.status, 'succeeded');
      const rows = x.payment.shares.map((t) => {
        const [kind, role, a] = t.split(' ');
        return { kind, role, amount_cent: Number(a) };
      });
      const split = splitOf({ shares: rows });
      assert.deepEqual(split, want.shares, `${name}: the split`);
      const d = x.payment.fee_actual - x.payment.fee_estimate;
      assert.equal(d, 1, `${name}: the emulator's fee is one cent above the estimate`);
      assert.deepEqual(x.payment.shares.filter((t) => t.startsWith('fee_adjustment')).sort(),
        ['fee_adjustment STRIPE_FEE 1', 'fee_adjustment TALENT -1'], `${name}: one adjustment pair`);
    }
    assert.equal(s.stock, 6, '10 - 1 (A, held) - 2 (B) - 1 (C)');
    /* and the chaotic run ends the same */
    assert.deepEqual(chaos.state, clean.state, 'duplicates and shuffling change nothing');
    /* the chaos was real: copies were delivered and acknowledged as duplicates */
    const { deliveries } = await stack.emu('GET', '/__emu/webhooks/deliveries');
    const pis = Object.values(chaos.checkouts).map((c) => c.payment_intent_id);
    const evIds = new Set((await Promise.all(pis.map((p) => eventsFor(stack, p)))).flat().map((e) => e.id));
    const copies = deliveries.filter((d) => evIds.has(d.event_id) && d.copy > 0 && d.status === 200);
    assert.ok(copies.length >= evIds.size, `copies were delivered (${copies.length} for ${evIds.size} events)`);
  });
});

describe('signatures and storage', () => {
  test('a bad signature is 400, counted per source address, and never stored', async () => {
    const from = '127.0.0.23';
    const ev = craftEvent('customer.created', { id: 'cus_sig', object: 'customer' });
    const body = JSON.stringify(ev);
    const now = Math.floor(Date.now() / 1000);
    const cases = {
      'wrong secret': stack.signWebhook(body, 'whsec_not_the_secret'),
      'tampered body': stack.signWebhook(body.replace('cus_sig', 'cus_sih')),
      stale: stack.signWebhook(body, stack.whsec, now - 1000),
      'no v1': `t=${now}`,
      garbage: 'hello',
    };
    let n = 0;
    for (const [what, sig] of Object.entries(cases)) {
      const r = await postWebhook(stack, body, { signature: sig, from });
      assertErr(r, 400, 'signature_invalid', undefined, what);
      n++;
    }
    /* the Connect endpoint does not take the platform secret */
    assertErr(await postWebhook(stack, body, { connect: true, secret: stack.whsec, from }), 400, 'signature_invalid');
    n++;
    const missing = await postWebhook(stack, body, { signature: '', from });
    assert.equal(missing.status, 400, missing.body);
    n++;
    /* counted in memory, written in aggregate within a second or so */
    const counted = async () => (await stack.sql(`SELECT refusals FROM webhook_refusals WHERE source_addr = '${from}'`));
    await until(async () => JSON.stringify(await counted()) === JSON.stringify([[String(n)]]),
      'every refusal counted for 127.0.0.23', 10000);
    assert.equal(await eventRow(stack, ev.id), null, 'the unverified event is not stored');
    /* the right signature: stored, ignored (an unknown type) */
    const ok = await postWebhook(stack, body, { from });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual([ok.json.received, ok.json.event_id, ok.json.status, ok.json.duplicate], [true, ev.id, 'ignored', false]);
    assert.equal((await eventRow(stack, ev.id)).status, 'ignored');
    await sleep(1500);		/* a refusal would be written by now */
    assert.deepEqual(await counted(), [[String(n)]], 'an accepted delivery is not a refusal');
  });

  test('every v1 of the header counts (a secret rotation); a timestamp within the tolerance is fine', async () => {
    const ev = craftEvent('customer.created', { id: 'cus_rot', object: 'customer' });
    const body = JSON.stringify(ev);
    const t = Math.floor(Date.now() / 1000) - 200;
    const good = stack.signWebhook(body, stack.whsec, t).split(',v1=')[1];
    const bad = stack.signWebhook(body, 'whsec_old_secret', t).split(',v1=')[1];
    const r = await postWebhook(stack, body, { signature: `t=${t},v1=${bad},v1=${good}` });
    assert.deepEqual([r.status, r.json?.status], [200, 'ignored'], r.body);
    const r2 = await postWebhook(stack, body, { signature: `t=${t},v1=${bad},v1=${bad}` });
    assert.equal(r2.status, 400, r2.body);
  });

  test('unknown types are stored and acknowledged; duplicates change nothing; Connect events too', async () => {
    const ev = craftEvent('customer.subscription.paused', { id: 'sub_123', object: 'subscription' });
    const r1 = await postWebhook(stack, ev);
    assert.deepEqual([r1.status, r1.json.status, r1.json.duplicate], [200, 'ignored', false], r1.body);
    const r2 = await postWebhook(stack, ev);
    assert.deepEqual([r2.status, r2.json.status, r2.json.duplicate], [200, 'ignored', true], r2.body);
    const row = await eventRow(stack, ev.id);
    assert.deepEqual([row.status, row.attempts, row.type], ['ignored', 1, 'customer.subscription.paused']);
    const cev = craftEvent('account.updated', { id: 'acct_1X', object: 'account' });
    cev.account = 'acct_1X';
    const r3 = await postWebhook(stack, cev, { connect: true });
    assert.deepEqual([r3.status, r3.json.status], [200, 'ignored'], r3.body);
    const ep = await stack.sql(`SELECT endpoint FROM webhook_events WHERE id = ${esc(cev.id)}`);
    assert.deepEqual(ep, [['connect']]);
    /* a body that verifies but is no event: 400, not stored */
    const bad = await postWebhook(stack, '{"hello":"world"}');
    assert.equal(bad.status, 400, bad.body);
  });

  test('events for a checkout this Tally does not have are stored ignored, never retried', async () => {
    const chk = 'chk_otherenvironment01';
    const pi = (status) => ({
      id: 'pi_otherenv01', object: 'payment_intent', amount: 3000, amount_received: status === 'succeeded' ? 3000 : 0,
      currency: 'usd', status, latest_charge: null, metadata: { checkout_id: chk, tally_id: chk },
    });
    const types = [['payment_intent.succeeded', 'succeeded'], ['payment_intent.canceled', 'canceled'],
      ['payment_intent.payment_failed', 'requires_payment_method']];
    for (const [type, status] of types) {
      const ev = craftEvent(type, pi(status));
      const r = await postWebhook(stack, ev);
      assert.deepEqual([r.status, r.json.status], [200, 'ignored'], `${type}: ${r.body}`);
      const row = await eventRow(stack, ev.id);
      assert.equal(row.status, 'ignored', type);
      const due = await stack.sql(`SELECT next_attempt_at IS NULL FROM webhook_events WHERE id = ${esc(ev.id)}`);
      assert.deepEqual(due, [['1']], `${type}: not due for a retry`);
    }
    assert.equal((await stack.sql(`SELECT COUNT(*) FROM payments WHERE pi_id = 'pi_otherenv01'`))[0][0], '0');
  });
});

describe('state machines', () => {
  test('a PaymentIntent event older than the last applied one changes nothing; a terminal status never changes', async () => {
    const p = await makeProduct(stack, { price_cent: 2000, stock: 4 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    const pi = await piOf(stack, c.payment_intent_id);
    const T = Math.floor(Date.now() / 1000) - 1000;
    const send = async (type, created, status) => {
      const r = await postWebhook(stack, craftEvent(type, { ...pi, status }, { created }));
      assert.equal(r.status, 200, r.body);
      return (await checkoutRow(stack, c.id)).status;
    };
    assert.equal(await send('payment_intent.payment_failed', T, 'requires_payment_method'), 'payment_failed');
    assert.equal(await send('payment_intent.processing', T - 50, 'processing'), 'payment_failed', 'older: no change');
    assert.equal(await send('payment_intent.requires_action', T + 50, 'requires_action'), 'requires_action', 'newer: applied');
    assert.equal(await send('payment_intent.canceled', T + 10, 'canceled'), 'requires_action', 'older cancel: no change');
    assert.equal(await stockOf(stack, p.id), 3, 'still reserved');
    /* the buyer still pays: completed, and no later event reopens it */
    await paid(stack, c.payment_intent_id);
    await flush(stack);
    assert.equal((await checkoutRow(stack, c.id)).status, 'completed');
    const now = Math.floor(Date.now() / 1000);
    assert.equal(await send('payment_intent.processing', now - 3600, 'processing'), 'completed', 'an old processing');
    assert.equal(await send('payment_intent.payment_failed', now + 60, 'requires_payment_method'), 'completed', 'a new failure');
    assert.equal(await send('payment_intent.canceled', now + 120, 'canceled'), 'completed', 'a new cancel');
    assert.equal((await paymentsOf(stack, c.id)).length, 1);
    assert.equal(await stockOf(stack, p.id), 3, 'the unit stays sold');
  });

  test('a decline: checkout payment_failed, complete 409; a real cancel later releases the stock', async () => {
    const p = await makeProduct(stack, { price_cent: 2000, stock: 2 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    const d = await confirmPi(stack, c.payment_intent_id, 'pm_card_chargeDeclined');
    assert.equal(d.status, 402);
    assert.equal(d.json.error.code, 'card_declined');
    await flush(stack);
    assert.equal((await checkoutRow(stack, c.id)).status, 'payment_failed');
    assertErr(await complete(stack, b, c.id), 409, 'payment_not_succeeded');
    const g = await stack.sql(`SELECT COUNT(*) FROM payments WHERE checkout_id = ${esc(c.id)}`);
    assert.deepEqual(g, [['0']]);
    /* the buyer gives up; Stripe cancels: the unit comes back */
    const cancel = await stack.stripe('POST', `/v1/payment_intents/${c.payment_intent_id}/cancel`, {});
    assert.equal(cancel.status, 200, JSON.stringify(cancel.json));
    await flush(stack);
    const row = await checkoutRow(stack, c.id);
    assert.deepEqual([row.status, row.stock_held], ['canceled', 0]);
    assert.equal(await stockOf(stack, p.id), 2);
  });

  test('3-D Secure: the checkout waits in requires_action, then the authentication completes it', async () => {
    const p = await makeProduct(stack, { price_cent: 2000 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    const r = await confirmPi(stack, c.payment_intent_id, 'pm_card_threeDSecureRequired');
    assert.equal(r.json.status, 'requires_action', JSON.stringify(r.json));
    await flush(stack);
    assert.equal((await checkoutRow(stack, c.id)).status, 'requires_action');
    assertErr(await complete(stack, b, c.id), 409, 'payment_not_succeeded');
    await stack.emu('POST', `/__emu/payment_intents/${c.payment_intent_id}/authenticate`, { result: 'succeed' });
    await flush(stack);
    assert.equal((await checkoutRow(stack, c.id)).status, 'completed');
    assert.equal((await paymentsOf(stack, c.id)).length, 1);
  });

  test('an authorisation alone (manual capture) completes nothing; the capture does, once', async () => {
    const p = await makeProduct(stack, { price_cent: 2000 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    const r = await confirmPi(stack, c.payment_intent_id, 'pm_card_visa', { capture_method: 'manual' });
    assert.equal(r.json.status, 'requires_capture', JSON.stringify(r.json));
    await flush(stack);
    const [chargeEv] = await eventsFor(stack, c.payment_intent_id, 'charge.succeeded');
    assert.ok(chargeEv, 'charge.succeeded for the authorisation');
    assert.equal(chargeEv.data.object.captured, false);
    assert.equal((await eventRow(stack, chargeEv.id)).status, 'ignored', 'an uncaptured charge completes nothing');
    assertErr(await complete(stack, b, c.id), 409, 'payment_not_succeeded');
    assert.equal((await paymentsOf(stack, c.id)).length, 0);
    const cap = await stack.stripe('POST', `/v1/payment_intents/${c.payment_intent_id}/capture`, {});
    assert.equal(cap.json.status, 'succeeded', JSON.stringify(cap.json));
    await flush(stack);
    const pays = await paymentsOf(stack, c.id);
    assert.equal(pays.length, 1);
    assert.deepEqual([pays[0][1], pays[0][2], Number(pays[0][3])], ['succeeded', 'webhook', 2500]);
  });
});

describe('failures, retries and the operator', () => {
  test('a forged succeeded event with another amount books nothing: failed, retried by the job, dead after 10, listed', async () => {
    const p = await makeProduct(stack, { price_cent: 2000, stock: 3 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    const pi = await piOf(stack, c.payment_intent_id);
    const ev = craftEvent('payment_intent.succeeded', { ...pi, status: 'succeeded', amount_received: pi.amount - 1000 });
    const r = await postWebhook(stack, ev);
    assert.equal(r.status, 200, `acknowledged (stored): ${r.body}`);
    assert.equal(r.json.status, 'failed');
    let row = await eventRow(stack, ev.id);
    assert.deepEqual([row.status, row.attempts, row.last_error], ['failed', 1, 'payment_mismatch']);
    assert.equal((await paymentsOf(stack, c.id)).length, 0, 'nothing booked');
    /* the job retries it once it is due */
    await stack.sql(`UPDATE webhook_events SET next_attempt_at = NOW(3) WHERE id = ${esc(ev.id)}`);
    await until(async () => (await eventRow(stack, ev.id)).attempts === 2, 'the webhooks job to retry');
    row = await eventRow(stack, ev.id);
    assert.equal(row.status, 'failed');
    /* the operator replays it until it is parked */
    for (let i = 3; i <= 10; i++) {
      const rp = await stack.tallyctl('webhook', 'replay', ev.id);
      assert.equal(rp.code, 1, `replay ${i} fails: ${rp.stderr}`);
      assert.equal((await eventRow(stack, ev.id)).attempts, i);
    }
    row = await eventRow(stack, ev.id);
    assert.deepEqual([row.status, row.attempts], ['dead', 10], 'dead after 10 attempts');
    const dead = await stack.tallyctl('webhook', 'list', '--dead');
    assert.equal(dead.code, 0, dead.stderr);
    const line = dead.stdout.split('\n').find((l) => l.startsWith(ev.id));
    assert.ok(line, `listed as dead: ${dead.stdout}`);
    assert.deepEqual(line.split('\t'), [ev.id, 'payment_intent.succeeded', 'dead', '10', 'payment_mismatch']);
    const failed = await stack.tallyctl('webhook', 'list', '--failed');
    assert.ok(!failed.stdout.includes(ev.id), 'not among the failed');
    /* a dead event is not retried by the job, and a redelivery does not revive it */
    await stack.sql(`UPDATE webhook_events SET next_attempt_at = NOW(3) - INTERVAL 1 MINUTE WHERE id = ${esc(ev.id)}`);
    const again = await postWebhook(stack, ev);
    assert.deepEqual([again.status, again.json.duplicate, again.json.status], [200, true, 'dead'], again.body);
    const job = await stack.tallyctl('job', 'run', 'webhooks');
    assert.equal(job.code, 0, job.stderr);
    row = await eventRow(stack, ev.id);
    assert.deepEqual([row.status, row.attempts], ['dead', 10], 'the job leaves dead events alone');
    assert.equal((await paymentsOf(stack, c.id)).length, 0, 'still nothing booked');
    assert.equal((await checkoutRow(stack, c.id)).status, 'open');
  });

  test('a charge.updated that came before the payment fails, and a replay processes it once the payment exists', async () => {
    const p = await makeProduct(stack, { price_cent: 2520 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: p.id });
    let updated;
    let succeeded;
    await stack.emu('POST', '/__emu/webhooks/pause');
    try {
      await paid(stack, c.payment_intent_id);
      updated = await until(async () => (await eventsFor(stack, c.payment_intent_id, 'charge.updated'))[0],
        'the asynchronous capture\'s charge.updated');
      [succeeded] = await eventsFor(stack, c.payment_intent_id, 'payment_intent.succeeded');
      /* the fee comes first: no payment to adjust yet */
      const r1 = await postWebhook(stack, updated);
      assert.deepEqual([r1.status, r1.json.status], [200, 'failed'], r1.body);
      assert.equal((await eventRow(stack, updated.id)).last_error, 'payment_not_completed');
      /* the success (its event has no fee): the payment, with the estimate only */
      const r2 = await postWebhook(stack, succeeded);
      assert.deepEqual([r2.status, r2.json.status], [200, 'processed'], r2.body);
      const [pay] = await paymentsOf(stack, c.id);
      let pj = (await server(stack, 'GET', `/api/v1/payments/${pay[0]}`)).json;
      assert.equal(pj.stripe_fee_actual_cent, null, 'the fee is not known yet');
      assert.deepEqual(splitOf(pj, 'fee_adjustment'), {});
      /* the operator replays the failed event: the adjustment is booked */
      const rp = await stack.tallyctl('webhook', 'replay', updated.id);
      assert.equal(rp.code, 0, rp.stderr);
      assert.equal(rp.stdout.trim(), `${updated.id}\tcharge.updated\tprocessed`);
      assert.equal((await eventRow(stack, updated.id)).status, 'processed');
      pj = (await server(stack, 'GET', `/api/v1/payments/${pay[0]}`)).json;
      assert.equal(pj.stripe_fee_actual_cent, pj.stripe_fee_estimate_cent + 1);
      assert.deepEqual(splitOf(pj, 'fee_adjustment'), { STRIPE_FEE: 1, TALENT: -1 });
      /* a second replay books nothing more */
      assert.equal((await stack.tallyctl('webhook', 'replay', updated.id)).code, 0);
    } finally {
      await stack.emu('POST', '/__emu/webhooks/resume');
    }
    await flush(stack);
    const [pay] = await paymentsOf(stack, c.id);
    const pj = (await server(stack, 'GET', `/api/v1/payments/${pay[0]}`)).json;
    assert.equal(pj.shares.filter((s) => s.kind === 'fee_adjustment').length, 2, 'one adjustment pair after everything');
    assert.equal(pj.shares.reduce((a, s) => a + s.amount_cent, 0), 3020);
  });
});
