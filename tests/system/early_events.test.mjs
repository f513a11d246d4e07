/*
 * early_events.test.mjs - refunds and disputes whose events arrive
 * before the payment is completed (issue 11, defect 3)
 *
 * The completion is held back (the emulator's deliveries paused, the
 * browser not back yet); meanwhile the payment is refunded at Stripe
 * (Dashboard) or disputed, and those events reach Tally first.  They
 * must not be lost: each is answered as retryable (stored 'failed', the
 * "webhooks" job tries it again), and the completion reads the charge's
 * refunds and disputes and books them (docs/ledger.md, "Refunds and
 * disputes before the completion").
 *
 * - a full Dashboard refund, events first, then the browser completes:
 *   the refund is booked by the completion itself, once; every payee's
 *   balance is back to 0 but the talent's, which bears the Stripe fee
 *   Stripe keeps;
 * - a dispute, events first, then the browser completes: booked by the
 *   completion, once; the talent's net is minus the Stripe fee and the
 *   dispute fee;
 * - a partial refund, events first, then charge.succeeded completes
 *   (the PaymentIntent re-read with its charge): booked at once;
 * - a dispute, events first, then the checkouts job completes the
 *   expired checkout (its PaymentIntent read without the charge: the
 *   charge is read): booked by the completion, before any retry;
 * - a partial refund and a dispute of the rest, events first, then the
 *   webhook completes (payment_intent.succeeded): the early events are
 *   booked when the webhooks job tries them again (made due at once, as
 *   their backoff would), once.
 * Then every event is delivered again: nothing moves.  assertLedger.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertLedger, complete, eventRow, eventsFor, esc, flush, newBuyer, okCheckout, paid, paymentConf, piOf,
  postWebhook, richProduct, server, sqlNum, until, withPausedWebhooks,
} from './lib/checkout_helpers.mjs';
import { startStack } from './lib/stack.mjs';

const DISPUTE_FEE = 1500;	/* the emulator's usd dispute fee */
let stack;

