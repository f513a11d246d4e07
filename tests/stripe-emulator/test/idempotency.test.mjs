/*
 * idempotency.test.mjs - Idempotency-Key semantics as documented by Stripe:
 * replay (same status and body, Idempotent-Replayed: true), parameter and
 * endpoint mismatch (400 idempotency_error), concurrent use (409, retryable),
 * stored 500s and card errors replayed, validation 400s not stored, expiry
 * after 24 h on the emulator clock, and scoping per Stripe-Account.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator } from '../testlib/harness.mjs';

test('idempotency', async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const post = (p, params, key, headers = {}) =>
    emu.api('POST', p, params, { headers: key ? { 'Idempotency-Key': key, ...headers } : headers });
  const count = async (kind) => (await emu.objects(kind)).length;
  const fresh = () => emu.reset();

  await t.test('same key + same params: the stored answer again, marked replayed', async () => {
    await fresh();
    const params = { amount: 1500, currency: 'usd', metadata: { tally_id: 'a' } };
    const a = await post('/v1/payment_intents', params, 'key-1');
    const b = await post('/v1/payment_intents', params, 'key-1');
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(b.text, a.text);
    assert.equal(a.headers.get('idempotent-replayed'), null);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.equal(b.headers.get('original-request'), a.headers.get('request-id'));
    assert.notEqual(b.headers.get('request-id'), a.headers.get('request-id'));
    assert.equal(b.headers.get('idempotency-key'), 'key-1');
    assert.equal(await count('payment_intents'), 1);
    // the key's params are compared whatever their order on the wire
    const c = await emu.api('POST', '/v1/payment_intents', {}, {
      headers: { 'Idempotency-Key': 'key-1', 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(c.status, 400); // no params at all: a mismatch
    const log = (await emu.ctl('GET', '/__emu/requests')).requests;
    assert.deepEqual(log.map((r) => r.replayed), [false, true, false]);
  });

  await t.test('same key + different params or endpoint: 400 idempotency_error, nothing stored', async () => {
    await fresh();
    await post('/v1/payment_intents', { amount: 1500, currency: 'usd' }, 'key-2');
    const b = await post('/v1/payment_intents', { amount: 1600, currency: 'usd' }, 'key-2');
    assert.equal(b.status, 400);
    assert.equal(b.json.error.type, 'idempotency_error');
    assert.match(b.json.error.message, /same parameters/);
    const c = await post('/v1/refunds', { amount: 1500 }, 'key-2');
    assert.equal(c.status, 400);
    assert.equal(c.json.error.type, 'idempotency_error');
    assert.match(c.json.error.message, /same endpoint/);
    const d = await post('/v1/payment_intents', { amount: 1500, currency: 'usd' }, 'key-2');
    assert.equal(d.headers.get('idempotent-replayed'), 'true');
    assert.equal(await count('payment_intents'), 1);
  });

  await t.test('a second request while the first is in flight: 409, Stripe-Should-Retry: true', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/faults', { path: '^/v1/payment_intents$', mode: 'hang_before', seconds: 10 });
    const params = { amount: 1500, currency: 'usd' };
    const first = post('/v1/payment_intents', params, 'key-3');
    while ((await emu.ctl('GET', '/__emu/faults')).hung === 0) await new Promise((r) => setTimeout(r, 10));
    const second = await post('/v1/payment_intents', params, 'key-3');
    assert.equal(second.status, 409);
    assert.equal(second.headers.get('stripe-should-retry'), 'true');
    assert.equal(second.json.error.type, 'invalid_request_error');
    assert.equal(second.json.error.code, 'idempotency_key_in_use');
    assert.match(second.json.error.message, /another in-progress request using this Stripe-Account, Idempotency-Key/);
    await emu.ctl('POST', '/__emu/faults/release');
    const a = await first;
    assert.equal(a.status, 200);
    const third = await post('/v1/payment_intents', params, 'key-3');
    assert.equal(third.headers.get('idempotent-replayed'), 'true');
    assert.equal(third.json.id, a.json.id);
    assert.equal(await count('payment_intents'), 1);
  });

  await t.test('a stored 500 is replayed: a same-key retry cannot succeed, a new key can', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/faults', { path: '^/v1/payment_intents$', mode: 'error_500_stored' });
    const params = { amount: 1500, currency: 'usd' };
    const a = await post('/v1/payment_intents', params, 'key-4');
    assert.equal(a.status, 500);
    assert.equal(a.json.error.type, 'api_error');
    assert.equal(a.headers.get('stripe-should-retry'), 'false');
    const b = await post('/v1/payment_intents', params, 'key-4');
    assert.equal(b.status, 500);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.equal(b.text, a.text);
    assert.equal(await count('payment_intents'), 0);
    const c = await post('/v1/payment_intents', params, 'key-4b');
    assert.equal(c.status, 200);
  });

  await t.test('a validation 400 is not stored: the corrected retry with the same key runs', async () => {
    await fresh();
    const a = await post('/v1/payment_intents', { currency: 'usd' }, 'key-5');
    assert.equal(a.status, 400);
    assert.equal(a.json.error.code, 'parameter_missing');
    assert.equal(a.json.error.param, 'amount');
    const b = await post('/v1/payment_intents', { amount: 1500, currency: 'usd' }, 'key-5');
    assert.equal(b.status, 200);
    assert.equal(b.headers.get('idempotent-replayed'), null);
    const tooSmall = await post('/v1/payment_intents', { amount: 10, currency: 'usd' }, 'key-5c');
    assert.equal(tooSmall.json.error.code, 'amount_too_small');
    const ok = await post('/v1/payment_intents', { amount: 100, currency: 'usd' }, 'key-5c');
    assert.equal(ok.status, 200);
  });

  await t.test('401s, 404 routes and injected 429/409 store nothing', async () => {
    await fresh();
    const p = { amount: 1500, currency: 'usd' };
    const bad = await emu.api('POST', '/v1/payment_intents', p, { key: 'sk_live_nope', headers: { 'Idempotency-Key': 'key-6' } });
    assert.equal(bad.status, 401);
    await emu.ctl('POST', '/__emu/faults', { path: '^/v1/payment_intents$', mode: 'error_429' });
    const limited = await post('/v1/payment_intents', p, 'key-6');
    assert.equal(limited.status, 429);
    await emu.ctl('POST', '/__emu/faults', { path: '^/v1/payment_intents$', mode: 'error_409' });
    const conflict = await post('/v1/payment_intents', p, 'key-6');
    assert.equal(conflict.status, 409);
    const ok = await post('/v1/payment_intents', p, 'key-6');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('idempotent-replayed'), null);
  });

  await t.test('card errors (402) and state errors are stored and replayed', async () => {
    await fresh();
    const p = { amount: 1500, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_chargeDeclined', confirm: 'true' };
    const a = await post('/v1/payment_intents', p, 'key-7');
    assert.equal(a.status, 402);
    const b = await post('/v1/payment_intents', p, 'key-7');
    assert.equal(b.status, 402);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.equal(await count('charges'), 1);
    const pi = await post('/v1/payment_intents', { amount: 1500, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_visa', confirm: 'true' });
    const c1 = await post(`/v1/payment_intents/${pi.json.id}/cancel`, {}, 'key-7b');
    assert.equal(c1.json.error.code, 'payment_intent_unexpected_state');
    const c2 = await post(`/v1/payment_intents/${pi.json.id}/cancel`, {}, 'key-7b');
    assert.equal(c2.headers.get('idempotent-replayed'), 'true');
  });

  await t.test('keys expire after 24 hours (emulator clock)', async () => {
    await fresh();
    const p = { amount: 1500, currency: 'usd' };
    const a = await post('/v1/payment_intents', p, 'key-8');
    await emu.ctl('POST', '/__emu/clock', { advance_seconds: 23 * 3600 });
    const b = await post('/v1/payment_intents', p, 'key-8');
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    await emu.ctl('POST', '/__emu/clock', { advance_seconds: 3600 });
    const c = await post('/v1/payment_intents', p, 'key-8');
    assert.equal(c.status, 200);
    assert.equal(c.headers.get('idempotent-replayed'), null);
    assert.notEqual(c.json.id, a.json.id);
    assert.ok(c.json.created >= a.json.created + 24 * 3600);
    assert.equal(await count('payment_intents'), 2);
  });

  await t.test('keys are scoped per Stripe-Account; GET ignores keys', async () => {
    await fresh();
    const acct = await post('/v1/accounts', { type: 'express' });
    const p = { amount: 1500, currency: 'usd' };
    const a = await post('/v1/payment_intents', p, 'key-9');
    const b = await post('/v1/payment_intents', p, 'key-9', { 'Stripe-Account': acct.json.id });
    assert.equal(b.status, 200);
    assert.equal(b.headers.get('idempotent-replayed'), null);
    assert.notEqual(a.json.id, b.json.id);
    const g1 = await emu.api('GET', `/v1/payment_intents/${a.json.id}`, {}, { headers: { 'Idempotency-Key': 'key-9' } });
    assert.equal(g1.status, 200);
    assert.equal(g1.headers.get('idempotent-replayed'), null);
  });
});
