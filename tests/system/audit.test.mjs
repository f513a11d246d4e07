/*
 * audit.test.mjs - the audit log is written in the transaction of the
 * change it records (core/audit.c), never after it at the edge:
 *   - a change whose audit row cannot be written does not happen (the
 *     TALLY_FAULTS point "audit" fails the insert): no API key, no admin
 *     user, no requeued email, and the command fails;
 *   - tallyctl acts as the operator: actor_kind "operator", actor_id the
 *     unix user, through the same core operations as the admin API;
 *   - the admin API's changes carry the admin and the request id, once.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';

import { req, startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ name: 'audit' });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  await stack?.stop();
});

const esc = (s) => `'${String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/* withFault - run 'fn' with TALLY_FAULTS set for the processes it starts */
async function withFault(spec, fn) {
  const old = process.env.TALLY_FAULTS;
  process.env.TALLY_FAULTS = spec;
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env.TALLY_FAULTS;
    else process.env.TALLY_FAULTS = old;
  }
}

async function auditOf(object) {
  return stack.sql(`SELECT actor_kind, actor_id, action FROM audit_log WHERE object_id = ${esc(object)} ORDER BY id`);
}

test('tallyctl acts as the operator: the unix user, in the same transaction as the change', async () => {
  const k = await stack.tallyctl('apikey', 'create', 'ops-key');
  assert.equal(k.code, 0, k.stderr);
  const id = (await stack.sql("SELECT id FROM api_keys WHERE name = 'ops-key'"))[0][0];
  assert.deepEqual(await auditOf(id), [['operator', os.userInfo().username, 'api_key.create']]);
  const rv = await stack.tallyctl('apikey', 'revoke', id);
  assert.equal(rv.code, 0, rv.stderr);
  const again = await stack.tallyctl('apikey', 'revoke', id);
  assert.equal(again.code, 0, 'revoking again is fine');
  assert.deepEqual(await auditOf(id), [['operator', os.userInfo().username, 'api_key.create'],
    ['operator', os.userInfo().username, 'api_key.revoke']], 'a revocation that changed nothing is not audited');
  const created = (await stack.sql("SELECT created_by FROM api_keys WHERE name = 'ops-key'"))[0][0];
  assert.equal(created, `tallyctl:${os.userInfo().username}`);
});

test('a change whose audit row cannot be written does not happen', async () => {
  const k = await withFault('audit:1', () => stack.tallyctl('apikey', 'create', 'never-made'));
  assert.notEqual(k.code, 0, 'the command fails');
  assert.match(k.stderr, /unavailable/i);
  assert.deepEqual(await stack.sql("SELECT id FROM api_keys WHERE name = 'never-made'"), [], 'no key without its audit row');

  const u = await withFault('audit:1', () => stack.tallyctl('admin', 'create', 'ghost', 'viewer',
    { input: 'a-long-enough-password\n' }));
  assert.notEqual(u.code, 0, 'the command fails');
  assert.deepEqual(await stack.sql("SELECT id FROM admin_users WHERE username = 'ghost'"), [], 'no admin without its audit row');

  const u2 = await stack.tallyctl('admin', 'create', 'ghost', 'viewer', { input: 'a-long-enough-password\n' });
  assert.equal(u2.code, 0, u2.stderr);
  const uid = (await stack.sql("SELECT id FROM admin_users WHERE username = 'ghost'"))[0][0];
  assert.deepEqual(await auditOf(uid), [['operator', os.userInfo().username, 'admin_user.create']]);

  const pw = await withFault('audit:1', () => stack.tallyctl('admin', 'passwd', 'ghost',
    { input: 'another-long-password\n' }));
  assert.notEqual(pw.code, 0, 'the command fails');
  const login = await stack.adminLogin('ghost', 'a-long-enough-password');
  assert.equal(login.status, 200, JSON.stringify(login.body));
  assert.ok(login.cookie, 'the old password still works: the change was rolled back with its audit row');
});

test('the admin API: the change and its audit row, with the admin and the request id, once', async () => {
  const rootId = await stack.createAdmin('root2', 'admin', 'root2-long-password');
  const root = await stack.adminLogin('root2', 'root2-long-password');
  assert.equal(root.status, 200);
  root.id = rootId;
  const res = await req(stack, 'POST', '/admin/api/v1/api_keys', {
    json: { name: 'from-admin' },
    headers: { cookie: `tally_session=${root.cookie}`, 'X-CSRF-Token': root.csrf },
  });
  assert.equal(res.status, 201, res.body);
  const rows = await stack.sql(`SELECT actor_kind, actor_id, action, request_id FROM audit_log WHERE object_id = ${esc(res.json.id)}`);
  assert.equal(rows.length, 1, 'audited once');
  assert.deepEqual(rows[0].slice(0, 3), ['admin', root.id, 'api_key.create']);
  assert.equal(rows[0][3], res.headers.get('x-request-id'));
  const logins = await stack.sql(`SELECT COUNT(*) FROM audit_log WHERE action = 'admin.login' AND actor_id = ${esc(root.id)}`);
  assert.equal(Number(logins[0][0]), 1, 'the login and its session, together');
});
