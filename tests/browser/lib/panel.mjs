/*
 * panel.mjs - what the admin panel's browser tests share (admin.test.mjs
 * in Chromium, admin_firefox.test.mjs in Firefox): the text of an amount
 * computed apart from the page, a completed purchase, and payments
 * seeded by SQL.
 */
import assert from 'node:assert/strict';

import {
  complete, esc, flush, newBuyer, okCheckout, paid, richProduct,
} from '../../system/lib/checkout_helpers.mjs';
import { randomString } from '../../system/lib/stack.mjs';

/* usd - the expected text of an amount (en-US), computed apart from the page */
export function usd(cents) {
  const neg = cents < 0;
  const c = Math.abs(cents);
  return `${neg ? '-' : ''}$${Math.trunc(c / 100).toLocaleString('en-US')}.${String(c % 100).padStart(2, '0')}`;
}

/* buy - a completed purchase (as the system tests make one) */
export async function buy(stack) {
  const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack, { email: `b-${randomString(6).toLowerCase()}@example.test` });
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);
  return { pay: r.json.id, amount: r.json.amount_cent, pi: c.payment_intent_id };
}

/* seed - 'n' payments of payee 'acc' by SQL (split: amount to the payee, 200, 100) */
export async function seed(stack, acc, n, ageDays = 0, cur = 'usd') {
  const ids = [];
  for (let i = 0; i < n; i += 100) {
    const pays = [];
    const shares = [];
    for (let k = i; k < Math.min(n, i + 100); k++) {
      const pay = `pay_seed${randomString(20)}`;
      ids.push(pay);
      const at = `NOW(3) - INTERVAL ${ageDays} DAY - INTERVAL ${k} SECOND`;
      const amount = 1000 + k;
      pays.push(`(${esc(pay)}, 'seed', ${esc(`pi_seed${randomString(20)}`)}, ${amount + 300}, '${cur}', 100, ` +
        `${esc(acc)}, 'succeeded', 'seed', ${at})`);
      shares.push(`(${esc(pay)}, ${esc(acc)}, 'TALENT', 'split', ${amount}, '${cur}', 'pending', ${at})`);
      shares.push(`(${esc(pay)}, 'acc_platform', 'PLATFORM', 'split', 200, '${cur}', 'pending', ${at})`);
      shares.push(`(${esc(pay)}, 'acc_stripe_fee', 'STRIPE_FEE', 'split', 100, '${cur}', 'pending', ${at})`);
    }
    await stack.sql('INSERT INTO payments (id, purpose, pi_id, amount_cent, currency, stripe_fee_estimate_cent, ' +
      `fee_bearer_account_id, status, completed_via, created_at) VALUES ${pays.join(', ')}`);
    await stack.sql('INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, currency, status, ' +
      `created_at) VALUES ${shares.join(', ')}`);
  }
  return ids;
}
