/*
 * idempotency.test.mjs - clients' Idempotency-Key on POSTs (core/idem.c,
 * fcgi/router.c), for buyers and servers:
 * - a replay returns the same status and body, byte for byte, with
 *   Idempotent-Replayed: true, and does nothing again;
 * - the same key with another body or on another route is 422
 *   idempotency_key_reused;
 * - concurrent duplicates: each answer is the first one's or 409
 *   idempotency_key_in_use, and the work is done once (one account, one
 *   checkout, one PaymentIntent);
 * - keys are per principal: another buyer (or a server) may use the same
 *   key for its own request;
 * - answers that say "try again" (409, 5xx but 502) are not stored; a 422
 *   is, and is replayed even after the cause went away;
 * - malformed keys are 400; GETs ignore the header;
 * - the fingerprint is the concrete path, not the route's pattern: the
 *   same key and body on another account's /connect is 422, not the
 *   first account's onboarding link;
 * - keys live 24 hours (rows backdated in SQL): an older key is a new
 *   request, and the gc job prunes old keys and keeps fresh ones.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  all, asBuyer, assertErr, assertLedger, checkout, complete, emuPis, esc, fastBuyer, makeProduct, newBuyer, paid,
  paymentConf, randomString, server, sqlNum, stockOf,
} from './lib/checkout_helpers.mjs';
import { startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ name: 'idem', stripe: true, conf: paymentConf() });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) await assertLedger(stack);
  } finally {
    await stack?.stop();
  }
});

const key = () => `key-${randomString(16)}`;

/* assertReplay - 'r' is 'first' again, marked as a replay */
function assertReplay(r, first, what = '') {
  assert.equal(r.status, first.status, `${what} status`);
  assert.equal(r.body, first.body, `${what} the same body, byte for byte`);
  assert.equal(r.headers.get('idempotent-replayed'), 'true', `${what} Idempotent-Replayed`);
}

