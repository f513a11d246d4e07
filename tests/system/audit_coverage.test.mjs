/*
 * audit_coverage.test.mjs - every catalog and account write made with a
 * server API key is audited with its actor (kind "server", the key's
 * id), its action, its target and the request id, in the transaction of
 * the write (core/catalog.c, core/connect.c; docs/operations.md):
 *   - POST /api/v1/accounts              account.create
 *   - POST /api/v1/accounts/{id}/ambassador  account.ambassador
 *   - POST /api/v1/accounts/{id}/connect account.connect (once: the
 *     Connect account is made once; a fresh link changes nothing)
 *   - POST /api/v1/host_partners         host_partner.create
 *   - POST /api/v1/products              product.create
 *   - POST /api/v1/products/{id}         product.update
 * A refused write leaves no row; with the audit row failing (TALLY_FAULTS
 * "audit") the write does not happen.  Then the chain verifies.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { assertLedger, randomString } from './lib/checkout_helpers.mjs';
import { bearer, req, startStack } from './lib/stack.mjs';

let stack;
let key;

before(async () => {
  stack = await startStack({ name: 'audit_coverage', stripe: true, conf: { audit: { chain_horizon: 0 } } });
  key = await stack.createApiKey('coverage-key');
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  if (stack) await assertLedger(stack);
  await stack?.stop();
});

const esc = (s) => `'${String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function call(method, path, json) {
  return req(stack, method, path, { headers: bearer(key.key), json });
}

/* rowsOf - the audit rows of 'object' with 'action' */
function rowsOf(object, action) {
  return stack.sql('SELECT actor_kind, actor_id, action, object_id, request_id FROM audit_log ' +
    `WHERE object_id = ${esc(object)} AND action = ${esc(action)} ORDER BY id`);
}

/* once - exactly one audit row of 'action' on 'object' by the key, with the request id of 'res' */
async function once(res, object, action) {
  const rows = await rowsOf(object, action);
  assert.equal(rows.length, 1, `${action} ${object}: one audit row, got ${JSON.stringify(rows)}`);
  assert.deepEqual(rows[0].slice(0, 4), ['server', key.id, action, object]);
  assert.ok(res.headers.get('x-request-id'), 'the answer has a request id');
  assert.equal(rows[0][4], res.headers.get('x-request-id'), `${action}: the request id`);
}

test('each catalog and account write through a server key leaves one audit row, then the chain verifies', async () => {
  const t = await call('POST', '/api/v1/accounts', { kind: 'talent', email: `t-${randomString(6).toLowerCase()}@example.test` });
  assert.equal(t.status, 201, t.body);
  await once(t, t.json.id, 'account.create');

  const amb = await call('POST', '/api/v1/accounts', { kind: 'ambassador' });
  assert.equal(amb.status, 201, amb.body);
  await once(amb, amb.json.id, 'account.create');
  const link = await call('POST', `/api/v1/accounts/${t.json.id}/ambassador`,
    { ambassador_account_id: amb.json.id, share_bps: 500 });
  assert.equal(link.status, 200, link.body);
  await once(link, t.json.id, 'account.ambassador');

  const hp = await call('POST', '/api/v1/accounts', { kind: 'host_partner' });
  assert.equal(hp.status, 201, hp.body);
  const slug = `venue-${randomString(6).toLowerCase()}`;
  const h = await call('POST', '/api/v1/host_partners', { slug, account_id: hp.json.id, share_bps: 300 });
  assert.equal(h.status, 201, h.body);
  await once(h, slug, 'host_partner.create');

  const p = await call('POST', '/api/v1/products',
    { name: 'Audited', seller_account_id: t.json.id, price_cent: 2500, currency: 'usd' });
  assert.equal(p.status, 201, p.body);
  await once(p, p.json.id, 'product.create');
  const u = await call('POST', `/api/v1/products/${p.json.id}`, { price_cent: 3000 });
  assert.equal(u.status, 200, u.body);
  await once(u, p.json.id, 'product.update');

  const c = await call('POST', `/api/v1/accounts/${t.json.id}/connect`);
  assert.equal(c.status, 200, c.body);
  await once(c, t.json.id, 'account.connect');
  const c2 = await call('POST', `/api/v1/accounts/${t.json.id}/connect`);
  assert.equal(c2.status, 200, c2.body);
  assert.equal((await rowsOf(t.json.id, 'account.connect')).length, 1, 'a fresh link changes nothing: no new row');

  /* refused writes change nothing and audit nothing */
  const before_ = Number((await stack.sql('SELECT COUNT(*) FROM audit_log'))[0][0]);
  const bad = await call('POST', `/api/v1/products/${p.json.id}`, { fee_bps: 20000 });
  assert.equal(bad.status, 400, bad.body);
  const dup = await call('POST', '/api/v1/host_partners', { slug, account_id: hp.json.id });
  assert.equal(dup.status, 409, dup.body);
  assert.equal(Number((await stack.sql('SELECT COUNT(*) FROM audit_log'))[0][0]), before_, 'no audit row for a refusal');

  /* the chain covers them */
  const j = await stack.tallyctl('job', 'run', 'audit');
  assert.equal(j.code, 0, j.stderr);
  const v = await stack.tallyctl('audit', 'verify');
  assert.equal(v.code, 0, `${v.stdout} ${v.stderr}`);
  assert.match(v.stdout, /^ok\t/);
  const unchained = await stack.sql('SELECT COUNT(*) FROM audit_log l LEFT JOIN audit_chain c ON c.audit_id = l.id ' +
    'WHERE c.audit_id IS NULL');
  assert.equal(Number(unchained[0][0]), 0, 'every row chained');
});

test('a catalog write whose audit row cannot be written does not happen', async () => {
  const old = process.env.TALLY_FAULTS;
  const email = `never-${randomString(6).toLowerCase()}@example.test`;
  process.env.TALLY_FAULTS = 'audit:1';
  try {
    await stack.stopTallyd();
    await stack.startTallyd();
    const t = await call('POST', '/api/v1/accounts', { kind: 'talent', email });
    assert.equal(t.status, 503, t.body);
  } finally {
    if (old === undefined) delete process.env.TALLY_FAULTS;
    else process.env.TALLY_FAULTS = old;
    await stack.stopTallyd();
    await stack.startTallyd();
  }
  assert.deepEqual(await stack.sql(`SELECT id FROM accounts WHERE email = ${esc(email)}`), [],
    'no account without its audit row');
});
