/*
 * admin_panel.test.mjs - the admin panel's deferred payouts, audit-log
 * filters and dashboard currencies (core/payout_defer.c, core/audit.c,
 * core/report_currencies.c; docs/api.md, the admin routes) on the real
 * stack:
 * - deferred payouts: every reason the payout run records comes from a
 *   real scenario (a payee without a Connect account, one whose payouts
 *   Stripe has not enabled, one backed off after Stripe refused its
 *   transfer, one below its threshold, one whose rows a dispute holds,
 *   one inside the hold period, one the platform's balance cannot cover);
 *   the amounts, the threshold compared, 'since' kept while the reason
 *   stays; the row deleted once the payee is paid; the route's filters
 *   (reason, currency), paging, role (viewer) and bad filters; the
 *   same through `tallyctl payouts deferred --reason`;
 * - the audit log filtered by actor, action, object and created range,
 *   paged under a filter, bad filters refused, and each filter read
 *   through its index (EXPLAIN);
 * - the dashboard's currencies: the configured ones with data, the one
 *   with the most volume first, none without data.
 * The ledger's invariants hold at the end (assertLedger).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  assertErr, assertLedger, craftEvent, esc, makeAccount, paymentConf, postWebhook, server, sql1,
} from './lib/checkout_helpers.mjs';
import { run } from './lib/proc.mjs';
import { onboardedPayee, seedPayments } from './lib/seed.mjs';
import { BIN, randomString, req, startStack } from './lib/stack.mjs';

let stack;
const admins = {};
const ids = {};

before(async () => {
  stack = await startStack({
    name: 'admin_panel', stripe: true,
    conf: paymentConf({
      'currency.usd': { refund_support_limit_cent: 1000 },
      'currency.eur': { refund_support_limit_cent: 1000 },
      'currency.gbp': { refund_support_limit_cent: 1000 },
      payouts: { hold_days: 0, retry_base: 3600 },
    }),
  });
  for (const role of ['viewer', 'admin']) {
    const pw = `${role}-${randomString(16)}`;
    await stack.createAdmin(`${role}1`, role, pw);
    admins[role] = await stack.adminLogin(`${role}1`, pw);
    assert.equal(admins[role].status, 200, `${role} login`);
    ids[role] = await sql1(stack, `SELECT id FROM admin_users WHERE username = '${role}1'`);
  }
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) await assertLedger(stack);
  } finally {
    await stack?.stop();
  }
});

/* admin - a call as admin session 's' (CSRF token on writes) */
function admin(s, method, p, json) {
  const headers = { Cookie: `tally_session=${s.cookie}`, 'X-CSRF-Token': s.csrf };
  return req(stack, method, p, { headers, json: json ?? (method === 'POST' ? {} : undefined), timeoutMs: 30000 });
}

