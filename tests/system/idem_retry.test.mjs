/*
 * idem_retry.test.mjs - an answer that says "retry later" is not kept
 * under the Idempotency-Key (docs/api.md, Idempotency-Key), found by the
 * torture runner (tests/torture, stripe:N@api):
 * - a completion whose PaymentIntent cannot be read (Stripe answers 500
 *   every time: 502 stripe_unavailable, "retry later"), retried with the
 *   same key once Stripe is back, completes (200, one payment), not the
 *   first 502 replayed for 24 hours;
 * A final 502 (checkout_failed) is still kept: checkout.test.mjs.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertErr, assertLedger, complete, makeProduct, newBuyer, okCheckout, paid, paymentConf, paymentsOf,
  withPausedWebhooks,
} from './lib/checkout_helpers.mjs';
import { randomString, startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ name: 'idem-retry', stripe: true, conf: paymentConf() });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) await assertLedger(stack);
  } finally {
    await stack?.stop();
  }
});

test('a 502 stripe_unavailable is not kept: the same key completes once Stripe is back', async () => {
  const p = await makeProduct(stack, { price_cent: 2000 });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: p.id });
  const key = `idem-${randomString(12)}`;
  await withPausedWebhooks(stack, async () => {
    await paid(stack, c.payment_intent_id);
    await stack.emu('POST', '/__emu/faults',
      { method: 'GET', path: `^/v1/payment_intents/${c.payment_intent_id}$`, mode: 'error_500_stored', count: 100 });
    const r1 = await complete(stack, b, c.id, { idem: key });
    assertErr(r1, 502, 'stripe_unavailable');
    await stack.emu('DELETE', '/__emu/faults');
    const r2 = await complete(stack, b, c.id, { idem: key });
    assert.equal(r2.status, 200, `the retry with the same key: ${r2.status} ${r2.body}`);
    assert.equal(r2.json.amount_cent, 2500);
  });
  assert.equal((await paymentsOf(stack, c.id)).length, 1, 'one payment');
});
