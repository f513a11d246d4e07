/*
 * keys.test.mjs - rolling a secret key (POST /__emu/keys/roll), as the
 * Dashboard does: the new key works at once, the old one until its
 * expiry, then /v1 refuses it with Stripe's 401 (invalid_request_error,
 * code api_key_expired, "Expired API Key provided: sk_test_…", the
 * WWW-Authenticate header); an unknown key stays "Invalid API Key"; the
 * request log names each call's key, masked; the official SDK sees a
 * StripeAuthenticationError.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, api, sdk } from '../testlib/harness.mjs';

const OLD = 'sk_test_rollme_0001';
/* Stripe's masking: the prefix, one * per hidden character, the last four */
const mask = (k) => `sk_test_${'*'.repeat(k.length - 12)}${k.slice(-4)}`;
const OLD_MASKED = mask(OLD);

test('roll: new key at once, old key until its expiry, then 401 api_key_expired', async (t) => {
  const emu = await startEmulator(['--api-key', OLD]);
  t.after(() => emu.stop());
  const before = await emu.ctl('GET', '/__emu/keys');
  assert.deepEqual(before.keys, [{ key: OLD_MASKED, expires_at: null }]);

  const rolled = await emu.ctl('POST', '/__emu/keys/roll', { expires_in: 3600 });
  assert.match(rolled.secret, /^sk_test_[A-Za-z0-9]{24}$/);
  assert.equal(rolled.rolled, OLD_MASKED);
  const now = (await emu.ctl('GET', '/__emu/clock')).now;
  assert.ok(Math.abs(rolled.expires_at - (now + 3600)) <= 2, 'the old key expires in an hour');

  /* both work during the overlap */
  assert.equal((await api(emu.url, 'GET', '/v1/balance', {}, { key: OLD })).status, 200);
  assert.equal((await api(emu.url, 'GET', '/v1/balance', {}, { key: rolled.secret })).status, 200);

  /* the overlap ends with the emulator's clock too */
  await emu.ctl('POST', '/__emu/clock', { advance_seconds: 3601 });
  const expired = await api(emu.url, 'GET', '/v1/balance', {}, { key: OLD });
  assert.equal(expired.status, 401);
  assert.equal(expired.headers.get('www-authenticate'), 'Basic realm="Stripe"');
  assert.deepEqual(expired.json, {
    error: {
      type: 'invalid_request_error', code: 'api_key_expired',
      doc_url: 'https://stripe.com/docs/error-codes/api-key-expired',
      message: `Expired API Key provided: ${OLD_MASKED}`,
    },
  });
  assert.equal((await api(emu.url, 'GET', '/v1/balance', {}, { key: rolled.secret })).status, 200);

  /* an unknown key is still invalid, not expired */
  const unknown = await api(emu.url, 'GET', '/v1/balance', {}, { key: 'sk_test_never_issued' });
  assert.equal(unknown.status, 401);
  assert.equal(unknown.json.error.code, undefined);
  assert.match(unknown.json.error.message, /^Invalid API Key provided: /);

  /* the request log names the key of each call, masked */
  const log = (await emu.ctl('GET', '/__emu/requests')).requests.filter((r) => r.path === '/v1/balance');
  assert.deepEqual(log.map((r) => [r.api_key, r.status]), [
    [OLD_MASKED, 200],
    [mask(rolled.secret), 200],
    [OLD_MASKED, 401],
    [mask(rolled.secret), 200],
    [mask('sk_test_never_issued'), 401],
  ]);
  assert.ok(log.every((r) => !JSON.stringify(r).includes(OLD) && !JSON.stringify(r).includes(rolled.secret)),
    'no secret key in the log');
});

test('roll with no overlap, expire, and bad calls; the SDK sees an authentication error', async (t) => {
  const emu = await startEmulator(['--api-key', OLD]);
  t.after(() => emu.stop());
  const r1 = await emu.ctl('POST', '/__emu/keys/roll', { expires_in: 600 });
  await assert.rejects(emu.ctl('POST', '/__emu/keys/roll', { key: 'sk_test_nope' }), (e) => e.status === 400);
  await assert.rejects(emu.ctl('POST', '/__emu/keys/roll', { key: r1.secret, expires_in: -1 }),
    (e) => e.status === 400 && e.body.error.param === 'expires_in');
  /* the end of the overlap, early */
  const ex = await emu.ctl('POST', '/__emu/keys/expire', { key: OLD });
  assert.equal(ex.expired, OLD_MASKED);
  const stripe = sdk(emu.port, { key: OLD });
  await assert.rejects(stripe.balance.retrieve(), (e) => e.type === 'StripeAuthenticationError' &&
    e.code === 'api_key_expired' && e.statusCode === 401);
  /* roll the one live key, expiring at once: it is refused immediately */
  const r2 = await emu.ctl('POST', '/__emu/keys/roll', {});
  assert.equal(r2.rolled, mask(r1.secret));
  assert.equal((await api(emu.url, 'GET', '/v1/balance', {}, { key: r1.secret })).status, 401);
  assert.equal((await api(emu.url, 'GET', '/v1/balance', {}, { key: r2.secret })).status, 200);
});

test('without --api-key: the key to roll must be named; any other test key still works', async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  await assert.rejects(emu.ctl('POST', '/__emu/keys/roll', {}), (e) => e.status === 400 && e.body.error.param === 'key');
  const r = await emu.ctl('POST', '/__emu/keys/roll', { key: OLD });
  assert.equal((await api(emu.url, 'GET', '/v1/balance', {}, { key: OLD })).status, 401);
  assert.equal((await api(emu.url, 'GET', '/v1/balance', {}, { key: r.secret })).status, 200);
  assert.equal((await api(emu.url, 'GET', '/v1/balance', {}, { key: 'sk_test_any_other' })).status, 200);
});