before(async () => {
  stack = await startStack({
    name: 'early_events', stripe: true,
    conf: paymentConf({ 'job.webhooks': { interval: 1 }, 'job.checkouts': { interval: 1 } }),
  });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) {
      await stack.emu('POST', '/__emu/webhooks/resume');
      await flush(stack);
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

/* sale - a checkout paid at Stripe, not completed at Tally (deliveries paused) */
async function sale() {
  const { product, slug, ids } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const charge = (await piOf(stack, c.payment_intent_id)).latest_charge;
  assert.match(charge, /^ch_/);
  return { b, c, pi: c.payment_intent_id, charge, ids, amount: c.amount_cent };
}

/* refundAtStripe - a Dashboard refund, settled at Stripe */
async function refundAtStripe(charge, amount) {
  const re = await stack.emu('POST', `/__emu/charges/${charge}/dashboard_refund`, amount ? { amount } : {});
  assert.match(re.id, /^re_/, JSON.stringify(re));
  await until(async () => (await stack.stripe('GET', `/v1/refunds/${re.id}`)).json.status === 'succeeded',
    'the refund to succeed at Stripe');
  return re;
}

/* disputeAtStripe - a dispute whose funds Stripe withdrew */
async function disputeAtStripe(charge, amount) {
  const dp = await stack.emu('POST', `/__emu/charges/${charge}/dispute`, amount ? { amount } : {});
  assert.match(dp.id, /^dp_/, JSON.stringify(dp));
  return dp;
}

/* early - deliver the refund and dispute events of 'pi' now (before the completion) */
async function early(pi) {
  const evs = (await eventsFor(stack, pi))
    .filter((e) => /^(refund\.|charge\.refund|charge\.dispute\.)/.test(e.type));
  assert.ok(evs.length >= 2, `refund/dispute events of ${pi}: ${evs.map((e) => e.type)}`);
  for (const e of evs) {
    const r = await postWebhook(stack, e);
    assert.equal(r.status, 200, r.body);
  }
  return evs;
}

async function paymentOf(checkoutId) {
  const rows = await stack.sql('SELECT id, status, amount_cent, refunded_cent, disputed_cent FROM payments ' +
    `WHERE checkout_id = ${esc(checkoutId)}`);
  assert.equal(rows.length, 1, `one payment of ${checkoutId}`);
  const [id, status, amount, refunded, disputed] = rows[0];
  return { id, status, amount: Number(amount), refunded: Number(refunded), disputed: Number(disputed) };
}

/* booked - what Tally booked of a payment's refunds and disputes */
async function booked(pay) {
  const refunds = await stack.sql('SELECT IFNULL(stripe_refund_id, \'\'), amount_cent, booked, state FROM refunds ' +
    `WHERE payment_id = ${esc(pay)} ORDER BY id`);
  const disputes = await stack.sql(`SELECT id, withdrawn_cent, fee_cent FROM disputes WHERE payment_id = ${esc(pay)}`);
  return {
    refunds: refunds.map(([id, a, b, s]) => [id, Number(a), Number(b), s]),
    disputes: disputes.map(([id, w, f]) => [id, Number(w), Number(f)]),
    refundRows: await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE payment_id = ' +
      `${esc(pay)} AND kind = 'refund'`),
    disputeRows: await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE payment_id = ' +
      `${esc(pay)} AND kind = 'dispute' AND role <> 'DISPUTE_FEE'`),
    feeRows: await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payment_id = ${esc(pay)} AND role = 'DISPUTE_FEE'`),
  };
}

/* net - a payee's balance in usd: payable − owed back + pending */
async function net(account) {
  const r = await server(stack, 'GET', `/api/v1/accounts/${account}/balance`);
  assert.equal(r.status, 200, r.body);
  const b = r.json.balances.find((x) => x.currency === 'usd');
  return b ? b.payable_cent - b.owed_back_cent + b.pending_cent : 0;
}

/*
 * stripeFee - the Stripe fee booked on a payment (its estimate, or the
 * real one once known): Stripe keeps it when the payment is refunded or
 * disputed, so its bearer (the talent) loses it (docs/ledger.md)
 */
function stripeFee(pay) {
  return sqlNum(stack, `SELECT SUM(amount_cent) FROM shares WHERE payment_id = ${esc(pay)} AND role = 'STRIPE_FEE' ` +
    "AND kind IN ('split', 'fee_adjustment')");
}

/* nets - every payee of a sale: {ROLE: net} */
async function nets(ids) {
  const out = {};
  for (const [role, id] of Object.entries(ids)) out[role] = await net(id);
  return out;
}

/* retryNow - the stored failed events of 'evs' are due now (as after their backoff) */
async function retryNow(evs) {
  await stack.sql('UPDATE webhook_events SET next_attempt_at = NOW(3) WHERE status = \'failed\' AND id IN (' +
    `${evs.map((e) => esc(e.id)).join(', ')})`);
}

describe('refund and dispute events before the completion', () => {
  test('a full Dashboard refund: the browser\'s completion books it, once; nobody is paid for the sale', async () => {
    let s;
    let evs;
    await withPausedWebhooks(stack, async () => {
      s = await sale();
      const re = await refundAtStripe(s.charge);
      assert.equal(re.amount, s.amount);
      evs = await early(s.pi);
      for (const e of evs) assert.notEqual((await eventRow(stack, e.id)).status, 'ignored', `${e.type} not ignored`);
      const r = await complete(stack, s.b, s.c.id);
      assert.equal(r.status, 200, r.body);
      const p = await paymentOf(s.c.id);
      assert.deepEqual([p.status, p.refunded, p.disputed], ['refunded', s.amount, 0], 'booked by the completion');
      const bk = await booked(p.id);
      assert.deepEqual(bk.refunds, [[re.id, s.amount, 1, 'succeeded']]);
      assert.equal(bk.refundRows, -s.amount);
      const fee = await stripeFee(p.id);
      assert.ok(fee > 0);
      assert.deepEqual(await nets(s.ids), { TALENT: -fee, AGENT: 0, AMBASSADOR: 0, HOST_PARTNER: 0 },
        'nobody is paid for a refunded sale; the talent bears the Stripe fee Stripe keeps');
    });
    await flush(stack);
    await retryNow(evs);
    await until(async () => {
      const st = await Promise.all(evs.map(async (e) => (await eventRow(stack, e.id)).status));
      return st.every((x) => x === 'processed');
    }, 'the early events processed once the payment exists');
    const p = await paymentOf(s.c.id);
    assert.deepEqual([p.refunded, p.disputed], [s.amount, 0], 'nothing twice');
    assert.equal((await booked(p.id)).refunds.length, 1);
    assert.deepEqual(await nets(s.ids), { TALENT: -(await stripeFee(p.id)), AGENT: 0, AMBASSADOR: 0, HOST_PARTNER: 0 });
  });

  test('a dispute: the browser\'s completion books it, once; the talent bears the dispute fee', async () => {
    let s;
    let evs;
    let dp;
    await withPausedWebhooks(stack, async () => {
      s = await sale();
      dp = await disputeAtStripe(s.charge);
      evs = await early(s.pi);
      const r = await complete(stack, s.b, s.c.id);
      assert.equal(r.status, 200, r.body);
      const p = await paymentOf(s.c.id);
      assert.deepEqual([p.status, p.refunded, p.disputed], ['disputed', 0, s.amount], 'booked by the completion');
      const bk = await booked(p.id);
      assert.deepEqual(bk.disputes, [[dp.id, s.amount, DISPUTE_FEE]]);
      assert.deepEqual([bk.disputeRows, bk.feeRows], [-s.amount, 2]);
      assert.deepEqual(await nets(s.ids),
        { TALENT: -(await stripeFee(p.id)) - DISPUTE_FEE, AGENT: 0, AMBASSADOR: 0, HOST_PARTNER: 0 });
    });
    await flush(stack);
    await retryNow(evs);
    await until(async () => {
      const st = await Promise.all(evs.map(async (e) => (await eventRow(stack, e.id)).status));
      return st.every((x) => x === 'processed');
    }, 'the early events processed once the payment exists');
    const p = await paymentOf(s.c.id);
    const bk = await booked(p.id);
    assert.deepEqual([p.disputed, bk.disputes, bk.feeRows], [s.amount, [[dp.id, s.amount, DISPUTE_FEE]], 2],
      'nothing twice');
  });

  test('a partial refund, then charge.succeeded completes (PaymentIntent re-read): booked at the completion', async () => {
    let s;
    let re;
    await withPausedWebhooks(stack, async () => {
      s = await sale();
      re = await refundAtStripe(s.charge, 700);
      await early(s.pi);
      const [succeeded] = await eventsFor(stack, s.pi, 'charge.succeeded');
      const r = await postWebhook(stack, succeeded);
      assert.deepEqual([r.status, r.json.status], [200, 'processed'], r.body);
      const p = await paymentOf(s.c.id);
      assert.deepEqual([p.status, p.refunded, p.disputed], ['partially_refunded', 700, 0], 'booked by the completion');
      const bk = await booked(p.id);
      assert.deepEqual(bk.refunds, [[re.id, 700, 1, 'succeeded']]);
      assert.equal(bk.refundRows, -700);
    });
    await flush(stack);
    const p = await paymentOf(s.c.id);
    assert.deepEqual([p.refunded, (await booked(p.id)).refunds.length], [700, 1], 'nothing twice');
  });

  test('a dispute, then the checkouts job completes the expired checkout (charge read): booked at the completion', async () => {
    let s;
    let dp;
    let evs;
    await withPausedWebhooks(stack, async () => {
      s = await sale();
      dp = await disputeAtStripe(s.charge);
      evs = await early(s.pi);
      /* the reservation ran out: the job cancels, finds it succeeded, completes */
      await stack.sql(`UPDATE checkouts SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ${esc(s.c.id)}`);
      await until(async () => (await stack.sql(`SELECT completed_via FROM payments WHERE checkout_id = ${esc(s.c.id)}`))
        .length === 1, 'the checkouts job to complete the payment');
      /* well before the early events' first retry (20 s) */
      await until(async () => (await paymentOf(s.c.id)).disputed === s.amount, 'the dispute booked', 5000);
      for (const e of evs) assert.equal((await eventRow(stack, e.id)).status, 'failed', `${e.type} still waits`);
      const [[via]] = await stack.sql(`SELECT completed_via FROM payments WHERE checkout_id = ${esc(s.c.id)}`);
      assert.equal(via, 'job');
      const p = await paymentOf(s.c.id);
      const bk = await booked(p.id);
      assert.deepEqual(bk.disputes, [[dp.id, s.amount, DISPUTE_FEE]]);
      assert.deepEqual([bk.disputeRows, bk.feeRows], [-s.amount, 2]);
    });
    await flush(stack);
    await retryNow(evs);
    await until(async () => {
      const st = await Promise.all(evs.map(async (e) => (await eventRow(stack, e.id)).status));
      return st.every((x) => x === 'processed');
    }, 'the early events processed once the payment exists');
    const p = await paymentOf(s.c.id);
    assert.deepEqual([p.disputed, (await booked(p.id)).feeRows], [s.amount, 2], 'nothing twice');
  });

  test('a partial refund and a dispute of the rest, then the webhook completes: both booked once', async () => {
    let s;
    let evs;
    let re;
    let dp;
    await withPausedWebhooks(stack, async () => {
      s = await sale();
      re = await refundAtStripe(s.charge, 1000);
      dp = await disputeAtStripe(s.charge);
      assert.equal(dp.amount, s.amount - 1000);
      evs = await early(s.pi);
      const [succeeded] = await eventsFor(stack, s.pi, 'payment_intent.succeeded');
      const r = await postWebhook(stack, succeeded);
      assert.deepEqual([r.status, r.json.status], [200, 'processed'], r.body);
      /* the early events come back (the webhooks job, after their backoff) */
      await retryNow(evs);
      await until(async () => {
        const p = await paymentOf(s.c.id);
        return p.refunded === 1000 && p.disputed === s.amount - 1000;
      }, 'the early refund and dispute booked');
      const p = await paymentOf(s.c.id);
      assert.equal(p.status, 'disputed');
      const bk = await booked(p.id);
      assert.deepEqual(bk.refunds, [[re.id, 1000, 1, 'succeeded']]);
      assert.deepEqual(bk.disputes, [[dp.id, s.amount - 1000, DISPUTE_FEE]]);
      assert.deepEqual([bk.refundRows, bk.disputeRows, bk.feeRows], [-1000, -(s.amount - 1000), 2]);
      assert.deepEqual(await nets(s.ids),
        { TALENT: -(await stripeFee(p.id)) - DISPUTE_FEE, AGENT: 0, AMBASSADOR: 0, HOST_PARTNER: 0 });
    });
    await flush(stack);
    /* every event once more, as Stripe may: nothing moves */
    for (const e of await eventsFor(stack, s.pi)) {
      const r = await postWebhook(stack, { ...e, id: `${e.id}x` });
      assert.equal(r.status, 200, r.body);
    }
    const p = await paymentOf(s.c.id);
    assert.deepEqual([p.refunded, p.disputed], [1000, s.amount - 1000], 'nothing twice');
    const bk = await booked(p.id);
    assert.deepEqual([bk.refunds.length, bk.disputes.length, bk.feeRows], [1, 1, 2]);
  });
});