describe('replay and mismatch', () => {
  test('a buyer\'s checkout: the replay is the same answer and makes nothing new', async () => {
    const p = await makeProduct(stack, { stock: 5 });
    const b = await newBuyer(stack);
    const k = key();
    const first = await checkout(stack, b, { product_id: p.id }, { idem: k });
    assert.equal(first.status, 200, first.body);
    assert.equal(first.headers.get('idempotent-replayed'), null, 'the first answer is no replay');
    const again = await checkout(stack, b, { product_id: p.id }, { idem: k });
    assertReplay(again, first);
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM checkouts WHERE product_id = ${esc(p.id)}`), 1);
    assert.equal((await emuPis(stack, first.json.id)).length, 1);
    assert.equal(await stockOf(stack, p.id), 4);
  });

  test('the same key with another body or on another route: 422 idempotency_key_reused, nothing done', async () => {
    const p = await makeProduct(stack, { stock: 5 });
    const b = await newBuyer(stack);
    const k = key();
    const first = await checkout(stack, b, { product_id: p.id }, { idem: k });
    assert.equal(first.status, 200, first.body);
    assertErr(await checkout(stack, b, { product_id: p.id, quantity: 2 }, { idem: k }), 422, 'idempotency_key_reused');
    assertErr(await complete(stack, b, first.json.id, { idem: k }), 422, 'idempotency_key_reused', undefined, 'another route');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM checkouts WHERE product_id = ${esc(p.id)}`), 1, 'no second checkout');
    assert.equal(await stockOf(stack, p.id), 4);
    assertReplay(await checkout(stack, b, { product_id: p.id }, { idem: k }), first, 'the original still replays:');
  });

  test('a server\'s account creation: one account, replayed; another body is 422', async () => {
    const k = key();
    const email = `idem-${randomString(6).toLowerCase()}@example.test`;
    const first = await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent', email }, { idem: k });
    assert.equal(first.status, 201, first.body);
    const again = await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent', email }, { idem: k });
    assertReplay(again, first);
    assertErr(await server(stack, 'POST', '/api/v1/accounts', { kind: 'agent', email }, { idem: k }), 422, 'idempotency_key_reused');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM accounts WHERE email = '${email}'`), 1);
  });

  test('a completion: the 409 before payment is not kept; the payment is, and replays', async () => {
    const p = await makeProduct(stack, { price_cent: 2000 });
    const b = await newBuyer(stack);
    const c = (await checkout(stack, b, { product_id: p.id })).json;
    const k = key();
    assertErr(await complete(stack, b, c.id, { idem: k }), 409, 'payment_not_succeeded');
    await paid(stack, c.payment_intent_id);
    const done = await complete(stack, b, c.id, { idem: k });
    assert.equal(done.status, 200, `the key was free again: ${done.body}`);
    assert.equal(done.headers.get('idempotent-replayed'), null);
    assertReplay(await complete(stack, b, c.id, { idem: k }), done);
  });
});

describe('concurrency and scope', () => {
  test('10 concurrent account creations with one key: one account; each answer is it or 409 in use', async () => {
    const k = key();
    const email = `conc-${randomString(6).toLowerCase()}@example.test`;
    const res = await all(10, () => server(stack, 'POST', '/api/v1/accounts', { kind: 'agent', email }, { idem: k }));
    const ok = res.filter((r) => r.status === 201);
    const busy = res.filter((r) => r.status === 409);
    assert.equal(ok.length + busy.length, 10, res.map((r) => `${r.status} ${r.body}`).join('\n'));
    assert.ok(ok.length >= 1, 'at least the first');
    assert.equal(new Set(ok.map((r) => r.json.id)).size, 1, 'the same account in every 201');
    for (const r of busy) assert.equal(r.json.error.code, 'idempotency_key_in_use', r.body);
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM accounts WHERE email = '${email}'`), 1, 'created once');
  });

  test('10 concurrent checkouts with one key: one checkout, one PaymentIntent', async () => {
    const p = await makeProduct(stack, { stock: 20 });
    const b = fastBuyer(stack);
    const k = key();
    const res = await all(10, () => checkout(stack, b, { product_id: p.id }, { idem: k }));
    const ok = res.filter((r) => r.status === 200);
    const busy = res.filter((r) => r.status === 409);
    assert.equal(ok.length + busy.length, 10, res.map((r) => `${r.status} ${r.body}`).join('\n'));
    for (const r of busy) assert.equal(r.json.error.code, 'idempotency_key_in_use', r.body);
    assert.equal(new Set(ok.map((r) => r.json.id)).size, 1);
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM checkouts WHERE product_id = ${esc(p.id)}`), 1);
    assert.equal((await emuPis(stack, ok[0].json.id)).length, 1);
    assert.equal(await stockOf(stack, p.id), 19);
  });

  test('keys are per principal: another buyer\'s and a server\'s identical key are their own', async () => {
    const p = await makeProduct(stack, { stock: 5 });
    const b1 = await newBuyer(stack);
    const b2 = await newBuyer(stack);
    const k = key();
    const r1 = await checkout(stack, b1, { product_id: p.id }, { idem: k });
    const r2 = await checkout(stack, b2, { product_id: p.id }, { idem: k });
    assert.equal(r1.status, 200, r1.body);
    assert.equal(r2.status, 200, r2.body);
    assert.equal(r2.headers.get('idempotent-replayed'), null, 'not b1\'s answer');
    assert.notEqual(r2.json.id, r1.json.id, 'b2 got its own checkout');
    const g = await asBuyer(stack, b2, 'GET', `/api/v1/checkout/${r1.json.id}`);
    assert.equal(g.status, 404, 'and still cannot see b1\'s');
    const s = await server(stack, 'POST', '/api/v1/accounts', { kind: 'ambassador' }, { idem: k });
    assert.equal(s.status, 201, s.body);
    assert.equal(s.headers.get('idempotent-replayed'), null);
    assert.equal(await stockOf(stack, p.id), 3);
  });
});

describe('what is kept', () => {
  test('a 409 out_of_stock is not kept: after a restock the same key succeeds', async () => {
    const p = await makeProduct(stack, { stock: 1 });
    const b = await newBuyer(stack);
    const k = key();
    assertErr(await checkout(stack, b, { product_id: p.id, quantity: 2 }, { idem: k }), 409, 'out_of_stock');
    assert.equal((await server(stack, 'POST', `/api/v1/products/${p.id}`, { stock: 5 })).status, 200);
    const r = await checkout(stack, b, { product_id: p.id, quantity: 2 }, { idem: k });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers.get('idempotent-replayed'), null);
  });

  test('a 422 is kept: replayed even once the product is for sale again', async () => {
    const p = await makeProduct(stack, { stock: 3 });
    assert.equal((await server(stack, 'POST', `/api/v1/products/${p.id}`, { active: false })).status, 200);
    const b = await newBuyer(stack);
    const k = key();
    const first = await checkout(stack, b, { product_id: p.id }, { idem: k });
    assertErr(first, 422, 'product_inactive');
    assert.equal((await server(stack, 'POST', `/api/v1/products/${p.id}`, { active: true })).status, 200);
    assertReplay(await checkout(stack, b, { product_id: p.id }, { idem: k }), first);
    const fresh = await checkout(stack, b, { product_id: p.id }, { idem: key() });
    assert.equal(fresh.status, 200, 'a new key is a new request');
  });

  test('malformed keys are 400; GET ignores the header', async () => {
    const b = await newBuyer(stack);
    const p = await makeProduct(stack);
    for (const bad of ['x'.repeat(256), 'with space', 'tab\tkey']) {
      assertErr(await checkout(stack, b, { product_id: p.id }, { idem: bad }), 400, 'idempotency_key_invalid', undefined,
        JSON.stringify(bad.slice(0, 20)));
    }
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM checkouts WHERE product_id = ${esc(p.id)}`), 0);
    const k = key();
    const g1 = await asBuyer(stack, b, 'GET', `/api/v1/products/${p.id}`, undefined, { idem: k });
    const g2 = await asBuyer(stack, b, 'GET', `/api/v1/products/${p.id}`, undefined, { idem: k });
    assert.equal(g1.status, 200);
    assert.equal(g2.headers.get('idempotent-replayed'), null);
  });

});