/* ok - the JSON of a 2xx answer */
async function ok(s, method, p, json) {
  const r = await admin(s, method, p, json);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${p}: ${r.status} ${r.body}`);
  return r.json;
}

/* all pages of list 'p' (limit 'n'): every row, in order */
async function pages(s, p, n) {
  const rows = [];
  let after = null;
  for (let count = 0; ; count++) {
    assert.ok(count < 100, 'paging ends');
    const sep = p.includes('?') ? '&' : '?';
    const j = await ok(s, 'GET', `${p}${sep}limit=${n}${after ? `&starting_after=${after}` : ''}`);
    assert.ok(j.data.length <= n);
    rows.push(...j.data);
    if (!j.has_more) break;
    after = j.data[j.data.length - 1].id;
  }
  return rows;
}

/* payoutsRun - one `tallyctl payouts run` with configuration 'conf' */
async function payoutsRun(conf = stack.conf) {
  const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', conf, 'payouts', 'run'], { timeoutMs: 120000 });
  assert.equal(r.code, 0, `tallyctl payouts run: ${r.stderr}`);
  return r;
}

/* deferredOf - the deferral rows of accounts 'accs' (the API's), by account */
async function deferredOf(accs, q = '') {
  const rows = await pages(admins.viewer, `/admin/api/v1/payouts/deferred${q}`, 100);
  return Object.fromEntries(rows.filter((d) => accs.includes(d.account_id)).map((d) => [d.account_id, d]));
}

describe('deferred payouts', () => {
  test('each reason from a real scenario; since kept; deleted once paid; filters, paging, roles', async () => {
    /* no Connect account */
    const none = await makeAccount(stack, 'talent');
    /* a Connect account Stripe has not enabled payouts for */
    const off = await makeAccount(stack, 'talent');
    assert.equal((await server(stack, 'POST', `/api/v1/accounts/${off.id}/connect`)).status, 200);
    /* Tally told payouts are enabled, Stripe refuses the transfer: backed off */
    const refused = await makeAccount(stack, 'talent');
    const c = (await server(stack, 'POST', `/api/v1/accounts/${refused.id}/connect`)).json;
    const obj = (await stack.stripe('GET', `/v1/accounts/${c.connect_account_id}`)).json;
    const ev = { ...craftEvent('account.updated', { ...obj, payouts_enabled: true }), account: obj.id };
    assert.equal((await postWebhook(stack, ev, { connect: true })).status, 200);
    const low = await onboardedPayee(stack);
    const disputed = await onboardedPayee(stack);
    const young = await onboardedPayee(stack);
    const big = await onboardedPayee(stack);
    await seedPayments(stack, [
      { acc: none.id, amount: 20000, ageDays: 5 },
      { acc: off.id, amount: 21000, ageDays: 5 },
      { acc: refused.id, amount: 12000, ageDays: 5 },
      { acc: low.id, amount: 9999, ageDays: 5 },
      { acc: disputed.id, amount: 50000, ageDays: 10, status: 'disputed' },
      { acc: young.id, amount: 20000, ageDays: 0 },
      { acc: young.id, amount: 3000, ageDays: 5 },
      { acc: big.id, amount: 15000, ageDays: 5 },
    ]);
    const accs = [none.id, off.id, refused.id, low.id, disputed.id, young.id, big.id];
    /* 14 999 available: the refused 12 000 is tried, the 15 000 cannot be covered */
    await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 14999, pending: 0 });
    /* a 3-day hold (another configuration file for this run) */
    const holdConf = path.join(stack.dir, 'hold.conf');
    const text = fs.readFileSync(stack.conf, 'utf8');
    assert.match(text, /hold_days = 0/);
    fs.writeFileSync(holdConf, text.replace('hold_days = 0', 'hold_days = 3'), { mode: 0o600 });
    await payoutsRun(holdConf);
    assert.equal(await sql1(stack, `SELECT state FROM payouts WHERE account_id = ${esc(refused.id)}`), 'failed');

    let d = await deferredOf(accs);
    const got = Object.fromEntries(Object.entries(d).map(([k, v]) => [k,
      [v.reason, v.currency, v.amount_cent, v.payable_cent, v.threshold_cent]]));
    assert.deepEqual(got, {
      [none.id]: ['no_connect_account', 'usd', 20000, 20000, 10000],
      [off.id]: ['payouts_disabled', 'usd', 21000, 21000, 10000],
      [refused.id]: ['retry_backoff', 'usd', 12000, 12000, 10000],
      [low.id]: ['below_threshold', 'usd', 9999, 9999, 10000],
      [disputed.id]: ['refund_or_dispute', 'usd', 50000, 0, 10000],
      [young.id]: ['hold_period', 'usd', 23000, 3000, 10000],
      [big.id]: ['balance_short', 'usd', 15000, 15000, 10000],
    });
    for (const v of Object.values(d)) {
      assert.equal(v.object, 'payout_deferral');
      assert.ok(v.since > 0 && v.last_run_at >= v.since, JSON.stringify(v));
    }
    const lowSince = await sql1(stack, `SELECT since FROM payout_deferrals WHERE account_id = ${esc(low.id)}`);

    /* filters: reason, currency; paging under a filter */
    const held = await pages(admins.viewer, '/admin/api/v1/payouts/deferred?reason=hold_period', 1);
    assert.ok(held.length >= 1 && held.every((x) => x.reason === 'hold_period'));
    assert.ok(held.some((x) => x.account_id === young.id));
    assert.deepEqual(Object.keys(await deferredOf(accs, '?currency=eur')), [], 'none in eur');
    assert.equal(Object.keys(await deferredOf(accs, '?currency=usd&reason=balance_short'))[0], big.id);
    const all = await pages(admins.viewer, '/admin/api/v1/payouts/deferred', 2);
    const byId = all.map((x) => Number(x.id));
    assert.deepEqual(byId, [...byId].sort((a, b) => b - a), 'newest first');
    assert.equal(new Set(byId).size, byId.length, 'no row twice across pages');
    /* roles and bad input */
    assert.equal((await req(stack, 'GET', '/admin/api/v1/payouts/deferred')).status, 401);
    assertErr(await admin(admins.viewer, 'GET', '/admin/api/v1/payouts/deferred?reason=lazy'), 400,
      'parameter_invalid', 'reason');
    assertErr(await admin(admins.viewer, 'GET', '/admin/api/v1/payouts/deferred?currency=USD'), 400,
      'parameter_invalid', 'currency');
    assertErr(await admin(admins.viewer, 'GET', '/admin/api/v1/payouts/deferred?starting_after=x'), 400,
      'parameter_invalid', 'starting_after');

    /* funds arrive, no hold: the big and the young payees are paid, their rows go */
    await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 10000000, pending: 0 });
    await new Promise((r) => { setTimeout(r, 1100); });
    await payoutsRun();
    d = await deferredOf(accs);
    assert.equal(d[big.id], undefined, 'paid: no longer deferred');
    assert.equal(d[young.id], undefined, 'paid: no longer deferred');
    assert.equal(await sql1(stack, `SELECT state FROM payouts WHERE account_id = ${esc(big.id)}`), 'paid');
    assert.equal(d[low.id].reason, 'below_threshold');
    assert.equal(await sql1(stack, `SELECT since FROM payout_deferrals WHERE account_id = ${esc(low.id)}`), lowSince,
      'since kept while the reason stays');
    assert.ok(d[low.id].last_run_at >= d[low.id].since);
    /* the low payee earns 1 more cent: paid, deleted */
    await seedPayments(stack, [{ acc: low.id, amount: 1, ageDays: 5 }]);
    await payoutsRun();
    d = await deferredOf(accs);
    assert.equal(d[low.id], undefined);
    assert.deepEqual(Object.keys(d).sort(), [none.id, off.id, refused.id, disputed.id].sort());
    /* the operator's view of the same: tallyctl payouts deferred */
    const ctl = await stack.tallyctl('payouts', 'deferred', '--reason', 'retry_backoff');
    assert.equal(ctl.code, 0, ctl.stderr);
    assert.ok(ctl.stdout.split('\n').includes(`${refused.id}\tusd\tretry_backoff\t12000\t12000\t10000`), ctl.stdout);
    assert.ok(!ctl.stdout.includes(none.id), 'filtered by reason');
  });
});

describe('audit log filters', () => {
  test('actor, action, object, created range; paging under a filter; bad filters; indexes', async () => {
    const keys = [];
    for (let i = 0; i < 3; i++) {
      const k = await ok(admins.admin, 'POST', '/admin/api/v1/api_keys', { name: `filter-${i}` });
      keys.push(k.id);
    }
    await ok(admins.admin, 'POST', `/admin/api/v1/api_keys/${keys[0]}/revoke`);

    const mine = await pages(admins.viewer, `/admin/api/v1/audit?actor=${ids.admin}`, 2);
    assert.ok(mine.length >= 4, `the admin's own entries: ${mine.length}`);
    assert.ok(mine.every((x) => x.actor_id === ids.admin));
    const seen = mine.map((x) => Number(x.id));
    assert.deepEqual(seen, [...seen].sort((a, b) => b - a), 'newest first across pages');

    const created = await pages(admins.viewer, '/admin/api/v1/audit?action=api_key.create', 100);
    assert.ok(keys.every((k) => created.some((x) => x.object_id === k)));
    assert.ok(created.every((x) => x.action === 'api_key.create'));

    const one = await ok(admins.viewer, 'GET', `/admin/api/v1/audit?object=${keys[0]}`);
    assert.deepEqual(one.data.map((x) => x.action), ['api_key.revoke', 'api_key.create']);
    const both = await ok(admins.viewer, 'GET',
      `/admin/api/v1/audit?object=${keys[0]}&action=api_key.revoke&actor=${ids.admin}`);
    assert.equal(both.data.length, 1);
    assert.equal((await ok(admins.viewer, 'GET', `/admin/api/v1/audit?object=${keys[0]}&actor=${ids.viewer}`))
      .data.length, 0, 'another actor');

    const at = one.data[0].at;
    const inRange = await ok(admins.viewer, 'GET',
      `/admin/api/v1/audit?object=${keys[0]}&created_gte=${at}&created_lte=${at}`);
    assert.ok(inRange.data.some((x) => x.action === 'api_key.revoke'));
    assert.equal((await ok(admins.viewer, 'GET', `/admin/api/v1/audit?object=${keys[0]}&created_gte=${at + 3600}`))
      .data.length, 0, 'none after');
    assert.equal((await ok(admins.viewer, 'GET', `/admin/api/v1/audit?object=${keys[0]}&created_lte=${at - 3600}`))
      .data.length, 0, 'none before');

    assertErr(await admin(admins.viewer, 'GET', '/admin/api/v1/audit?created_gte=yesterday'), 400,
      'parameter_invalid', 'created_gte');
    assertErr(await admin(admins.viewer, 'GET', `/admin/api/v1/audit?action=${'a'.repeat(65)}`), 400,
      'parameter_invalid', 'action');
    assertErr(await admin(admins.viewer, 'GET', '/admin/api/v1/audit?actor=a%20b'), 400, 'parameter_invalid',
      'actor');

    /* each filter reads its index, not the whole log */
    for (const [col, key] of [['actor_id', 'audit_actor'], ['action', 'audit_action'],
      ['object_id', 'audit_object']]) {
      const plan = await stack.sql(`EXPLAIN SELECT id FROM audit_log WHERE id < 9223372036854775807 AND ${col} = ` +
        "'x' ORDER BY id DESC LIMIT 21");
      assert.ok(plan.some((r) => r.includes(key)), `${col}: ${JSON.stringify(plan)}`);
    }
  });
});

describe('dashboard currencies', () => {
  test('the configured currencies with data, the most volume first', async () => {
    const acc = await makeAccount(stack, 'talent');
    /* more eur today than any usd the other tests make */
    await seedPayments(stack, [{ acc: acc.id, amount: 1000, cur: 'usd' }, { acc: acc.id, amount: 1000000000, cur: 'eur' }]);
    const j = await ok(admins.viewer, 'GET', '/admin/api/v1/reports/currencies');
    assert.equal(j.object, 'list');
    assert.equal(j.has_more, false);
    assert.deepEqual(j.data.map((x) => x.currency), ['eur', 'usd'], 'gbp has no data');
    assert.equal(j.data[0].volume_30d_cent, 1000000300);
    assert.ok(j.data[1].volume_30d_cent >= 1300);
    assert.equal(j.data[0].exponent, 2);
    assert.equal(j.data[0].object, 'report_currency');
    assert.equal((await req(stack, 'GET', '/admin/api/v1/reports/currencies')).status, 401);
  });
});
