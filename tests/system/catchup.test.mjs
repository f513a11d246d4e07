/*
 * catchup.test.mjs - the missed-event catch-up (core/events.c, the
 * "events" job) on the real stack, Stripe being the emulator:
 *
 * Stripe's deliveries are dropped (the emulator's drop mode: every event
 * is stored and listable at Stripe, none reaches Tally, as when the
 * webhook pool is down or unreachable).  Meanwhile a buyer pays (the
 * browser never comes back to complete), a payment completed before is
 * refunded from the Dashboard, and a payee's connected account has a
 * bank payout fail.  None of it is booked.  Then two
 * `tallyctl job run events` at once (two hosts): every missed event is
 * stored as a delivered one would be (right endpoint, account,
 * processed) and its effect booked exactly once: the payment completed,
 * the refund booked, the payee flagged and emailed.  Running the job
 * again, and then letting Stripe deliver the events after all, changes
 * nothing.  assertLedger at the end.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
  assertLedger, esc, flush, makeAccount, newBuyer, okCheckout, paid, paymentConf, piOf, richProduct, server,
  sql1, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { run } from './lib/proc.mjs';
import { BIN, startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ name: 'catchup', stripe: true, conf: paymentConf() });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) {
      await stack.emu('POST', '/__emu/webhooks/config', { drop: false });
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

/* jobRun - one `tallyctl job run events` */
async function jobRun() {
  const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'job', 'run', 'events'],
    { timeoutMs: 120000 });
  assert.equal(r.code, 0, `tallyctl job run events: ${r.stderr}`);
  return r;
}

/* sale - a checkout paid at Stripe (the browser does not complete it) */
async function sale() {
  const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const charge = (await piOf(stack, c.payment_intent_id)).latest_charge;
  return { c, pi: c.payment_intent_id, charge };
}

function paymentsOf(checkoutId) {
  return sqlNum(stack, `SELECT COUNT(*) FROM payments WHERE checkout_id = ${esc(checkoutId)}`);
}

/* booked - what Tally has booked of the three effects */
async function booked(s) {
  return {
    payments: await paymentsOf(s.b.c.id),
    refunds: await stack.sql('SELECT IFNULL(stripe_refund_id, \'\'), amount_cent, booked FROM refunds ' +
      `WHERE stripe_refund_id = ${esc(s.refund)}`),
    refundRows: await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE kind = \'refund\' AND ' +
      `payment_id = ${esc(s.payA)}`),
    flagged: await sql1(stack, `SELECT email_outstanding_payout FROM accounts WHERE id = ${esc(s.payee.id)}`),
    mails: await sqlNum(stack, `SELECT COUNT(*) FROM outbox WHERE dedupe_key = ${esc(`payout_failed:${s.po}`)}`),
  };
}