describe('the concrete path', () => {
  test('the same key and body on another account\'s /connect: 422, not the first account\'s link', async () => {
    const a = await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent' });
    const b = await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent' });
    assert.equal(a.status, 201, a.body);
    assert.equal(b.status, 201, b.body);
    const k = key();
    const ca = await server(stack, 'POST', `/api/v1/accounts/${a.json.id}/connect`, undefined, { idem: k });
    assert.equal(ca.status, 200, ca.body);
    assert.equal(ca.json.account_id, a.json.id);
    assertErr(await server(stack, 'POST', `/api/v1/accounts/${b.json.id}/connect`, undefined, { idem: k }), 422,
      'idempotency_key_reused', undefined, 'another account');
    assert.equal(await sqlNum(stack, 'SELECT connect_account_id IS NULL FROM accounts WHERE id = ' +
      `${esc(b.json.id)}`), 1, 'B was not connected');
    assertReplay(await server(stack, 'POST', `/api/v1/accounts/${a.json.id}/connect`, undefined, { idem: k }), ca,
      'A still replays:');
  });
});

describe('24 hours', () => {
  /* age - move key 'k''s row back 'hours' */
  const age = (k, hours) => stack.sql(`UPDATE idempotency_keys SET created_at = NOW(3) - INTERVAL ${hours} HOUR ` +
    `WHERE idem_key = ${esc(k)}`);
  const kept = (k) => sqlNum(stack, `SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = ${esc(k)}`);

  test('a key older than 24 hours is a new request, even before the gc job ran', async () => {
    const k = key();
    const email = `exp-${randomString(6).toLowerCase()}@example.test`;
    const first = await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent', email }, { idem: k });
    assert.equal(first.status, 201, first.body);
    await age(k, 23);
    assertReplay(await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent', email }, { idem: k }), first,
      'at 23 hours:');
    await age(k, 25);
    const other = await server(stack, 'POST', '/api/v1/accounts', { kind: 'agent' }, { idem: k });
    assert.equal(other.status, 201, `another body after 24 hours is a new request: ${other.body}`);
    assert.equal(other.headers.get('idempotent-replayed'), null);
    assert.notEqual(other.json.id, first.json.id);
    assertReplay(await server(stack, 'POST', '/api/v1/accounts', { kind: 'agent' }, { idem: k }), other,
      'and the key is the new request\'s now:');
  });

  test('the gc job prunes keys older than a day and keeps fresh ones', async () => {
    const old = key();
    const fresh = key();
    for (const k of [old, fresh]) {
      const r = await server(stack, 'POST', '/api/v1/accounts', { kind: 'agent' }, { idem: k });
      assert.equal(r.status, 201, r.body);
    }
    await age(old, 25);
    await age(fresh, 23);
    const gc = await stack.tallyctl('job', 'run', 'gc');
    assert.equal(gc.code, 0, gc.stderr);
    assert.equal(await kept(old), 0, 'the old key pruned');
    assert.equal(await kept(fresh), 1, 'the fresh key kept');
  });
});
