/*
 * payments.test.mjs - PaymentIntent flows and the API's edges: declines,
 * 3-D Secure, processing, automatic vs automatic_async capture, manual
 * capture, cancel, currency limits, parameter errors, lists and search,
 * authentication (secret, basic, publishable + client_secret with CORS),
 * headers, balances and fees.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { startEmulator, startReceiver, paidIntent } from '../testlib/harness.mjs';

test('payment flows', async (t) => {
  const hook = await startReceiver();
  const emu = await startEmulator(['--webhook', `${hook.url}=whsec_pay`]);
  const stripe = emu.stripe();
  t.after(async () => {
    await emu.stop();
    await hook.close();
  });
  const fresh = async () => {
    await emu.reset();
    hook.clear();
  };
  const types = () => hook.events().map((e) => e.type);

  await t.test('declines: 402 card_error with decline codes; PI back to requires_payment_method', async () => {
    for (const [pm, code, decline] of [
      ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
      ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
      ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
    ]) {
      await fresh();
      const r = await emu.api('POST', '/v1/payment_intents', { amount: 1000, currency: 'usd', payment_method_types: ['card'], payment_method: pm, confirm: true });
      assert.equal(r.status, 402);
      const e = r.json.error;
      assert.equal(e.type, 'card_error');
      assert.equal(e.code, code);
      assert.equal(e.decline_code, decline);
      assert.match(e.charge, /^ch_/);
      assert.equal(e.payment_intent.status, 'requires_payment_method');
      assert.equal(e.payment_intent.last_payment_error.code, code);
      assert.equal(e.payment_intent.last_payment_error.decline_code, decline);
      assert.equal(e.payment_intent.last_payment_error.type, 'card_error');
      assert.equal(e.payment_method.card.last4.length, 4);
      const ch = await stripe.charges.retrieve(e.charge);
      assert.equal(ch.status, 'failed');
      assert.equal(ch.failure_code, code);
      assert.equal(ch.paid, false);
      await emu.flush();
      assert.deepEqual(types(), ['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed']);
      // a new payment method on the same PI can still succeed
      const ok = await stripe.paymentIntents.confirm(e.payment_intent.id, { payment_method: 'pm_card_visa' });
      assert.equal(ok.status, 'succeeded');
      assert.notEqual(ok.latest_charge, e.charge);
    }
  });

  await t.test('automatic_payment_methods (the default) needs a return_url for server-side confirmation', async () => {
    await fresh();
    const r = await emu.api('POST', '/v1/payment_intents', { amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'return_url');
    assert.match(r.json.error.message, /allow_redirects\]` to `never`/);
    assert.equal((await emu.objects('payment_intents')).length, 0);
    const never = await stripe.paymentIntents.create({
      amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    });
    assert.equal(never.status, 'succeeded');
    assert.deepEqual(never.automatic_payment_methods, { allow_redirects: 'never', enabled: true });
    const withUrl = await stripe.paymentIntents.create({
      amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, return_url: 'http://localhost:9/ok',
    });
    assert.equal(withUrl.status, 'succeeded');
    const both = await emu.api('POST', '/v1/payment_intents', {
      amount: 1000, currency: 'usd', payment_method_types: ['card'], automatic_payment_methods: { enabled: true },
    });
    assert.equal(both.status, 400);
  });

  await t.test('requires_action -> authenticate succeed / fail', async () => {
    await fresh();
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_authenticationRequired', confirm: true });
    assert.equal(pi.status, 'requires_action');
    assert.equal(pi.next_action.type, 'use_stripe_sdk');
    assert.equal(pi.latest_charge, null);
    const done = await emu.ctl('POST', `/__emu/payment_intents/${pi.id}/authenticate`, { result: 'succeed' });
    assert.equal(done.status, 'succeeded');
    const ch = await stripe.charges.retrieve(done.latest_charge);
    assert.equal(ch.payment_method_details.card.three_d_secure.result, 'authenticated');
    await emu.flush();
    assert.deepEqual(types(), ['payment_intent.created', 'payment_intent.requires_action', 'charge.succeeded', 'payment_intent.succeeded', 'charge.updated']);

    const pi2 = await stripe.paymentIntents.create({
      amount: 1200, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_threeDSecureRequired', confirm: true, return_url: 'http://localhost:9/back',
    });
    assert.equal(pi2.next_action.type, 'redirect_to_url');
    assert.equal(pi2.next_action.redirect_to_url.return_url, 'http://localhost:9/back');
    const failed = await emu.ctl('POST', `/__emu/payment_intents/${pi2.id}/authenticate`, { result: 'fail' });
    assert.equal(failed.status, 'requires_payment_method');
    assert.equal(failed.last_payment_error.code, 'payment_intent_authentication_failure');
    // the 3DS page a browser would see, and its redirect
    const page = await fetch(`${emu.url}/__emu/3ds/${pi2.id}`);
    assert.match(await page.text(), /Complete authentication/);
    const pi3 = await stripe.paymentIntents.create({
      amount: 1200, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_threeDSecureRequired', confirm: true, return_url: 'http://localhost:9/back',
    });
    const r = await fetch(pi3.next_action.redirect_to_url.url, { method: 'POST', body: 'result=succeed', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    assert.equal(r.status, 303);
    assert.match(r.headers.get('location'), /^http:\/\/localhost:9\/back\?payment_intent=pi_.*redirect_status=succeeded/);
    assert.equal((await stripe.paymentIntents.retrieve(pi3.id)).status, 'succeeded');
    // off_session payments that need authentication are declined
    const off = await emu.api('POST', '/v1/payment_intents', {
      amount: 1200, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_authenticationRequired', confirm: true, off_session: true,
    });
    assert.equal(off.status, 402);
    assert.equal(off.json.error.code, 'authentication_required');
  });

  await t.test('processing -> settle', async () => {
    await fresh();
    const pi = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_processing', confirm: true, capture_method: 'automatic' });
    assert.equal(pi.status, 'processing');
    assert.equal((await stripe.charges.retrieve(pi.latest_charge)).status, 'pending');
    const settled = await emu.ctl('POST', `/__emu/payment_intents/${pi.id}/settle`);
    assert.equal(settled.status, 'succeeded');
    await emu.flush();
    assert.deepEqual(types(), ['payment_intent.created', 'charge.pending', 'payment_intent.processing', 'charge.succeeded', 'payment_intent.succeeded']);
    const pi2 = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_processing', confirm: true });
    const failed = await emu.ctl('POST', `/__emu/payment_intents/${pi2.id}/settle`, { result: 'fail' });
    assert.equal(failed.status, 'requires_payment_method');
    await assert.rejects(emu.ctl('POST', `/__emu/payment_intents/${pi2.id}/settle`), /400/);
  });

  await t.test('automatic_async (the default): charge.updated carries the balance transaction, after a configurable delay', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/config', { async_capture_delay_ms: 150 });
    const pi = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_visa', confirm: true });
    assert.equal(pi.capture_method, 'automatic_async');
    const early = await stripe.charges.retrieve(pi.latest_charge);
    assert.equal(early.balance_transaction, null);
    await emu.flush();
    const evs = hook.events();
    const upd = evs.find((e) => e.type === 'charge.updated');
    assert.ok(upd.data.object.balance_transaction.startsWith('txn_'));
    assert.deepEqual(upd.data.previous_attributes, { balance_transaction: null });
    assert.equal(evs.find((e) => e.type === 'charge.succeeded').data.object.balance_transaction, null);
    assert.ok(upd.created >= evs.find((e) => e.type === 'payment_intent.succeeded').created);
    const late = await stripe.charges.retrieve(pi.latest_charge, { expand: ['balance_transaction'] });
    assert.equal(late.balance_transaction.amount, 2000);
    // automatic: the balance transaction is there at once, no charge.updated
    await fresh();
    const pi2 = await paidIntent(emu);
    const ch2 = await stripe.charges.retrieve(pi2.latest_charge);
    assert.match(ch2.balance_transaction, /^txn_/);
    await emu.flush();
    assert.ok(!types().includes('charge.updated'));
    assert.match(hook.events().find((e) => e.type === 'charge.succeeded').data.object.balance_transaction, /^txn_/);
  });

  await t.test('manual capture (full, partial) and cancel releasing an authorization', async () => {
    await fresh();
    const pi = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    assert.equal(pi.status, 'requires_capture');
    const ch = await stripe.charges.retrieve(pi.latest_charge);
    assert.equal(ch.captured, false);
    assert.equal(ch.balance_transaction, null);
    const cap = await stripe.paymentIntents.capture(pi.id);
    assert.equal(cap.amount_received, 5000);
    await assert.rejects(stripe.paymentIntents.capture(pi.id), (e) => e.code === 'payment_intent_unexpected_state');
    const pi2 = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    await assert.rejects(stripe.paymentIntents.capture(pi2.id, { amount_to_capture: 6000 }), (e) => e.statusCode === 400);
    const pi3 = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    const canceled = await stripe.paymentIntents.cancel(pi3.id, { cancellation_reason: 'requested_by_customer' });
    assert.equal(canceled.status, 'canceled');
    const ch3 = await stripe.charges.retrieve(pi3.latest_charge);
    assert.equal(ch3.refunded, true);
    assert.equal(ch3.amount_refunded, 5000);
    await emu.flush();
    assert.deepEqual(types().filter((x) => x.startsWith('charge.captured') || x.includes('capturable') || x.includes('canceled')), [
      'payment_intent.amount_capturable_updated', 'charge.captured', 'payment_intent.amount_capturable_updated',
      'payment_intent.amount_capturable_updated', 'payment_intent.canceled',
    ]);
  });

  await t.test('cancel is refused once succeeded; confirm twice refused; 404 for unknown ids', async () => {
    await fresh();
    const pi = await paidIntent(emu);
    const r = await emu.api('POST', `/v1/payment_intents/${pi.id}/cancel`);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.code, 'payment_intent_unexpected_state');
    const c = await emu.api('POST', `/v1/payment_intents/${pi.id}/confirm`, { payment_method: 'pm_card_visa' });
    assert.equal(c.json.error.code, 'payment_intent_unexpected_state');
    const nf = await emu.api('GET', '/v1/payment_intents/pi_nope');
    assert.equal(nf.status, 404);
    assert.equal(nf.json.error.code, 'resource_missing');
    assert.equal(nf.json.error.message, "No such payment_intent: 'pi_nope'");
    const route = await emu.api('GET', '/v1/nothing_here');
    assert.equal(route.status, 404);
    assert.match(route.json.error.message, /Unrecognized request URL/);
  });

  await t.test('currency limits and parameter errors', async () => {
    await fresh();
    const create = (params) => emu.api('POST', '/v1/payment_intents', params);
    const cases = [
      [{ amount: 49, currency: 'usd' }, 'amount_too_small', /at least \$0\.50 usd/],
      [{ amount: 29, currency: 'gbp' }, 'amount_too_small', /£0\.30/],
      [{ amount: 49, currency: 'jpy' }, 'amount_too_small', /¥50 jpy/],
      [{ amount: 99, currency: 'krw' }, 'amount_too_small', /100/],
      [{ amount: 100000000, currency: 'usd' }, 'amount_too_large', /999,999\.99/],
      [{ amount: 100000000, currency: 'jpy' }, 'amount_too_large', /99,999,999/],
      [{ amount: 1005, currency: 'kwd' }, 'invalid_charge_amount', /last digit/],
      [{ amount: 'abc', currency: 'usd' }, 'parameter_invalid_integer', /Invalid integer: abc/],
      [{ currency: 'usd' }, 'parameter_missing', /amount/],
      [{ amount: 1000, currency: 'usd', colour: 'red' }, 'parameter_unknown', /colour/],
    ];
    for (const [params, code, msg] of cases) {
      const r = await create(params);
      assert.equal(r.status, 400, JSON.stringify(params));
      assert.equal(r.json.error.code, code, JSON.stringify(params));
      assert.match(r.json.error.message, msg);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.ok(r.json.error.param);
    }
    assert.equal((await create({ amount: 50, currency: 'jpy' })).status, 200);
    assert.equal((await create({ amount: 1000, currency: 'KWD' })).json.currency, 'kwd');
    assert.equal((await create({ amount: 99999999, currency: 'usd' })).status, 200);
    const bad = await create({ amount: 1000, currency: 'xyz' });
    assert.equal(bad.json.error.param, 'currency');
  });

  await t.test('lists paginate newest first; search by metadata with AND', async () => {
    await fresh();
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const r = await emu.api('POST', '/v1/payment_intents', { amount: 1000 + i, currency: 'usd', metadata: { tally_id: `t${i % 2}`, n: String(i) } });
      ids.push(r.json.id);
    }
    const page1 = await stripe.paymentIntents.list({ limit: 2 });
    assert.deepEqual(page1.data.map((p) => p.id), [ids[4], ids[3]]);
    assert.equal(page1.has_more, true);
    const page2 = await stripe.paymentIntents.list({ limit: 2, starting_after: ids[3] });
    assert.deepEqual(page2.data.map((p) => p.id), [ids[2], ids[1]]);
    const page3 = await stripe.paymentIntents.list({ limit: 2, starting_after: ids[1] });
    assert.deepEqual(page3.data.map((p) => p.id), [ids[0]]);
    assert.equal(page3.has_more, false);
    const back = await stripe.paymentIntents.list({ limit: 2, ending_before: ids[1] });
    assert.deepEqual(back.data.map((p) => p.id), [ids[3], ids[2]]);
    assert.equal(back.has_more, true);
    const all = [];
    for await (const p of stripe.paymentIntents.list({ limit: 2 })) all.push(p.id);
    assert.deepEqual(all, [...ids].reverse());
    const bad = await emu.api('GET', '/v1/payment_intents', { limit: 101 });
    assert.equal(bad.status, 400);
    const s = await stripe.paymentIntents.search({ query: "metadata['tally_id']:'t0' AND metadata['n']:'2'" });
    assert.deepEqual(s.data.map((p) => p.id), [ids[2]]);
    const s2 = await stripe.paymentIntents.search({ query: 'metadata["tally_id"]:"t1"' });
    assert.deepEqual(s2.data.map((p) => p.id), [ids[3], ids[1]]);
    const s3 = await stripe.paymentIntents.search({ query: "status:'requires_payment_method' AND metadata['n']:'4'" });
    assert.equal(s3.data.length, 1);
    const bq = await emu.api('GET', '/v1/payment_intents/search', { query: 'nonsense' });
    assert.equal(bq.status, 400);
    await emu.ctl('POST', '/__emu/config', { search_index_delay_ms: 60000 });
    const hidden = await stripe.paymentIntents.search({ query: "metadata['tally_id']:'t0'" });
    assert.equal(hidden.data.length, 0, 'search_index_delay_ms emulates indexing lag');
  });

  await t.test('authentication: bearer, basic, missing/invalid keys, publishable key with client_secret and CORS', async () => {
    await fresh();
    const none = await emu.api('GET', '/v1/balance', {}, { key: null });
    assert.equal(none.status, 401);
    assert.equal(none.json.error.type, 'invalid_request_error');
    assert.match(none.json.error.message, /You did not provide an API key/);
    const bad = await emu.api('GET', '/v1/balance', {}, { key: 'sk_live_123456789' });
    assert.equal(bad.status, 401);
    assert.match(bad.json.error.message, /Invalid API Key provided: sk_live_\*+6789/);
    const basic = await emu.api('GET', '/v1/balance', {}, { auth: 'basic' });
    assert.equal(basic.status, 200);
    await assert.rejects(new Stripe('sk_live_x', { host: '127.0.0.1', port: emu.port, protocol: 'http', maxNetworkRetries: 0 }).balance.retrieve(),
      Stripe.errors.StripeAuthenticationError);

    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const pk = 'pk_test_browser';
    const pre = await fetch(`${emu.url}/v1/payment_intents/${pi.id}/confirm`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://localhost:5555', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
    });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
    assert.equal(pre.headers.get('access-control-allow-headers'), 'authorization,content-type');
    const noSecret = await emu.api('GET', `/v1/payment_intents/${pi.id}`, {}, { key: pk });
    assert.equal(noSecret.status, 401);
    const wrong = await emu.api('GET', `/v1/payment_intents/${pi.id}`, { client_secret: `${pi.id}_secret_wrong` }, { key: pk });
    assert.equal(wrong.status, 400);
    const got = await emu.api('GET', `/v1/payment_intents/${pi.id}`, { client_secret: pi.client_secret }, { key: pk, headers: { Origin: 'http://localhost:5555' } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('access-control-allow-origin'), '*');
    // Stripe.js style: key and client_secret in the form body
    const conf = await emu.api('POST', `/v1/payment_intents/${pi.id}/confirm`, {
      key: pk, client_secret: pi.client_secret, payment_method_data: { type: 'card', card: { number: '4242424242424242' } },
    }, { key: null });
    assert.equal(conf.status, 200);
    assert.equal(conf.json.status, 'succeeded');
    const elsewhere = await emu.api('GET', '/v1/balance', { client_secret: pi.client_secret }, { key: pk });
    assert.equal(elsewhere.status, 401);
    assert.equal(elsewhere.json.error.code, 'secret_key_required');
  });

  await t.test('headers: Request-Id, Content-Type, Stripe-Version echoed', async () => {
    const r = await emu.api('GET', '/v1/balance', {}, { headers: { 'Stripe-Version': '2024-06-20' } });
    assert.match(r.headers.get('request-id'), /^req_/);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.headers.get('stripe-version'), '2024-06-20');
    const r2 = await emu.api('GET', '/v1/balance');
    assert.equal(r2.headers.get('stripe-version'), '2026-10-28.endive');
    const e = await emu.api('GET', '/v1/payment_intents/pi_x');
    assert.match(e.headers.get('request-id'), /^req_/);
    assert.equal(e.headers.get('content-type'), 'application/json');
  });

  await t.test('balance: charges add net to pending, release, set; fees per currency are configurable', async () => {
    await fresh();
    await paidIntent(emu, { amount: 10000 });
    let bal = await stripe.balance.retrieve();
    const fee = Math.round(10000 * 0.029) + 30;
    assert.deepEqual(bal.pending.map((b) => [b.currency, b.amount]), [['usd', 10000 - fee]]);
    assert.equal(bal.available[0].amount, 0);
    await emu.ctl('POST', '/__emu/balance/release', { amount: 1000, currency: 'usd' });
    bal = await stripe.balance.retrieve();
    assert.equal(bal.available[0].amount, 1000);
    await emu.ctl('POST', '/__emu/balance/release', {});
    bal = await stripe.balance.retrieve();
    assert.equal(bal.available[0].amount, 10000 - fee);
    assert.equal(bal.pending[0].amount, 0);
    const bts = await stripe.balanceTransactions.list({ type: 'charge' });
    assert.equal(bts.data[0].status, 'available');
    await emu.ctl('POST', '/__emu/fees', { currency: 'eur', percent_bps: 100, fixed: 10 });
    const pi = await paidIntent(emu, { amount: 5000, currency: 'eur' });
    const ch = await stripe.charges.retrieve(pi.latest_charge, { expand: ['balance_transaction'] });
    assert.equal(ch.balance_transaction.fee, 60);
    assert.equal(ch.balance_transaction.fee_details[0].type, 'stripe_fee');
    const set = await emu.ctl('POST', '/__emu/balance/set', { currency: 'gbp', available: 777, pending: 5 });
    assert.ok(set.available.some((b) => b.currency === 'gbp' && b.amount === 777));
    const bypass = await paidIntent(emu, { amount: 2000, pm: 'pm_card_bypassPending' });
    const btb = await stripe.balanceTransactions.list({ source: bypass.latest_charge });
    assert.equal(btb.data[0].status, 'available');
  });

  await t.test('a fee changed after the fact: fee, fee_details and net move, and the balance; no event', async () => {
    await fresh();
    const pi = await paidIntent(emu, { amount: 10000, pm: 'pm_card_bypassPending' });
    const [bt] = (await stripe.balanceTransactions.list({ source: pi.latest_charge })).data;
    const before = (await stripe.balance.retrieve()).available[0].amount;
    const events = (await stripe.events.list({ limit: 100 })).data.length;
    const out = await emu.ctl('POST', `/__emu/balance_transactions/${bt.id}/fee`, { fee: bt.fee + 45 });
    assert.equal(out.fee, bt.fee + 45);
    const now = await stripe.balanceTransactions.retrieve(bt.id);
    assert.deepEqual([now.fee, now.net, now.fee_details[0].amount], [bt.fee + 45, bt.amount - bt.fee - 45, bt.fee + 45]);
    assert.equal((await stripe.balance.retrieve()).available[0].amount, before - 45);
    assert.equal((await stripe.events.list({ limit: 100 })).data.length, events, 'no event');
    await assert.rejects(emu.ctl('POST', `/__emu/balance_transactions/${bt.id}/fee`, { fee: -1 }), /fee/);
  });
});
