/*
 * connect.test.mjs - Connect: Express accounts and onboarding (link page,
 * account.updated on the Connect endpoint with `account`), transfers
 * (capability and balance checks, source_transaction, filters), reversals,
 * failed payouts on connected accounts, and calls made with Stripe-Account.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, startReceiver, paidIntent } from '../testlib/harness.mjs';

test('connect', async (t) => {
  const hook = await startReceiver();
  const connectHook = await startReceiver();
  const emu = await startEmulator(['--webhook', `${hook.url}=whsec_p`, '--connect-webhook', `${connectHook.url}=whsec_c`]);
  const stripe = emu.stripe();
  t.after(async () => {
    await emu.stop();
    await hook.close();
    await connectHook.close();
  });
  const fresh = async () => {
    await emu.reset();
    hook.clear();
    connectHook.clear();
  };
  const bal = async (stripeAccount, cur = 'usd') => {
    const b = await stripe.balance.retrieve({}, stripeAccount ? { stripeAccount } : {});
    const f = (l) => (l.find((x) => x.currency === cur) || { amount: 0 }).amount;
    return { available: f(b.available), pending: f(b.pending) };
  };
  const seller = async () => {
    const a = await stripe.accounts.create({ type: 'express', email: 's@example.com', capabilities: { transfers: { requested: true } } });
    await emu.ctl('POST', `/__emu/accounts/${a.id}/complete_onboarding`);
    return a;
  };

  await t.test('onboarding through the account link page -> account.updated on the Connect endpoint', async () => {
    await fresh();
    const acct = await stripe.accounts.create({ type: 'express', country: 'GB', email: 'x@example.com', capabilities: { transfers: { requested: true } }, metadata: { tally: '1' } });
    assert.equal(acct.default_currency, 'gbp');
    assert.equal(acct.type, 'express');
    const link = await stripe.accountLinks.create({ account: acct.id, type: 'account_onboarding', refresh_url: 'http://localhost:9/r', return_url: 'http://localhost:9/done' });
    const page = await fetch(link.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Agree and submit/);
    const submit = await fetch(link.url, { method: 'POST', redirect: 'manual' });
    assert.equal(submit.status, 303);
    assert.equal(submit.headers.get('location'), 'http://localhost:9/done');
    const a = await stripe.accounts.retrieve(acct.id);
    assert.equal(a.details_submitted, true);
    assert.equal(a.charges_enabled, true);
    assert.equal(a.payouts_enabled, true);
    await emu.flush();
    assert.equal(hook.received.length, 0, 'no platform event for a connected account update');
    const ev = connectHook.events()[0];
    assert.equal(ev.type, 'account.updated');
    assert.equal(ev.account, acct.id);
    assert.equal(ev.data.object.id, acct.id);
    assert.equal(ev.data.previous_attributes.details_submitted, false);
    const missing = await emu.api('POST', '/v1/account_links', { account: 'acct_nope', type: 'account_onboarding' });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.param, 'account');
    const noType = await emu.api('POST', '/v1/accounts', {});
    assert.equal(noType.json.error.param, 'type');
    const upd = await stripe.accounts.update(acct.id, { metadata: { tally: '2' } });
    assert.equal(upd.metadata.tally, '2');
  });

  await t.test('transfers: capability required, balance_insufficient until funds are available', async () => {
    await fresh();
    const notReady = await stripe.accounts.create({ type: 'express', capabilities: { transfers: { requested: true } } });
    const pi = await paidIntent(emu, { amount: 10000 });
    await emu.ctl('POST', '/__emu/balance/release');
    const cap = await emu.api('POST', '/v1/transfers', { amount: 1000, currency: 'usd', destination: notReady.id });
    assert.equal(cap.status, 400);
    assert.equal(cap.json.error.code, 'insufficient_capabilities_for_transfer');
    await fresh();
    const acct = await seller();
    const pi2 = await paidIntent(emu, { amount: 10000 });
    const net = 10000 - (Math.round(10000 * 0.029) + 30);
    const early = await emu.api('POST', '/v1/transfers', { amount: 5000, currency: 'usd', destination: acct.id, transfer_group: 'g1' });
    assert.equal(early.status, 400);
    assert.equal(early.json.error.code, 'balance_insufficient');
    assert.equal(early.json.error.type, 'invalid_request_error');
    assert.equal((await emu.objects('transfers')).length, 0);
    await emu.ctl('POST', '/__emu/balance/release');
    const tr = await stripe.transfers.create({ amount: 5000, currency: 'usd', destination: acct.id, transfer_group: 'g1', metadata: { p: '1' } });
    assert.equal(tr.amount, 5000);
    assert.equal(tr.transfer_group, 'g1');
    assert.deepEqual(await bal(), { available: net - 5000, pending: 0 });
    assert.deepEqual(await bal(acct.id), { available: 5000, pending: 0 });
    const bt = await stripe.balanceTransactions.retrieve(tr.balance_transaction);
    assert.equal(bt.type, 'transfer');
    assert.equal(bt.amount, -5000);
    const tooMuch = await emu.api('POST', '/v1/transfers', { amount: net, currency: 'usd', destination: acct.id });
    assert.equal(tooMuch.json.error.code, 'balance_insufficient');
    const other = await seller();
    await stripe.transfers.create({ amount: 100, currency: 'usd', destination: other.id, transfer_group: 'g2' });
    assert.deepEqual((await stripe.transfers.list({ transfer_group: 'g1' })).data.map((x) => x.id), [tr.id]);
    assert.equal((await stripe.transfers.list({ destination: other.id })).data.length, 1);
    assert.equal((await stripe.transfers.list()).data.length, 2);
    const nodest = await emu.api('POST', '/v1/transfers', { amount: 100, currency: 'usd', destination: 'acct_missing' });
    assert.equal(nodest.json.error.param, 'destination');
    await emu.flush();
    assert.deepEqual(hook.events().filter((e) => e.type.startsWith('transfer.')).map((e) => e.type), ['transfer.created', 'transfer.created']);
    void pi;
    void pi2;
  });

  await t.test('source_transaction: funds of a pending charge can be transferred, up to its amount', async () => {
    await fresh();
    const acct = await seller();
    const pi = await paidIntent(emu, { amount: 6000 });
    const tr = await stripe.transfers.create({ amount: 4000, currency: 'usd', destination: acct.id, source_transaction: pi.latest_charge });
    assert.equal(tr.source_transaction, pi.latest_charge);
    const over = await emu.api('POST', '/v1/transfers', { amount: 2001, currency: 'usd', destination: acct.id, source_transaction: pi.latest_charge });
    assert.equal(over.status, 400);
    const cur = await emu.api('POST', '/v1/transfers', { amount: 100, currency: 'eur', destination: acct.id, source_transaction: pi.latest_charge });
    assert.equal(cur.status, 400);
    assert.deepEqual(await bal(acct.id), { available: 4000, pending: 0 });
  });

  await t.test('reversals: partial, full, over, events and balances', async () => {
    await fresh();
    const acct = await seller();
    await emu.ctl('POST', '/__emu/balance/set', { currency: 'usd', available: 10000 });
    const tr = await stripe.transfers.create({ amount: 3000, currency: 'usd', destination: acct.id });
    const r1 = await stripe.transfers.createReversal(tr.id, { amount: 1000, metadata: { why: 'partial refund' } });
    assert.equal(r1.amount, 1000);
    assert.equal(r1.metadata.why, 'partial refund');
    let t2 = await stripe.transfers.retrieve(tr.id);
    assert.equal(t2.amount_reversed, 1000);
    assert.equal(t2.reversed, false);
    assert.deepEqual(t2.reversals.data.map((r) => r.id), [r1.id]);
    const r2 = await stripe.transfers.createReversal(tr.id);
    assert.equal(r2.amount, 2000);
    t2 = await stripe.transfers.retrieve(tr.id);
    assert.equal(t2.reversed, true);
    const over = await emu.api('POST', `/v1/transfers/${tr.id}/reversals`, { amount: 1 });
    assert.equal(over.status, 400);
    assert.deepEqual(await bal(), { available: 10000, pending: 0 });
    assert.deepEqual(await bal(acct.id), { available: 0, pending: 0 });
    const got = await stripe.transfers.retrieveReversal(tr.id, r1.id);
    assert.equal(got.id, r1.id);
    assert.equal((await stripe.transfers.listReversals(tr.id)).data.length, 2);
    const rbt = await stripe.balanceTransactions.retrieve(r1.balance_transaction);
    assert.equal(rbt.amount, 1000);
    await emu.flush();
    assert.deepEqual(hook.events().filter((e) => e.type.startsWith('transfer.')).map((e) => e.type), ['transfer.created', 'transfer.reversed', 'transfer.reversed']);
  });

  await t.test('the destination\'s side: a payment (py_) per transfer, a payment refund (pyr_) per reversal', async () => {
    await fresh();
    const acct = await seller();
    await emu.ctl('POST', '/__emu/balance/set', { currency: 'usd', available: 10000 });
    const tr = await stripe.transfers.create({ amount: 3000, currency: 'usd', destination: acct.id });
    assert.match(tr.destination_payment, /^py_/);
    assert.equal((await stripe.transfers.retrieve(tr.id)).destination_payment, tr.destination_payment);
    const [pay] = (await stripe.balanceTransactions.list({}, { stripeAccount: acct.id })).data;
    assert.deepEqual([pay.object, pay.type, pay.reporting_category, pay.source, pay.amount, pay.fee, pay.net,
      pay.currency, pay.status], ['balance_transaction', 'payment', 'charge', tr.destination_payment, 3000, 0, 3000,
      'usd', 'available']);
    assert.match(pay.id, /^txn_/);
    /* the platform does not see it, the account sees only its own */
    assert.ok(!(await stripe.balanceTransactions.list({ limit: 100 })).data.some((b) => b.source === tr.destination_payment));
    const got = await stripe.balanceTransactions.retrieve(pay.id, {}, { stripeAccount: acct.id });
    assert.equal(got.id, pay.id);
    assert.equal((await emu.api('GET', `/v1/balance_transactions/${pay.id}`)).status, 404);
    const r1 = await stripe.transfers.createReversal(tr.id, { amount: 1000 });
    assert.match(r1.destination_payment_refund, /^pyr_/);
    const bySource = await stripe.balanceTransactions.list({ source: r1.destination_payment_refund },
      { stripeAccount: acct.id });
    assert.deepEqual(bySource.data.map((b) => [b.type, b.reporting_category, b.amount, b.net]),
      [['payment_refund', 'refund', -1000, -1000]]);
    const types = (await stripe.balanceTransactions.list({ type: 'payment' }, { stripeAccount: acct.id })).data;
    assert.deepEqual(types.map((b) => b.source), [tr.destination_payment]);
    /* the balance is the sum of the account's balance transactions */
    const all = (await stripe.balanceTransactions.list({}, { stripeAccount: acct.id })).data;
    assert.equal(all.reduce((n, b) => n + b.net, 0), (await bal(acct.id)).available);
  });

  await t.test('reversals as Tally makes them: keyed, metadata, refused when the account is short, listed', async () => {
    await fresh();
    const acct = await seller();
    await emu.ctl('POST', '/__emu/balance/set', { currency: 'usd', available: 10000 });
    const tr = await stripe.transfers.create({ amount: 3000, currency: 'usd', destination: acct.id });
    const path = `/v1/transfers/${tr.id}/reversals`;
    const key = { headers: { 'Idempotency-Key': 'tally:reversal:rev_1:g1' } };
    const params = { amount: 1200, 'metadata[tally_id]': 'rev_1' };
    const a = await emu.api('POST', path, params, key);
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.metadata.tally_id, 'rev_1');
    const again = await emu.api('POST', path, params, key);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.json.id, a.json.id, 'the same reversal, not a second one');
    assert.equal((await stripe.transfers.retrieve(tr.id)).amount_reversed, 1200);
    /* the connected account paid its money out: a reversal is refused, and
       the refusal is stored under its key */
    await emu.ctl('POST', '/__emu/balance/set', { currency: 'usd', available: 500, account: acct.id });
    const key2 = { headers: { 'Idempotency-Key': 'tally:reversal:rev_2:g1' } };
    const short = await emu.api('POST', path, { amount: 800, 'metadata[tally_id]': 'rev_2' }, key2);
    assert.equal(short.status, 400);
    assert.equal(short.json.error.code, 'balance_insufficient');
    await emu.ctl('POST', '/__emu/balance/set', { currency: 'usd', available: 5000, account: acct.id });
    const replay = await emu.api('POST', path, { amount: 800, 'metadata[tally_id]': 'rev_2' }, key2);
    assert.equal(replay.status, 400, 'the stored refusal is replayed');
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal((await stripe.transfers.retrieve(tr.id)).amount_reversed, 1200);
    /* listed newest first, paged with starting_after (no created filter needed) */
    const b = await emu.api('POST', path, { amount: 100, 'metadata[tally_id]': 'rev_3' },
      { headers: { 'Idempotency-Key': 'tally:reversal:rev_3:g1' } });
    assert.equal(b.status, 200);
    const p1 = await emu.api('GET', path, { limit: 1 });
    assert.deepEqual([p1.json.data.map((r) => r.metadata.tally_id), p1.json.has_more], [['rev_3'], true]);
    const p2 = await emu.api('GET', path, { limit: 1, starting_after: p1.json.data[0].id });
    assert.deepEqual([p2.json.data.map((r) => r.metadata.tally_id), p2.json.has_more], [['rev_1'], false]);
    await emu.flush();
    const evs = hook.events().filter((e) => e.type === 'transfer.reversed');
    assert.equal(evs.length, 2, 'one event per reversal made');
    assert.deepEqual(evs[1].data.object.reversals.data.map((r) => r.metadata.tally_id), ['rev_3', 'rev_1']);
  });

  await t.test('fail_payout: payout.failed with account on the Connect endpoint; the money comes back', async () => {
    await fresh();
    const acct = await seller();
    await emu.ctl('POST', '/__emu/balance/set', { currency: 'usd', available: 5000 });
    await stripe.transfers.create({ amount: 2500, currency: 'usd', destination: acct.id });
    const po = await emu.ctl('POST', `/__emu/accounts/${acct.id}/fail_payout`, { failure_code: 'account_closed' });
    assert.match(po.id, /^po_/);
    assert.equal(po.amount, 2500);
    assert.equal(po.status, 'failed');
    assert.equal(po.failure_code, 'account_closed');
    assert.deepEqual(await bal(acct.id), { available: 2500, pending: 0 });
    await emu.flush();
    const evs = connectHook.events().filter((e) => e.type.startsWith('payout.'));
    assert.deepEqual(evs.map((e) => e.type), ['payout.created', 'payout.failed']);
    assert.ok(evs.every((e) => e.account === acct.id));
    assert.ok(!hook.events().some((e) => e.type.startsWith('payout.')));
    const list = await stripe.payouts.list({}, { stripeAccount: acct.id });
    assert.equal(list.data[0].id, po.id);
    const platformList = await stripe.payouts.list();
    assert.equal(platformList.data.length, 0);
    const bts = await stripe.balanceTransactions.list({}, { stripeAccount: acct.id });
    assert.deepEqual(bts.data.map((b) => b.type), ['payout_failure', 'payout', 'payment']);
  });

  await t.test('Stripe-Account: objects live on the connected account; events carry account', async () => {
    await fresh();
    const acct = await seller();
    const pi = await stripe.paymentIntents.create(
      { amount: 2000, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_visa', confirm: true, capture_method: 'automatic' },
      { stripeAccount: acct.id },
    );
    assert.equal(pi.status, 'succeeded');
    const fromPlatform = await emu.api('GET', `/v1/payment_intents/${pi.id}`);
    assert.equal(fromPlatform.status, 404);
    const fromAccount = await stripe.paymentIntents.retrieve(pi.id, {}, { stripeAccount: acct.id });
    assert.equal(fromAccount.id, pi.id);
    assert.ok((await bal(acct.id)).pending > 0);
    assert.equal((await bal()).pending, 0);
    await emu.flush();
    const evs = connectHook.events().filter((e) => e.type.startsWith('payment_intent.') || e.type.startsWith('charge.'));
    assert.deepEqual(evs.map((e) => e.type), ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
    assert.ok(evs.every((e) => e.account === acct.id));
    const unknown = await emu.api('GET', '/v1/balance', {}, { headers: { 'Stripe-Account': 'acct_unknown' } });
    assert.equal(unknown.status, 403);
    assert.equal(unknown.json.error.code, 'account_invalid');
    const self = await emu.api('GET', '/v1/account', {}, { headers: { 'Stripe-Account': acct.id } });
    assert.equal(self.json.id, acct.id);
    const list = await stripe.events.list({}, { stripeAccount: acct.id });
    assert.ok(list.data.length >= 3);
    assert.ok(list.data.every((e) => e.account === acct.id));
  });
});
