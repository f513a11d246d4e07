/*
 * faults.test.mjs - every fault-injection mode of POST /__emu/faults and what
 * it leaves behind: objects created or not, answers stored or not under the
 * Idempotency-Key, sockets dropped, requests hung until released, plus the
 * method filter, counts, status override and the faults list itself.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startEmulator, KEY } from '../testlib/harness.mjs';
import { encodeForm } from '../lib/forms.mjs';

/* a raw request that reports a dropped socket instead of throwing */
function rawPost(port, path, params, key) {
  return new Promise((resolve) => {
    const body = encodeForm(params);
    const req = http.request({
      host: '127.0.0.1', port, path, method: 'POST', agent: false,
      headers: {
        Authorization: `Bearer ${KEY}`,
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': Buffer.byteLength(body),
        ...(key ? { 'Idempotency-Key': key } : {}),
      },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(text) }));
    });
    req.on('error', (err) => resolve({ dropped: true, error: err.code || err.message }));
    req.end(body);
  });
}

test('fault injection', async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const fault = (f) => emu.ctl('POST', '/__emu/faults', f);
  const pis = async () => (await emu.objects('payment_intents')).length;
  const P = { amount: 2000, currency: 'usd' };
  const fresh = () => emu.reset();

  await t.test('error_500_stored: 500 api_error, no object, replayed for the key', async () => {
    await fresh();
    await fault({ path: '^/v1/payment_intents$', mode: 'error_500_stored' });
    const a = await rawPost(emu.port, '/v1/payment_intents', P, 'f1');
    assert.equal(a.status, 500);
    assert.equal(a.json.error.type, 'api_error');
    assert.equal(await pis(), 0);
    const b = await rawPost(emu.port, '/v1/payment_intents', P, 'f1');
    assert.equal(b.status, 500);
    assert.equal(b.headers['idempotent-replayed'], 'true');
    assert.equal(await pis(), 0);
    assert.deepEqual((await emu.ctl('GET', '/__emu/faults')).faults, []);
  });

  await t.test('error_500_after_work: exactly one object exists, the caller saw a 500 (stored)', async () => {
    await fresh();
    await fault({ path: '^/v1/payment_intents$', mode: 'error_500_after_work', method: 'POST' });
    const a = await rawPost(emu.port, '/v1/payment_intents', { ...P, metadata: { tally_id: 'w1' } }, 'f2');
    assert.equal(a.status, 500);
    const b = await rawPost(emu.port, '/v1/payment_intents', { ...P, metadata: { tally_id: 'w1' } }, 'f2');
    assert.equal(b.status, 500);
    assert.equal(b.headers['idempotent-replayed'], 'true');
    const objs = await emu.objects('payment_intents');
    assert.equal(objs.length, 1);
    const found = await emu.api('GET', '/v1/payment_intents/search', { query: "metadata['tally_id']:'w1'" });
    assert.deepEqual(found.json.data.map((p) => p.id), [objs[0].id]);
  });

  await t.test('error_429 and error_409: refused before work, retryable, status override', async () => {
    await fresh();
    await fault({ path: '^/v1/payment_intents$', mode: 'error_429' });
    const a = await rawPost(emu.port, '/v1/payment_intents', P, 'f3');
    assert.equal(a.status, 429);
    assert.equal(a.json.error.code, 'rate_limit');
    assert.equal(a.headers['stripe-should-retry'], 'true');
    await fault({ path: '^/v1/payment_intents$', mode: 'error_409' });
    const b = await rawPost(emu.port, '/v1/payment_intents', P, 'f3');
    assert.equal(b.status, 409);
    assert.equal(b.headers['stripe-should-retry'], 'true');
    assert.equal(await pis(), 0);
    const c = await rawPost(emu.port, '/v1/payment_intents', P, 'f3');
    assert.equal(c.status, 200);
    await fault({ path: '^/v1/payment_intents$', mode: 'error_500_stored', status: 503 });
    const d = await rawPost(emu.port, '/v1/payment_intents', P);
    assert.equal(d.status, 503);
  });

  await t.test('hang_before: waits, then does the work normally', async () => {
    await fresh();
    await fault({ path: '^/v1/payment_intents$', mode: 'hang_before', seconds: 0.6 });
    const t0 = Date.now();
    const pending = rawPost(emu.port, '/v1/payment_intents', P, 'f4');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await pis(), 0, 'no work before the hang ends');
    const a = await pending;
    assert.ok(Date.now() - t0 >= 590);
    assert.equal(a.status, 200);
    assert.equal(await pis(), 1);
  });

  await t.test('hang_after + release: the object exists while the caller waits (unknown outcome)', async () => {
    await fresh();
    await fault({ path: '^/v1/payment_intents$', mode: 'hang_after' });
    let settled = false;
    const pending = rawPost(emu.port, '/v1/payment_intents', P, 'f5').then((r) => {
      settled = true;
      return r;
    });
    while ((await emu.ctl('GET', '/__emu/faults')).hung === 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await pis(), 1);
    assert.equal(settled, false);
    // the janitor's retry with the same key gets the stored answer at once
    const retry = await rawPost(emu.port, '/v1/payment_intents', P, 'f5');
    assert.equal(retry.status, 200);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal((await emu.ctl('POST', '/__emu/faults/release')).released, 1);
    const a = await pending;
    assert.equal(a.status, 200);
    assert.equal(a.json.id, retry.json.id);
  });

  await t.test('hang_after with seconds answers by itself', async () => {
    await fresh();
    await fault({ path: '^/v1/payment_intents$', mode: 'hang_after', seconds: 0.2 });
    const t0 = Date.now();
    const a = await rawPost(emu.port, '/v1/payment_intents', P);
    assert.equal(a.status, 200);
    assert.ok(Date.now() - t0 >= 190);
  });

  await t.test('drop_after: the socket dies but the object was created and the answer stored', async () => {
    await fresh();
    await fault({ path: '^/v1/payment_intents$', mode: 'drop_after' });
    const a = await rawPost(emu.port, '/v1/payment_intents', P, 'f6');
    assert.equal(a.dropped, true);
    assert.equal(await pis(), 1);
    const b = await rawPost(emu.port, '/v1/payment_intents', P, 'f6');
    assert.equal(b.status, 200);
    assert.equal(b.headers['idempotent-replayed'], 'true');
    assert.equal(b.json.id, (await emu.objects('payment_intents'))[0].id);
  });

  await t.test('drop_before: the socket dies, nothing done, the key is free', async () => {
    await fresh();
    await fault({ path: '^/v1/payment_intents$', mode: 'drop_before' });
    const a = await rawPost(emu.port, '/v1/payment_intents', P, 'f7');
    assert.equal(a.dropped, true);
    assert.equal(await pis(), 0);
    const b = await rawPost(emu.port, '/v1/payment_intents', P, 'f7');
    assert.equal(b.status, 200);
    assert.equal(b.headers['idempotent-replayed'], undefined);
    const log = (await emu.ctl('GET', '/__emu/requests')).requests;
    assert.equal(log[0].fault, 'drop_before');
    assert.equal(log[0].dropped, true);
  });

  await t.test('count, method filter, path regex, list and clear', async () => {
    await fresh();
    await fault({ path: '^/v1/refunds', mode: 'error_429', count: 2, method: 'POST' });
    await fault({ path: '^/v1/payment_intents/pi_', mode: 'error_500_stored', method: 'GET' });
    const list = (await emu.ctl('GET', '/__emu/faults')).faults;
    assert.equal(list.length, 2);
    assert.equal(list[0].count, 2);
    const pi = await rawPost(emu.port, '/v1/payment_intents', P);
    assert.equal(pi.status, 200, 'no fault on this path');
    const upd = await rawPost(emu.port, `/v1/payment_intents/${pi.json.id}`, { description: 'x' });
    assert.equal(upd.status, 200, 'GET-only fault does not hit POST');
    const get = await emu.api('GET', `/v1/payment_intents/${pi.json.id}`);
    assert.equal(get.status, 500);
    for (let i = 0; i < 2; i++) assert.equal((await rawPost(emu.port, '/v1/refunds', { payment_intent: pi.json.id })).status, 429);
    assert.equal((await rawPost(emu.port, '/v1/refunds', { payment_intent: pi.json.id })).status, 400); // not succeeded yet
    await fault({ path: '.', mode: 'error_429', count: 5 });
    await emu.ctl('DELETE', '/__emu/faults');
    assert.deepEqual((await emu.ctl('GET', '/__emu/faults')).faults, []);
    await assert.rejects(fault({ path: 'x', mode: 'explode' }), /400/);
  });
});
