/*
 * webhooks.test.mjs - webhook delivery: Stripe signatures verified with the
 * SDK's constructEvent, headers, platform vs Connect routing, ordering,
 * pending_webhooks, and the delivery modes duplicate / shuffle / drop /
 * pause+resume / delay_ms, retries with exponential backoff and max_attempts.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { startEmulator, startReceiver, paidIntent } from '../testlib/harness.mjs';

const SECRET = 'whsec_test_secret_123';
const CONNECT_SECRET = 'whsec_connect_456';

test('webhook delivery', async (t) => {
  const hook = await startReceiver();
  const connectHook = await startReceiver();
  const emu = await startEmulator([
    '--webhook', `${hook.url}=${SECRET}`,
    '--connect-webhook', `${connectHook.url}=${CONNECT_SECRET}`,
  ]);
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

  await t.test('signatures verify with stripe.webhooks.constructEvent; headers as Stripe sends them', async () => {
    await fresh();
    const pi = await paidIntent(emu);
    await emu.flush();
    assert.ok(hook.received.length >= 3);
    for (const r of hook.received) {
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(r.headers['user-agent'], 'Stripe/1.0 (+https://stripe.com/docs/webhooks)');
      assert.match(r.headers['stripe-signature'], /^t=\d+,v1=[0-9a-f]{64}$/);
      const ev = stripe.webhooks.constructEvent(r.body, r.headers['stripe-signature'], SECRET);
      assert.equal(ev.object, 'event');
      assert.equal(ev.api_version, '2026-10-28.endive');
      assert.equal(ev.livemode, false);
      assert.ok(ev.request.id === null || ev.request.id.startsWith('req_'));
      assert.throws(
        () => stripe.webhooks.constructEvent(r.body, r.headers['stripe-signature'], 'whsec_wrong'),
        Stripe.errors.StripeSignatureVerificationError,
      );
      assert.throws(
        () => stripe.webhooks.constructEvent(r.body.replace('"livemode": false', '"livemode": true'), r.headers['stripe-signature'], SECRET),
        Stripe.errors.StripeSignatureVerificationError,
      );
    }
    const types = hook.events().map((e) => e.type);
    assert.deepEqual(types, ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
    const ev = hook.events()[2];
    assert.equal(ev.data.object.id, pi.id);
    assert.equal(ev.request.idempotency_key, null); // the raw client sent no key
    assert.equal(connectHook.received.length, 0);
  });

  await t.test('events carry the request id and idempotency key that caused them; pending_webhooks drops after delivery', async () => {
    await fresh();
    const r = await emu.api('POST', '/v1/payment_intents', { amount: 1000, currency: 'usd' }, { headers: { 'Idempotency-Key': 'k-evt-1' } });
    await emu.flush();
    const ev = hook.events()[0];
    assert.equal(ev.type, 'payment_intent.created');
    assert.equal(ev.request.id, r.headers.get('request-id'));
    assert.equal(ev.request.idempotency_key, 'k-evt-1');
    assert.equal(ev.pending_webhooks, 1);
    const stored = await stripe.events.retrieve(ev.id);
    assert.equal(stored.pending_webhooks, 0);
  });

  await t.test('order: automatic_async success then charge.updated with the balance transaction', async () => {
    await fresh();
    const pi = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_visa', confirm: true });
    await emu.flush();
    const evs = hook.events();
    assert.deepEqual(evs.map((e) => e.type), ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'charge.updated']);
    assert.equal(evs[1].data.object.balance_transaction, null);
    assert.equal(evs[2].data.object.id, pi.id);
    assert.match(evs[3].data.object.balance_transaction, /^txn_/);
    assert.deepEqual(evs[3].data.previous_attributes, { balance_transaction: null });
  });

  await t.test('Connect events (account set) go to the Connect endpoint only', async () => {
    await fresh();
    const acct = await stripe.accounts.create({ type: 'express', capabilities: { transfers: { requested: true } } });
    await emu.ctl('POST', `/__emu/accounts/${acct.id}/complete_onboarding`);
    await emu.flush();
    assert.equal(hook.received.length, 0);
    const [r] = connectHook.received;
    const ev = stripe.webhooks.constructEvent(r.body, r.headers['stripe-signature'], CONNECT_SECRET);
    assert.equal(ev.type, 'account.updated');
    assert.equal(ev.account, acct.id);
    assert.equal(ev.data.previous_attributes.charges_enabled, false);
  });

  await t.test('duplicate: k copies of each event', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/webhooks/config', { duplicate: 3 });
    await paidIntent(emu);
    await emu.flush();
    const ids = hook.events().map((e) => e.id);
    assert.equal(ids.length, 9);
    assert.equal(new Set(ids).size, 3);
    for (const id of new Set(ids)) assert.equal(ids.filter((x) => x === id).length, 3);
  });

  await t.test('shuffle: a batch window delivers in random order, every event once', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/webhooks/config', { shuffle: true, shuffle_window_ms: 400 });
    const created = [];
    for (let i = 0; i < 8; i++) {
      const r = await emu.api('POST', '/v1/payment_intents', { amount: 1000 + i, currency: 'usd' });
      created.push(r.json.id);
    }
    await emu.flush();
    const got = hook.events().map((e) => e.data.object.id);
    assert.equal(got.length, 8);
    assert.deepEqual([...got].sort(), [...created].sort());
    assert.notDeepEqual(got, created, 'shuffled order should differ (1 in 8! chance of a false failure)');
  });

  await t.test('drop: events are recorded and listable but never delivered', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/webhooks/config', { drop: true });
    await paidIntent(emu);
    await emu.flush();
    assert.equal(hook.received.length, 0);
    const list = await stripe.events.list();
    assert.equal(list.data.length, 3);
    const d = (await emu.ctl('GET', '/__emu/webhooks/deliveries')).deliveries;
    assert.equal(d.length, 3);
    assert.ok(d.every((x) => x.dropped === true));
  });

  await t.test('delivery_success filters events by whether every endpoint got them; Connect events per account', async () => {
    await fresh();
    await paidIntent(emu);
    await emu.flush();
    await emu.ctl('POST', '/__emu/webhooks/config', { drop: true });
    const missed = await paidIntent(emu);
    await emu.flush();
    const failed = await stripe.events.list({ delivery_success: false, limit: 100 });
    assert.equal(failed.data.length, 3, 'the dropped events only');
    assert.ok(failed.data.every((e) => e.pending_webhooks > 0));
    assert.ok(failed.data.some((e) => e.data.object.id === missed.id));
    const ok = await stripe.events.list({ delivery_success: true, limit: 100 });
    assert.equal(ok.data.length, 3, 'the delivered events only');
    assert.ok(ok.data.every((e) => e.pending_webhooks === 0));
    await assert.rejects(stripe.events.list({ delivery_success: 'maybe' }), /Invalid boolean/);
    /* a connected account's events are listed with its Stripe-Account only */
    const acct = await stripe.accounts.create({ type: 'express', country: 'US', capabilities: { transfers: { requested: true } } });
    await emu.ctl('POST', `/__emu/accounts/${acct.id}/complete_onboarding`);
    const own = await stripe.events.list({ delivery_success: false }, { stripeAccount: acct.id });
    assert.deepEqual(own.data.map((e) => [e.type, e.account]), [['account.updated', acct.id]]);
    const platform = await stripe.events.list({ limit: 100 });
    assert.ok(platform.data.every((e) => e.account === undefined), 'no Connect event in the platform list');
    await emu.ctl('POST', '/__emu/webhooks/config', { drop: false });
  });

  await t.test('pause then resume: nothing is sent while paused, everything in order after', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/webhooks/config', { pause: true });
    await paidIntent(emu);
    await emu.flush(); // returns although the paused queue is not empty
    assert.equal(hook.received.length, 0);
    assert.equal((await emu.ctl('GET', '/__emu/webhooks/config')).endpoints.find((e) => !e.connect).queued, 3);
    await emu.ctl('POST', '/__emu/webhooks/resume');
    await emu.flush();
    assert.deepEqual(hook.events().map((e) => e.type), ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
  });

  await t.test('delay_ms holds each delivery back', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/webhooks/config', { delay_ms: 400 });
    const t0 = Date.now();
    await emu.api('POST', '/v1/payment_intents', { amount: 1000, currency: 'usd' });
    assert.ok(Date.now() - t0 < 400, 'the API answer does not wait for delivery');
    await emu.flush();
    assert.equal(hook.received.length, 1);
    assert.ok(hook.received[0].time - t0 >= 390);
  });

  await t.test('retry with exponential backoff when the endpoint answers 500 first', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/webhooks/config', { retry_base_ms: 60 });
    hook.failFirst(2, 500);
    await emu.api('POST', '/v1/payment_intents', { amount: 1000, currency: 'usd' });
    await emu.flush();
    assert.deepEqual(hook.received.map((r) => r.answered), [500, 500, 200]);
    const d = (await emu.ctl('GET', '/__emu/webhooks/deliveries')).deliveries;
    assert.deepEqual(d.map((x) => [x.attempt, x.status]), [[1, 500], [2, 500], [3, 200]]);
    assert.ok(d[1].time - d[0].time >= 55, `first backoff ${d[1].time - d[0].time}`);
    assert.ok(d[2].time - d[1].time >= 115, `second backoff ${d[2].time - d[1].time}`);
    assert.equal(hook.received[0].json.id, hook.received[2].json.id);
  });

  await t.test('retries do not hold back later events; max_attempts bounds them; connection errors retry too', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/webhooks/config', {
      retry_base_ms: 20,
      max_attempts: 3,
      endpoints: [
        { url: hook.url, secret: SECRET },
        { url: 'http://127.0.0.1:9/unreachable', secret: 'whsec_x' },
        { url: connectHook.url, secret: CONNECT_SECRET, connect: true },
      ],
    });
    hook.failFirst(100, 503);
    await paidIntent(emu);
    await emu.flush();
    const d = (await emu.ctl('GET', '/__emu/webhooks/deliveries')).deliveries;
    const toHook = d.filter((x) => x.endpoint === hook.url);
    assert.equal(toHook.length, 9); // 3 events x 3 attempts
    assert.ok(toHook.every((x) => x.status === 503));
    const unreachable = d.filter((x) => x.endpoint.includes(':9/'));
    assert.equal(unreachable.length, 9);
    assert.ok(unreachable.every((x) => x.status === null && x.error));
    // first attempts went out in event order even though each failed
    assert.deepEqual(toHook.filter((x) => x.attempt === 1).map((x) => x.type), ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
    hook.failFirst(0);
    await emu.reset(); // keeps endpoints and retry settings
    const cfg = await emu.ctl('GET', '/__emu/webhooks/config');
    assert.equal(cfg.endpoints.length, 3);
    assert.equal(cfg.max_attempts, 3);
    await emu.ctl('POST', '/__emu/webhooks/config', {
      retry_base_ms: 1000,
      max_attempts: 8,
      endpoints: [{ url: hook.url, secret: SECRET }, { url: connectHook.url, secret: CONNECT_SECRET, connect: true }],
    });
  });
});
