/*
 * refund_idem.test.mjs - an admin's refund and its Idempotency-Key
 * (fcgi/router.c, core/idem.c, core/refund.c; docs/api.md,
 * "Idempotency-Key")
 *
 * - the last step (recording and booking Stripe's answer) fails after
 *   Stripe made the refund (TALLY_FAULTS refund.record:1 fails the first
 *   recording of every process): the answer is still the refund (202
 *   while Tally does not know Stripe's answer), the retry with the same key
 *   answers the same refund, and so does a retry whose stored answer is
 *   gone (the refund row keeps the key): one rfd_, one Stripe refund; the
 *   refunds job books it;
 * - a key whose first request is still in progress is not taken over
 *   after the old 60 s, only after the takeover bound of idem.h
 *   (max(request_timeout, Stripe's worst call) + 30 s), and the takeover
 *   answers the refund the first request made, without a second one;
 * - the same key and body on another payment's refunds path is 422
 *   idempotency_key_reused, and that payment is not refunded.
 * Ends with assertLedger.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertErr, assertLedger, complete, emuObjects, esc, flush, newBuyer, okCheckout, paid, paymentConf,
  richProduct, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { randomString, req, startStack } from './lib/stack.mjs';

let stack;
let finance;

before(async () => {
  stack = await startStack({
    name: 'refund-idem', stripe: true,
    /* one admin worker: the injected failure is its first recording */
    conf: paymentConf({ admin: { workers: 1 }, 'job.refunds': { interval: 1 }, 'job.webhooks': { interval: 1 } }),
    tallydEnv: { TALLY_FAULTS: 'refund.record:1' },
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

/* refund - POST .../payments/{pay}/refunds as finance */
function refund(pay, body, idem) {
  const headers = { Cookie: `tally_session=${finance.cookie}`, 'X-CSRF-Token': finance.csrf };
  if (idem) headers['Idempotency-Key'] = idem;
  return req(stack, 'POST', `/admin/api/v1/payments/${pay}/refunds`, { headers, json: body, timeoutMs: 30000 });
}

/* buy - a completed payment: {pay, pi, amount} */
async function buy() {
  const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);
  return { pay: r.json.id, pi: c.payment_intent_id, amount: r.json.amount_cent };
}

/* stripeRefunds - the emulator's refunds of PaymentIntent 'pi' */
async function stripeRefunds(pi) {
  return (await emuObjects(stack, 'refunds')).filter((x) => x.payment_intent === pi);
}

function tallyRefunds(pay) {
  return sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(pay)}`);
}

/* booked - every refund of 'pay' booked */
function booked(pay) {
  return until(async () => (await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(pay)} ` +
    'AND booked = 0')) === 0, `the refunds of ${pay} booked`, 30000);
}

/*
 * TAKEOVER_S - idem.h's rule for this stack: max(request_timeout (60),
 * Stripe's worst call: (max_retries 3 + 1) tries × timeout_ms 5 s + 3
 * backoffs of at most 4 s) + 30 s
 */
const TAKEOVER_S = Math.max(60, 4 * 5 + 3 * 4) + 30;

describe('a retried admin refund', () => {
  test('recording fails after Stripe refunded: the refund all the same, the retry is the same refund, one at Stripe', async () => {
    const p = await buy();
    const key = `rb-${randomString(12)}`;
    const body = { amount_cent: 500, reason: 'booking fails' };
    const first = await refund(p.pay, body, key);
    assert.equal(first.status, 202, `the refund exists, whatever recording it did: ${first.body}`);
    assert.match(first.json.id, /^rfd_/);
    assert.equal(first.json.state, 'to_create', 'Stripe\'s answer is not recorded yet');
    const again = await refund(p.pay, body, key);
    assert.equal(again.status, 202, again.body);
    assert.equal(again.json.id, first.json.id, 'the retry answers the same refund');
    assert.equal(await tallyRefunds(p.pay), 1, 'one rfd_');
    assert.equal((await stripeRefunds(p.pi)).length, 1, 'one refund at Stripe');
    /* the stored answer gone (a 5xx is not kept): the refund row still knows the key */
    await stack.sql(`DELETE FROM idempotency_keys WHERE idem_key = ${esc(key)}`);
    const third = await refund(p.pay, body, key);
    assert.ok([201, 202].includes(third.status), third.body);
    assert.equal(third.headers.get('idempotent-replayed'), null, 'not a stored answer: the row\'s');
    assert.equal(third.json.id, first.json.id, 'found by its key');
    assert.equal(await tallyRefunds(p.pay), 1, 'still one rfd_');
    assert.equal((await stripeRefunds(p.pi)).length, 1, 'still one refund at Stripe');
    await booked(p.pay);
    assert.equal(await sqlNum(stack, `SELECT refunded_cent FROM payments WHERE id = ${esc(p.pay)}`), 500,
      'refunded once');
  });

  test('an in-progress key is not taken over after 60 s, only past the takeover bound; the takeover answers the same refund', async () => {
    const p = await buy();
    const key = `to-${randomString(12)}`;
    const body = { amount_cent: 300, reason: 'worker died' };
    const first = await refund(p.pay, body, key);
    assert.equal(first.status, 201, first.body);
    /* as if the first request's worker died after Stripe: in progress, no answer kept */
    const dying = (age) => stack.sql('UPDATE idempotency_keys SET state = \'in_progress\', response_status = NULL, ' +
      `response_body = NULL, created_at = NOW(3) - INTERVAL ${age} SECOND WHERE idem_key = ${esc(key)}`);
    await dying(70);
    assertErr(await refund(p.pay, body, key), 409, 'idempotency_key_in_use', undefined,
      '70 s is past the old 60 s but within a Stripe call\'s worst time');
    await dying(TAKEOVER_S - 5);
    assertErr(await refund(p.pay, body, key), 409, 'idempotency_key_in_use', undefined, 'just before the bound');
    assert.equal(await tallyRefunds(p.pay), 1, 'nothing ran');
    await dying(TAKEOVER_S + 5);
    const taken = await refund(p.pay, body, key);
    assert.equal(taken.status, 201, taken.body);
    assert.equal(taken.json.id, first.json.id, 'the takeover answers the refund the first request made');
    assert.equal(await tallyRefunds(p.pay), 1, 'one rfd_');
    assert.equal((await stripeRefunds(p.pi)).length, 1, 'one refund at Stripe');
    await booked(p.pay);
    assert.equal(await sqlNum(stack, `SELECT refunded_cent FROM payments WHERE id = ${esc(p.pay)}`), 300);
  });
});

describe('the fingerprint covers the path', () => {
  test('the same key and body on another payment: 422 idempotency_key_reused, B not refunded', async () => {
    const a = await buy();
    const b = await buy();
    const key = `path-${randomString(12)}`;
    const body = { amount_cent: 200, reason: 'which payment' };
    const ra = await refund(a.pay, body, key);
    assert.equal(ra.status, 201, ra.body);
    assert.equal(ra.json.payment_id, a.pay);
    assertErr(await refund(b.pay, body, key), 422, 'idempotency_key_reused', undefined, 'another payment');
    assert.equal(await tallyRefunds(b.pay), 0, 'B has no refund');
    assert.equal((await stripeRefunds(b.pi)).length, 0, 'nothing at Stripe for B');
    const again = await refund(a.pay, body, key);
    assert.equal(again.status, 201, again.body);
    assert.equal(again.json.id, ra.json.id, 'A still replays');
    await booked(a.pay);
  });
});
