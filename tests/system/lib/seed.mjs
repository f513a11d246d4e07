/*
 * seed.mjs - earnings made by SQL, and an onboarded payee
 *
 * For tests that need many payments, or payments of a given age, status
 * or currency, fast: payouts, reports and the admin lists read rows, not
 * the path that made them (a completed checkout costs a PaymentIntent, a
 * confirmation and a completion).  Each seeded payment keeps the
 * ledger's invariants (assertLedger): its split rows sum to its amount
 * (payee + 200 PLATFORM + 100 STRIPE_FEE); its purpose is 'seed'.
 */
import assert from 'node:assert/strict';

import { esc, makeAccount, server, sql1, until } from './checkout_helpers.mjs';
import { randomString } from './stack.mjs';

/*
 * seedPayments - one payment per item {acc, amount, cur = 'usd', ageDays
 * = 0, seconds = 0, status = 'succeeded', role = 'TALENT'}: 'amount' to
 * payee 'acc', created 'ageDays' days and 'seconds' seconds ago; the
 * payment ids, in the items' order
 */
export async function seedPayments(stack, items) {
  const ids = [];
  for (let i = 0; i < items.length; i += 100) {
    const pays = [];
    const shares = [];
    for (const it of items.slice(i, i + 100)) {
      const pay = `pay_seed${randomString(20)}`;
      ids.push(pay);
      const at = `NOW(3) - INTERVAL ${Number(it.ageDays ?? 0)} DAY - INTERVAL ${Number(it.seconds ?? 0)} SECOND`;
      const cur = it.cur ?? 'usd';
      pays.push(`(${esc(pay)}, 'seed', ${esc(`pi_seed${randomString(20)}`)}, ${it.amount + 300}, '${cur}', 100, ` +
        `${esc(it.acc)}, '${it.status ?? 'succeeded'}', 'seed', ${at})`);
      shares.push(`(${esc(pay)}, ${esc(it.acc)}, '${it.role ?? 'TALENT'}', 'split', ${it.amount}, '${cur}', ` +
        `'pending', ${at})`);
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

/* onboardedPayee - a payee made through the API, connected and onboarded */
export async function onboardedPayee(stack, kind = 'talent', extra = {}) {
  const a = await makeAccount(stack, kind, extra);
  const c = await server(stack, 'POST', `/api/v1/accounts/${a.id}/connect`);
  assert.equal(c.status, 200, c.body);
  await stack.emu('POST', `/__emu/accounts/${c.json.connect_account_id}/complete_onboarding`);
  await until(async () => (await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(a.id)}`)) === '1',
    'payouts_enabled after onboarding');
  return { ...a, acct: c.json.connect_account_id };
}