test('missed events: after catch-up every effect is booked once; again and late deliveries change nothing', async () => {
  /* before the outage: a payment completed by its webhook, a payee onboarded */
  const a = await sale();
  await until(async () => (await paymentsOf(a.c.id)) === 1, 'sale A completed by its webhook');
  const payA = await sql1(stack, `SELECT id FROM payments WHERE checkout_id = ${esc(a.c.id)}`);
  const payee = await makeAccount(stack, 'talent', { email: 'catchup@example.test' });
  const cn = await server(stack, 'POST', `/api/v1/accounts/${payee.id}/connect`);
  assert.equal(cn.status, 200, cn.body);
  const acct = cn.json.connect_account_id;
  await stack.emu('POST', `/__emu/accounts/${acct}/complete_onboarding`);
  await until(async () => (await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(payee.id)}`)) ===
    '1', 'onboarding delivered');
  await flush(stack);

  /* the outage: nothing Stripe sends reaches Tally */
  await stack.emu('POST', '/__emu/webhooks/config', { drop: true });
  const stored0 = await sqlNum(stack, 'SELECT COUNT(*) FROM webhook_events');
  const b = await sale();
  const re = await stack.emu('POST', `/__emu/charges/${a.charge}/dashboard_refund`, { amount: 700 });
  assert.match(re.id, /^re_/);
  const po = await stack.emu('POST', `/__emu/accounts/${acct}/fail_payout`,
    { amount: 2500, currency: 'usd', failure_code: 'account_closed' });
  await flush(stack);
  const s = { b, refund: re.id, payA, payee, po: po.id };
  assert.deepEqual(await booked(s), { payments: 0, refunds: [], refundRows: 0, flagged: '0', mails: 0 },
    'nothing of the outage is booked');
  assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM webhook_events'), stored0, 'nothing stored');

  /* what Stripe holds and Tally missed */
  const all = (await stack.emu('GET', '/__emu/objects/events')).data;
  const missed = all.filter((e) => e.pending_webhooks > 0);
  assert.ok(missed.some((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === b.pi));
  assert.ok(missed.some((e) => e.type === 'payout.failed' && e.account === acct));
  assert.ok(missed.some((e) => e.type === 'refund.created' || e.type === 'charge.refunded'));

  /* catch-up on two hosts at once */
  await Promise.all([jobRun(), jobRun()]);
  assert.deepEqual(await booked(s), {
    payments: 1, refunds: [[re.id, '700', '1']], refundRows: -700, flagged: '1', mails: 1,
  });
  const rows = await stack.sql('SELECT id, endpoint, IFNULL(account, \'\'), status FROM webhook_events');
  const byId = new Map(rows.map(([id, ep, ac, st]) => [id, { ep, ac, st }]));
  for (const e of missed) {
    const r = byId.get(e.id);
    assert.ok(r, `missed event ${e.id} (${e.type}) stored`);
    assert.equal(r.ep, e.account ? 'connect' : 'platform', `${e.type} endpoint`);
    assert.equal(r.ac, e.account ?? '', `${e.type} account`);
    assert.ok(['processed', 'ignored'].includes(r.st), `${e.type}: ${r.st}`);
  }
  assert.equal(rows.length, stored0 + missed.length, 'each missed event stored once, nothing else');
  const stored = await stack.sql(`SELECT payload FROM webhook_events WHERE object_id = ${esc(b.pi)} AND ` +
    'type = \'payment_intent.succeeded\'');
  const orig = missed.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === b.pi);
  const { _owner, ...asDelivered } = orig;
  assert.deepEqual(JSON.parse(stored[0][0]), asDelivered, 'stored as Stripe would have delivered it');
  const cursors = await stack.sql('SELECT scope, IFNULL(last_event_id, \'\'), leased_until IS NULL FROM ' +
    'stripe_event_cursors ORDER BY scope');
  assert.ok(cursors.some(([sc, c, free]) => sc === 'platform' && c.startsWith('evt_') && free === '1'), cursors);
  assert.ok(cursors.some(([sc, c, free]) => sc === acct && c.startsWith('evt_') && free === '1'), cursors);

  /* again: nothing new; then Stripe delivers after all: duplicates */
  await jobRun();
  await stack.emu('POST', '/__emu/webhooks/config', { drop: false });
  for (const e of missed) {
    const { _owner: _o, ...ev } = e;
    const body = JSON.stringify(ev);
    const url = `/webhooks/stripe${e.account ? '/connect' : ''}`;
    const sig = stack.signWebhook(body, e.account ? stack.whsecConnect : stack.whsec);
    const res = await fetch(`${stack.url}${url}`, {
      method: 'POST', body, headers: { 'Content-Type': 'application/json', 'Stripe-Signature': sig },
    });
    assert.equal(res.status, 200, `${e.type} redelivered`);
  }
  assert.deepEqual(await booked(s), {
    payments: 1, refunds: [[re.id, '700', '1']], refundRows: -700, flagged: '1', mails: 1,
  });
  assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM webhook_events'), stored0 + missed.length);
});

test('a cursor Stripe no longer knows is dropped with a warning; the next run starts from what is stored', async () => {
  await stack.sql('UPDATE stripe_event_cursors SET last_event_id = \'evt_forgotten00000000000000\' WHERE ' +
    'scope = \'platform\'');
  const r = await jobRun();
  assert.equal(await sql1(stack, 'SELECT IFNULL(last_event_id, \'none\') FROM stripe_event_cursors WHERE ' +
    'scope = \'platform\''), 'none');
  assert.match(r.stderr, /no longer lists the cursor's event.*evt_forgotten/, r.stderr);
  await jobRun();
  assert.match(await sql1(stack, 'SELECT IFNULL(last_event_id, \'\') FROM stripe_event_cursors WHERE ' +
    'scope = \'platform\''), /^evt_/);
});
