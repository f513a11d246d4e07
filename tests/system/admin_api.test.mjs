/*
 * admin_api.test.mjs - the admin panel's API (core/report.c,
 * core/payout_retry.c, fcgi/routes_admin_report.c; docs/api.md, the
 * admin routes) on the real stack:
 * - every new route: 401 without a session, 403 below its role, 404 for
 *   an unknown id;
 * - payments: each filter (status, currency, created and amount ranges,
 *   product, buyer, payee, ?q= by pay_/chk_/pi_/ch_ id and by email),
 *   malformed filters refused, cursor paging through a filtered list;
 *   the detail: ledger rows summing to the amount, a refund made through
 *   the API with the remaining amount and the support limit, the webhook
 *   events and the audit trail;
 * - accounts (kind, Connect status, flagged) and an account's balances;
 *   the onboarding link sent again (support), the payout threshold set
 *   (finance) and obeyed by the next payouts run;
 * - payouts: a transfer Stripe refused, retried now by finance (support:
 *   403), paid by the next run; a paid payout is not retried (409);
 * - webhook events: filters, paging in the order received, the stored
 *   payload, the replay of a dead event (support) and the refusal of a
 *   processed one; signature refusals by source address;
 * - emails: filters, the retry of a dead one (support), not of a sent one;
 * - the daily report: exact sums per day from seeded payments, the
 *   period's top payees, bad periods refused; the reports job's rollup of
 *   closed days read back identically, today from the ledger; EXPLAIN
 *   shows the indexes;
 * - log out everywhere: one user's sessions, then every other session.
 * The ledger's invariants hold at the end (assertLedger).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
  assertErr, assertLedger, complete, craftEvent, esc, flush, makeAccount, newBuyer, okCheckout, paid,
  paymentConf, postWebhook, richProduct, server, sql1, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { run } from './lib/proc.mjs';
import { seedPayments } from './lib/seed.mjs';
import { BIN, randomString, req, startStack } from './lib/stack.mjs';

const LIMIT = 1000;		/* the support role's limit per refund */
let stack;
const admins = {};
const pws = {};

before(async () => {
  stack = await startStack({
    name: 'admin_api', stripe: true,
    conf: paymentConf({
      'currency.usd': { refund_support_limit_cent: LIMIT },
      'currency.eur': { refund_support_limit_cent: LIMIT },
      payouts: { hold_days: 0, retry_base: 3600 },
    }),
  });
  for (const role of ['viewer', 'support', 'finance', 'admin']) {
    pws[role] = `${role}-${randomString(16)}`;
    await stack.createAdmin(`${role}1`, role, pws[role]);
    admins[role] = await stack.adminLogin(`${role}1`, pws[role]);
    assert.equal(admins[role].status, 200, `${role} login`);
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
function admin(s, method, p, json, { idem } = {}) {
  const headers = { Cookie: `tally_session=${s.cookie}`, 'X-CSRF-Token': s.csrf };
  if (idem) headers['Idempotency-Key'] = idem;
  return req(stack, method, p, { headers, json: json ?? (method === 'POST' ? {} : undefined), timeoutMs: 30000 });
}

/* ok - the JSON of a 2xx answer */
async function ok(s, method, p, json) {
  const r = await admin(s, method, p, json);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${p}: ${r.status} ${r.body}`);
  return r.json;
}

/* buy - a completed purchase with every stakeholder (as refunds.test) */
async function buy({ email = `b-${randomString(6).toLowerCase()}@example.test` } = {}) {
  const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack, { email });
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);
  const buyer = await sql1(stack, `SELECT buyer_account_id FROM checkouts WHERE id = ${esc(c.id)}`);
  return {
    pay: r.json.id, amount: r.json.amount_cent, charge: r.json.charge_id, pi: c.payment_intent_id,
    chk: c.id, email, product: product.id, buyer, seller: product.seller_account_id,
  };
}

/* seed - payments by SQL (lib/seed.mjs); the ids, in the items' order */
const seed = (items) => seedPayments(stack, items);

/* all pages of list 'p' (limit 'n'): every id, in order, and the page count */
async function pages(s, p, n) {
  const ids = [];
  let after = null;
  let count = 0;
  for (;;) {
    const sep = p.includes('?') ? '&' : '?';
    const j = await ok(s, 'GET', `${p}${sep}limit=${n}${after ? `&starting_after=${after}` : ''}`);
    count++;
    assert.ok(j.data.length <= n);
    ids.push(...j.data.map((x) => x.id));
    if (!j.has_more) break;
    after = j.data[j.data.length - 1].id;
    assert.ok(count < 100, 'paging ends');
  }
  return { ids, count };
}

const ids = (j) => j.data.map((x) => x.id);

describe('roles and unknown ids', () => {
  /* [method, path, the lowest role allowed] */
  const ROUTES = [
    ['GET', '/admin/api/v1/payments', 'viewer'],
    ['GET', '/admin/api/v1/payments/pay_nope', 'viewer'],
    ['GET', '/admin/api/v1/accounts', 'viewer'],
    ['GET', '/admin/api/v1/accounts/acc_nope', 'viewer'],
    ['GET', '/admin/api/v1/payouts', 'viewer'],
    ['POST', '/admin/api/v1/payouts/po_nope/retry', 'finance'],
    ['GET', '/admin/api/v1/webhook_events', 'viewer'],
    ['GET', '/admin/api/v1/webhook_events/evt_nope', 'viewer'],
    ['POST', '/admin/api/v1/webhook_events/evt_nope/replay', 'support'],
    ['GET', '/admin/api/v1/webhook_refusals', 'viewer'],
    ['GET', '/admin/api/v1/emails', 'viewer'],
    ['POST', '/admin/api/v1/emails/ob_nope/retry', 'support'],
    ['GET', '/admin/api/v1/reports/daily', 'viewer'],
    ['GET', '/admin/api/v1/reports/top', 'viewer'],
    ['POST', '/admin/api/v1/users/adm_nope/sessions/revoke', 'admin'],
    ['POST', '/admin/api/v1/accounts/acc_nope/onboarding_link', 'support'],
  ];
  const ORDER = ['viewer', 'support', 'finance', 'admin'];

  test('no session: 401; below the route\'s role: 403 role_required; unknown ids: 404', async () => {
    for (const [method, p, least] of ROUTES) {
      const anon = await req(stack, method, p, { json: method === 'POST' ? {} : undefined });
      assert.equal(anon.status, 401, `${method} ${p} without a session: ${anon.body}`);
      for (const role of ORDER) {
        const r = await admin(admins[role], method, p);
        if (ORDER.indexOf(role) < ORDER.indexOf(least)) {
          assertErr(r, 403, 'role_required', undefined, `${role} on ${method} ${p}`);
        } else if (p.includes('nope')) {
          assertErr(r, 404, 'resource_missing', undefined, `${role} on ${method} ${p}`);
        } else {
          assert.equal(r.status, 200, `${role} on ${method} ${p}: ${r.body}`);
        }
      }
    }
    /* a write without the CSRF token is refused whatever the role */
    const r = await req(stack, 'POST', '/admin/api/v1/webhook_events/evt_nope/replay', {
      headers: { Cookie: `tally_session=${admins.admin.cookie}` }, json: {},
    });
    assertErr(r, 403, 'csrf_failed');
  });
});

describe('payments', () => {
  let a;
  let b;
  let payee;
  let seeded;

  before(async () => {
    a = await buy();
    b = await buy();
    payee = await makeAccount(stack, 'talent');
    /* 25 for paging, 3 in eur, 2 refunded, amounts 1000..3400 */
    const items = [];
    for (let i = 0; i < 25; i++) items.push({ acc: payee.id, amount: 1000 + 100 * i, ageDays: 3 });
    seeded = await seed(items);
    await seed([{ acc: payee.id, amount: 500, cur: 'eur', ageDays: 3 }, { acc: payee.id, amount: 600, cur: 'eur' },
      { acc: payee.id, amount: 700, cur: 'eur', status: 'disputed' }]);
  });

  test('paging through a filtered list: every payment once, newest first', async () => {
    const { ids: got, count } = await pages(admins.viewer, `/admin/api/v1/payments?payee=${payee.id}&currency=usd`, 10);
    assert.equal(count, 3);
    assert.deepEqual(got, [...seeded].sort().reverse(), 'every seeded usd payment, newest id first, once');
  });

  test('filters: status, currency, amount and created ranges, payee, product, buyer', async () => {
    const base = `/admin/api/v1/payments?payee=${payee.id}&limit=100`;
    assert.equal((await ok(admins.viewer, 'GET', `${base}&currency=eur`)).data.length, 3);
    const disputed = await ok(admins.viewer, 'GET', `${base}&status=disputed`);
    assert.deepEqual(disputed.data.map((x) => [x.currency, x.amount_cent, x.status]), [['eur', 1000, 'disputed']]);
    const mid = await ok(admins.viewer, 'GET', `${base}&currency=usd&amount_gte=2000&amount_lte=2300`);
    assert.deepEqual(mid.data.map((x) => x.amount_cent).sort(), [2000, 2100, 2200, 2300]);
    const now = Math.floor(Date.now() / 1000);
    const recent = await ok(admins.viewer, 'GET', `${base}&created_gte=${now - 86400}`);
    assert.deepEqual(recent.data.map((x) => x.amount_cent).sort((x, y) => x - y), [900, 1000], 'only the two eur of today');
    const old = await ok(admins.viewer, 'GET', `${base}&created_lte=${now - 86400}`);
    assert.equal(old.data.length, 26);
    const byProduct = await ok(admins.viewer, 'GET', `/admin/api/v1/payments?product=${a.product}`);
    assert.deepEqual(ids(byProduct), [a.pay]);
    assert.equal(byProduct.data[0].product_id, a.product);
    assert.equal(byProduct.data[0].buyer_email, a.email);
    assert.deepEqual(ids(await ok(admins.viewer, 'GET', `/admin/api/v1/payments?buyer=${b.buyer}`)), [b.pay]);
    assert.deepEqual(ids(await ok(admins.viewer, 'GET', `/admin/api/v1/payments?payee=${a.seller}`)), [a.pay]);
  });

  test('?q= finds a payment by pay_, chk_, pi_ or ch_ id, or by the buyer\'s email', async () => {
    for (const q of [a.pay, a.chk, a.pi, a.charge, a.email]) {
      const j = await ok(admins.viewer, 'GET', `/admin/api/v1/payments?q=${encodeURIComponent(q)}`);
      assert.deepEqual(ids(j), [a.pay], `q=${q}`);
    }
    const none = await ok(admins.viewer, 'GET', '/admin/api/v1/payments?q=pi_doesnotexist');
    assert.deepEqual(none.data, []);
    assert.equal(none.has_more, false);
  });

  test('malformed filters: 400 naming the parameter', async () => {
    const bad = [['q=hello', 'q'], ['amount_gte=-1', 'amount_gte'], ['amount_lte=abc', 'amount_lte'],
      ['created_gte=yesterday', 'created_gte'], ['status=a%27b', 'status'], ['limit=101', undefined],
      ['starting_after=a%20b', 'starting_after']];
    for (const [qs, param] of bad) {
      assertErr(await admin(admins.viewer, 'GET', `/admin/api/v1/payments?${qs}`), 400, 'parameter_invalid', param, qs);
    }
  });

  test('the detail: ledger rows, a partial refund and what remains, events, audit', async () => {
    const r = await admin(admins.support, 'POST', `/admin/api/v1/payments/${a.pay}/refunds`,
      { amount_cent: 700, reason: 'admin api test' }, { idem: `k-${randomString(8)}` });
    assert.equal(r.status, 201, r.body);
    await until(async () => (await sqlNum(stack, 'SELECT COUNT(*) FROM refunds WHERE payment_id = ' +
      `${esc(a.pay)} AND booked = 1`)) === 1, 'the refund booked');
    const d = await ok(admins.viewer, 'GET', `/admin/api/v1/payments/${a.pay}`);
    assert.equal(d.object, 'payment');
    assert.equal(d.id, a.pay);
    assert.equal(d.payment_intent_id, a.pi);
    assert.equal(d.refunded_cent, 700);
    assert.equal(d.remaining_cent, a.amount - 700);
    assert.equal(d.refund_support_limit_cent, LIMIT);
    const split = d.shares.filter((s) => s.kind === 'split');
    assert.equal(split.reduce((t, s) => t + s.amount_cent, 0), a.amount, 'the split sums to the amount');
    assert.ok(split.some((s) => s.role === 'PLATFORM'));
    const refundRows = d.shares.filter((s) => s.kind === 'refund');
    assert.equal(refundRows.reduce((t, s) => t + s.amount_cent, 0), -700, 'the refund rows take 700 back');
    assert.deepEqual(d.refunds.map((x) => [x.id, x.amount_cent, x.booked]), [[r.json.id, 700, true]]);
    const dbRows = await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payment_id = ${esc(a.pay)}`);
    assert.equal(d.shares.length, dbRows, 'every ledger row');
    assert.ok(d.webhook_events.some((e) => e.type === 'payment_intent.succeeded'), 'its webhook events');
    assert.ok(d.audit.some((x) => x.object_id === r.json.id || x.object_id === a.pay), 'its audit trail');
    assert.deepEqual(d.disputes, []);
    assert.deepEqual(d.payouts, []);
  });
});

describe('accounts and payouts', () => {
  test('accounts by kind, Connect status and flag; an account\'s balances', async () => {
    const t = await makeAccount(stack, 'ambassador', { email: 'amb@example.test' });
    const list = await ok(admins.viewer, 'GET', '/admin/api/v1/accounts?kind=ambassador&connect=none&limit=100');
    assert.ok(ids(list).includes(t.id));
    assert.ok(list.data.every((x) => x.kind === 'ambassador' && x.connect_account_id === null));
    assert.ok(!ids(await ok(admins.viewer, 'GET', '/admin/api/v1/accounts?connect=enabled&limit=100'))
      .includes(t.id));
    assertErr(await admin(admins.viewer, 'GET', '/admin/api/v1/accounts?connect=maybe'), 400, 'parameter_invalid',
      'connect');
    await seed([{ acc: t.id, amount: 4321, role: 'AMBASSADOR' }]);
    const d = await ok(admins.viewer, 'GET', `/admin/api/v1/accounts/${t.id}`);
    assert.equal(d.kind, 'ambassador');
    assert.deepEqual(d.balances.map((x) => [x.currency, x.payable_cent + x.pending_cent]), [['usd', 4321]]);
    assert.deepEqual(d.payouts, []);
    assert.deepEqual(d.advances, []);
  });

  test('the onboarding link sent again (support); the payout threshold set (finance) and obeyed', async () => {
    await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 10000000, pending: 0 });
    const a = await makeAccount(stack, 'talent', { email: 'onb@example.test' });
    const path1 = `/admin/api/v1/accounts/${a.id}/onboarding_link`;
    assertErr(await admin(admins.viewer, 'POST', path1), 403, 'role_required');
    const r = await ok(admins.support, 'POST', path1);
    assert.deepEqual([r.object, r.account_id, r.emailed_to], ['connect_onboarding', a.id, 'onb@example.test']);
    assert.match(r.onboarding_url, /^https?:\/\//);
    const [[kind, to, body]] = await stack.sql('SELECT kind, to_addr, body FROM outbox WHERE account_id = ' +
      `${esc(a.id)} AND kind = 'onboarding_link'`);
    assert.deepEqual([kind, to], ['onboarding_link', 'onb@example.test']);
    assert.ok(body.includes(r.onboarding_url), 'the email carries the link');
    const quiet = await makeAccount(stack, 'agent');
    assert.equal((await ok(admins.support, 'POST', `/admin/api/v1/accounts/${quiet.id}/onboarding_link`)).emailed_to,
      null);
    assertErr(await admin(admins.support, 'POST', '/admin/api/v1/accounts/acc_platform/onboarding_link'), 422,
      'wrong_account_kind');
    assertErr(await admin(admins.support, 'POST', '/admin/api/v1/accounts/acc_nope/onboarding_link'), 404,
      'resource_missing');

    await stack.emu('POST', `/__emu/accounts/${r.connect_account_id}/complete_onboarding`);
    await until(async () => (await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(a.id)}`)) === '1',
      'payouts_enabled after onboarding');
    const th = `/admin/api/v1/accounts/${a.id}/payout_threshold`;
    assertErr(await admin(admins.support, 'POST', th, { payout_threshold_cent: 50000 }), 403, 'role_required');
    for (const bad of [-5, 'abc', 1.5]) {
      const res = await admin(admins.finance, 'POST', th, { payout_threshold_cent: bad });
      assert.equal(res.status, 400, `${bad}: ${res.body}`);
    }
    assertErr(await admin(admins.finance, 'POST', th, {}), 400, 'parameter_missing');
    assertErr(await admin(admins.finance, 'POST', '/admin/api/v1/accounts/acc_platform/payout_threshold',
      { payout_threshold_cent: 1 }), 422, 'account_not_payee');
    assertErr(await admin(admins.finance, 'POST', '/admin/api/v1/accounts/acc_nope/payout_threshold',
      { payout_threshold_cent: 1 }), 404, 'resource_missing');
    const set = await ok(admins.finance, 'POST', th, { payout_threshold_cent: 50000 });
    assert.equal(set.payout_threshold_cent, 50000);
    await seed([{ acc: a.id, amount: 12000 }]);
    const payoutsRun = async () => {
      const res = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'payouts', 'run'],
        { timeoutMs: 120000 });
      assert.equal(res.code, 0, res.stderr);
    };
    await payoutsRun();
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM payouts WHERE account_id = ${esc(a.id)}`), 0,
      'below its own threshold: not paid');
    assert.equal((await ok(admins.finance, 'POST', th, { payout_threshold_cent: null })).payout_threshold_cent, null);
    await payoutsRun();
    assert.deepEqual(await stack.sql(`SELECT state, amount_cent FROM payouts WHERE account_id = ${esc(a.id)}`),
      [['paid', '12000']], 'the currency\'s threshold again: paid');
    const audit = await ok(admins.viewer, 'GET', '/admin/api/v1/audit?limit=100');
    assert.ok(audit.data.some((x) => x.action === 'account.payout_threshold' && x.object_id === a.id &&
      x.detail === '50000'));
    assert.ok(audit.data.some((x) => x.action === 'account.onboarding_link' && x.object_id === a.id));
  });

  test('a refused payout: retried now by finance, paid by the next run; not twice', async () => {
    await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 10000000, pending: 0 });
    const a = await makeAccount(stack, 'talent', { email: 'retry@example.test' });
    const c = (await server(stack, 'POST', `/api/v1/accounts/${a.id}/connect`)).json;
    const obj = (await stack.stripe('GET', `/v1/accounts/${c.connect_account_id}`)).json;
    const ev = { ...craftEvent('account.updated', { ...obj, payouts_enabled: true }), account: obj.id };
    assert.equal((await postWebhook(stack, ev, { connect: true })).status, 200);
    await seed([{ acc: a.id, amount: 12000 }]);
    const runPayouts = async () => {
      const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'payouts', 'run'],
        { timeoutMs: 120000 });
      assert.equal(r.code, 0, r.stderr);
    };
    await runPayouts();
    const failed = await ok(admins.viewer, 'GET', `/admin/api/v1/payouts?account=${a.id}&state=failed`);
    assert.equal(failed.data.length, 1);
    const po = failed.data[0];
    assert.deepEqual([po.amount_cent, po.failure_code], [12000, 'insufficient_capabilities_for_transfer']);
    const flagged = await ok(admins.viewer, 'GET', '/admin/api/v1/accounts?flagged=true&limit=100');
    assert.ok(ids(flagged).includes(a.id), 'the payee is flagged');
    /* within the backoff a run does nothing */
    await runPayouts();
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM payouts WHERE account_id = ${esc(a.id)}`), 1);

    assertErr(await admin(admins.support, 'POST', `/admin/api/v1/payouts/${po.id}/retry`), 403, 'role_required');
    await stack.emu('POST', `/__emu/accounts/${c.connect_account_id}/complete_onboarding`);
    const r = await admin(admins.finance, 'POST', `/admin/api/v1/payouts/${po.id}/retry`);
    assert.equal(r.status, 202, r.body);
    assert.deepEqual([r.json.payout_id, r.json.account_id, r.json.status], [po.id, a.id, 'scheduled']);
    assert.equal(await sql1(stack, `SELECT payout_retry_at IS NULL FROM accounts WHERE id = ${esc(a.id)}`), '1',
      'the backoff is lifted');
    await runPayouts();
    const all = await ok(admins.viewer, 'GET', `/admin/api/v1/payouts?account=${a.id}`);
    assert.deepEqual(all.data.map((x) => [x.state, x.amount_cent]), [['paid', 12000], ['failed', 12000]]);
    assertErr(await admin(admins.finance, 'POST', `/admin/api/v1/payouts/${po.id}/retry`), 409, 'payout_superseded');
    assertErr(await admin(admins.finance, 'POST', `/admin/api/v1/payouts/${all.data[0].id}/retry`), 409,
      'payout_not_failed');
    const audit = await ok(admins.viewer, 'GET', '/admin/api/v1/audit?limit=100');
    assert.ok(audit.data.some((x) => x.action === 'payout.retry' && x.object_id === po.id &&
      x.actor_id === admins.finance.body.user.id), 'audited with the actor');
    const detail = await ok(admins.viewer, 'GET', `/admin/api/v1/accounts/${a.id}`);
    assert.deepEqual(detail.payouts.map((x) => x.state), ['paid', 'failed']);
    assert.equal(detail.balances[0].paid_cent, 12000);
  });
});

describe('webhooks and emails', () => {
  /* storeEvent - an event row as webhook.c stores one ('status' given) */
  async function storeEvent(type, status, { receivedAgo = 0, object = {} } = {}) {
    const ev = craftEvent(type, { id: `obj_${randomString(10)}`, ...object });
    await stack.sql('INSERT INTO webhook_events (id, endpoint, type, object_id, created, livemode, payload, status, ' +
      `attempts, last_error, received_at) VALUES (${esc(ev.id)}, 'platform', ${esc(type)}, ${esc(ev.data.object.id)}, ` +
      `${ev.created}, 0, X'${Buffer.from(JSON.stringify(ev)).toString('hex')}', ${esc(status)}, 10, 'boom', ` +
      `NOW(3) - INTERVAL ${receivedAgo} SECOND)`);
    return ev.id;
  }

  test('events: filters, paging in the order received, the payload', async () => {
    const made = [];
    for (let i = 0; i < 12; i++) made.push(await storeEvent('tally.test_paging', 'processed', { receivedAgo: 100 - i }));
    const { ids: got, count } = await pages(admins.viewer, '/admin/api/v1/webhook_events?type=tally.test_paging', 5);
    assert.equal(count, 3);
    assert.deepEqual(got, [...made].reverse(), 'newest received first, each once');
    const one = await ok(admins.viewer, 'GET', `/admin/api/v1/webhook_events/${made[0]}`);
    assert.equal(JSON.parse(one.payload).id, made[0]);
    assert.equal(one.status, 'processed');
    const now = Math.floor(Date.now() / 1000);
    const win = await ok(admins.viewer, 'GET', '/admin/api/v1/webhook_events?type=tally.test_paging&' +
      `received_gte=${now - 95}&received_lte=${now - 89}&limit=100`);
    assert.ok(win.data.length >= 5 && win.data.length <= 8, `a window of received times: ${win.data.length}`);
    assertErr(await admin(admins.viewer, 'GET', '/admin/api/v1/webhook_events?received_gte=x'), 400,
      'parameter_invalid', 'received_gte');
  });

  test('a dead event replayed by support; a processed one is not', async () => {
    const dead = await storeEvent('customer.created', 'dead');
    const listed = await ok(admins.viewer, 'GET', '/admin/api/v1/webhook_events?status=dead&limit=100');
    assert.ok(ids(listed).includes(dead));
    assertErr(await admin(admins.viewer, 'POST', `/admin/api/v1/webhook_events/${dead}/replay`), 403,
      'role_required');
    const r = await ok(admins.support, 'POST', `/admin/api/v1/webhook_events/${dead}/replay`);
    assert.equal(r.id, dead);
    assert.equal(r.status, 'ignored', 'acted on again: a type Tally ignores');
    assert.equal((await eventStatus(dead)), 'ignored');
    assertErr(await admin(admins.support, 'POST', `/admin/api/v1/webhook_events/${dead}/replay`), 409,
      'event_not_replayable');
  });

  async function eventStatus(id) {
    return sql1(stack, `SELECT status FROM webhook_events WHERE id = ${esc(id)}`);
  }

  test('signature refusals by source address', async () => {
    const ev = craftEvent('payment_intent.succeeded', { id: 'pi_x' });
    const r = await postWebhook(stack, ev, { signature: 't=1,v1=00', from: '127.0.0.77' });
    assert.equal(r.status, 400);
    const list = await ok(admins.viewer, 'GET', '/admin/api/v1/webhook_refusals');
    const row = list.data.find((x) => x.source_addr === '127.0.0.77');
    assert.ok(row, JSON.stringify(list.data));
    assert.ok(row.refusals >= 1);
    assert.ok(row.window_refusals >= 1 && row.window_refusals <= row.refusals, JSON.stringify(row));
    assert.ok(row.window_start >= row.first_at && row.window_start <= row.last_at, JSON.stringify(row));
    assert.equal(row.alerted_at, null, 'one refusal is no burst');
    await stack.sql("UPDATE webhook_refusals SET alerted_at = NOW(3) WHERE source_addr = '127.0.0.77'");
    const alerted = (await ok(admins.viewer, 'GET', '/admin/api/v1/webhook_refusals')).data
      .find((x) => x.source_addr === '127.0.0.77');
    assert.ok(alerted.alerted_at >= alerted.window_start, JSON.stringify(alerted));
    const future = Math.floor(Date.now() / 1000) + 3600;
    assert.deepEqual((await ok(admins.viewer, 'GET', `/admin/api/v1/webhook_refusals?since=${future}`)).data, []);
  });

  test('emails: by kind and state; a dead one retried by support, a sent one not', async () => {
    const dead = `ob_${randomString(20)}`;
    const sent = `ob_${randomString(20)}`;
    await stack.sql('INSERT INTO outbox (id, dedupe_key, kind, to_addr, subject, body, state, attempts, ' +
      `last_error, sent_at) VALUES (${esc(dead)}, ${esc(`t:${dead}`)}, 'test_kind', 'x@example.test', 's', 'b', ` +
      `'dead', 8, 'smtp down', NULL), (${esc(sent)}, ${esc(`t:${sent}`)}, 'test_kind', 'y@example.test', 's', 'b', ` +
      '\'sent\', 1, NULL, NOW(3))');
    assert.deepEqual(ids(await ok(admins.viewer, 'GET', '/admin/api/v1/emails?kind=test_kind&state=dead')), [dead]);
    assert.deepEqual(ids(await ok(admins.viewer, 'GET', '/admin/api/v1/emails?kind=test_kind')).sort(),
      [dead, sent].sort());
    assertErr(await admin(admins.viewer, 'POST', `/admin/api/v1/emails/${dead}/retry`), 403, 'role_required');
    const r = await ok(admins.support, 'POST', `/admin/api/v1/emails/${dead}/retry`);
    assert.equal(r.state, 'queued');
    assert.notEqual(await sql1(stack, `SELECT state FROM outbox WHERE id = ${esc(dead)}`), 'dead');
    assertErr(await admin(admins.support, 'POST', `/admin/api/v1/emails/${sent}/retry`), 409,
      'message_not_retryable');
  });
});

describe('the daily report', () => {
  test('exact sums per day from the ledger; top payees; bad periods refused', async () => {
    const p = await makeAccount(stack, 'talent', { display_name: 'Daily Talent' });
    /* eur: 2 days ago two payments, yesterday one (the payments describe seeded eur today and 3 days ago) */
    await seed([{ acc: p.id, amount: 10000, cur: 'eur', ageDays: 2 }, { acc: p.id, amount: 20000, cur: 'eur', ageDays: 2 },
      { acc: p.id, amount: 5000, cur: 'eur', ageDays: 1 }]);
    const day = (ago) => new Date(Date.now() - ago * 86400000).toISOString().slice(0, 10);
    const d = await ok(admins.viewer, 'GET', `/admin/api/v1/reports/daily?currency=eur&from=${day(2)}&to=${day(1)}`);
    assert.deepEqual([d.object, d.currency, d.from, d.to], ['daily_report', 'eur', day(2), day(1)]);
    assert.deepEqual(d.days.map((x) => [x.date, x.gross_cent, x.payments, x.platform_revenue_cent,
      x.stripe_fees_cent]), [[day(2), 30600, 2, 400, 200], [day(1), 5300, 1, 200, 100]]);
    assert.equal(d.top_payees, undefined, 'the top lists are their own request');
    const top = await ok(admins.viewer, 'GET', `/admin/api/v1/reports/top?currency=eur&from=${day(2)}&to=${day(1)}`);
    assert.deepEqual([top.object, top.from, top.to], ['top_report', day(2), day(1)]);
    assert.equal(top.days, undefined);
    assert.equal(top.top_payees[0].account_id, p.id);
    assert.equal(top.top_payees[0].earned_cent, 35000);
    assert.equal(top.top_payees[0].display_name, 'Daily Talent');

    /* usd today: what the ledger says (independently summed here) */
    const u = await ok(admins.viewer, 'GET', '/admin/api/v1/reports/daily?currency=usd');
    assert.equal(u.days.length, 30);
    const today = u.days[u.days.length - 1];
    assert.equal(today.date, day(0));
    assert.equal(today.gross_cent, await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM payments WHERE ' +
      "currency = 'usd' AND created_at >= CURDATE()"));
    assert.equal(today.refunds_cent, await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM refunds WHERE ' +
      "currency = 'usd' AND state = 'succeeded' AND created_at >= CURDATE()"));
    assert.ok(today.refunds_cent >= 700, 'the refund of the payments test');
    const utop = await ok(admins.viewer, 'GET', '/admin/api/v1/reports/top?currency=usd');
    assert.ok(utop.top_products.length >= 1, 'the purchases\' products');
    assert.equal(utop.top_products.reduce((t, x) => t + x.payments, 0), await sqlNum(stack,
      "SELECT COUNT(*) FROM payments p JOIN checkouts c ON c.id = p.checkout_id WHERE p.currency = 'usd'"));

    for (const [qs, param] of [['from=2026-13-01', 'from'], ['to=yesterday', 'to'], ['currency=xyz', 'currency'],
      ['from=2020-01-01&to=2026-01-01', 'from'], [`from=${day(0)}&to=${day(1)}`, 'from']]) {
      assertErr(await admin(admins.viewer, 'GET', `/admin/api/v1/reports/daily?${qs}`), 400, 'parameter_invalid',
        param, qs);
    }
  });

  test('the reports job rolls closed days up; the report reads them, and today from the ledger', async () => {
    const day = (ago) => new Date(Date.now() - ago * 86400000).toISOString().slice(0, 10);
    const q = `/admin/api/v1/reports/daily?currency=eur&from=${day(6)}&to=${day(0)}`;
    const live = await ok(admins.viewer, 'GET', q);
    const tq = q.replace('/daily', '/top');
    const liveTop = await ok(admins.viewer, 'GET', tq);
    assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM report_days'), 0, 'nothing rolled up yet');
    const r = await stack.tallyctl('job', 'run', 'reports');
    assert.equal(r.code, 0, r.stderr);
    const rows = await stack.sql("SELECT DATE_FORMAT(day, '%Y-%m-%d'), gross_cent, payments, platform_revenue_cent " +
      "FROM report_days WHERE currency = 'eur' AND gross_cent > 0 ORDER BY day");
    assert.deepEqual(rows.map((x) => x.map(String)), [[day(3), '800', '1'], [day(2), '30600', '2'],
      [day(1), '5300', '1']].map(([d, g, n]) => [d, g, n, String(200 * Number(n))]), 'the closed days, exact');
    assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM report_days WHERE day >= UTC_DATE()'), 0,
      'today is never rolled up');
    assert.ok(await sqlNum(stack, "SELECT COUNT(*) FROM report_block_payees WHERE currency = 'eur' AND " +
      'level = 0') >= 3);
    /* every block is the sum of its days */
    assert.deepEqual(await stack.sql('SELECT b.level, b.start_day, b.account_id, b.earned_cent, SUM(d.earned_cent) ' +
      'FROM report_block_payees b JOIN report_block_payees d ON d.currency = b.currency AND d.account_id = ' +
      'b.account_id AND d.level = 0 AND d.start_day >= b.start_day AND d.start_day < b.start_day + INTERVAL ' +
      'POW(2, b.level) DAY WHERE b.level > 0 GROUP BY b.currency, b.level, b.start_day, b.account_id, ' +
      'b.earned_cent HAVING b.earned_cent <> SUM(d.earned_cent)'), []);
    assert.ok(await sqlNum(stack, 'SELECT COUNT(*) FROM report_block_payees WHERE level > 0') > 0, 'blocks made');
    const rolled = await ok(admins.viewer, 'GET', q);
    assert.deepEqual(rolled, live, 'the same report from the rollup as from the ledger');
    assert.deepEqual(await ok(admins.viewer, 'GET', tq), liveTop, 'the same top lists from the rollup');
    /* the report does read the rollup for closed days (a tampered day shows), and the ledger for today */
    await stack.sql(`UPDATE report_days SET gross_cent = gross_cent + 1 WHERE currency = 'eur' AND day = '${day(2)}'`);
    const tampered = await ok(admins.viewer, 'GET', q);
    assert.equal(tampered.days.find((x) => x.date === day(2)).gross_cent, 30601);
    await seed([{ acc: (await makeAccount(stack, 'talent')).id, amount: 1000, cur: 'eur' }]);
    const today = (await ok(admins.viewer, 'GET', q)).days.find((x) => x.date === day(0));
    assert.equal(today.gross_cent, live.days.find((x) => x.date === day(0)).gross_cent + 1300, 'today live');
    /* the next run recomputes the recent closed days */
    assert.equal((await stack.tallyctl('job', 'run', 'reports')).code, 0);
    assert.equal((await ok(admins.viewer, 'GET', q)).days.find((x) => x.date === day(2)).gross_cent, 30600);
  });

  test('EXPLAIN: the dashboard and the lists read indexes, not whole tables', async () => {
    const plan = async (q) => (await stack.sql(`EXPLAIN ${q}`)).map((r) => r.join(' '));
    const checks = [
      ['SELECT DATEDIFF(created_at, \'2026-01-01\'), SUM(amount_cent) FROM payments WHERE currency = \'usd\' AND ' +
        'created_at >= \'2026-01-01\' AND created_at < \'2026-04-01\' GROUP BY 1', 'payments_report'],
      ['SELECT DATEDIFF(created_at, \'2026-01-01\'), SUM(amount_cent) FROM shares WHERE currency = \'usd\' AND ' +
        'created_at >= \'2026-01-01\' AND created_at < \'2026-04-01\' AND account_id = \'acc_platform\' ' +
        'GROUP BY 1', 'shares_report'],
      ['SELECT id FROM accounts WHERE email = \'a@b.c\'', 'accounts_email'],
      ['SELECT id FROM webhook_events ORDER BY received_at DESC, id DESC LIMIT 11', 'webhook_events_received'],
    ];
    for (const [q, key] of checks) {
      const rows = await plan(q);
      assert.ok(rows.some((r) => r.includes(key)), `${key} in ${JSON.stringify(rows)}`);
      assert.ok(!rows.some((r) => / ALL /.test(` ${r} `)), `no full scan: ${JSON.stringify(rows)}`);
    }
  });
});

describe('log out everywhere', () => {
  test('one user\'s sessions, then every session but the caller\'s', async () => {
    const pw = `x-${randomString(16)}`;
    const uid = await stack.createAdmin('roaming', 'support', pw);
    const s1 = await stack.adminLogin('roaming', pw);
    const s2 = await stack.adminLogin('roaming', pw);
    const other = await stack.adminLogin('viewer1', pws.viewer);
    for (const s of [s1, s2, other]) assert.equal((await admin(s, 'GET', '/admin/api/v1/me')).status, 200);
    assertErr(await admin(s1, 'POST', `/admin/api/v1/users/${uid}/sessions/revoke`), 403, 'role_required');

    const r = await ok(admins.admin, 'POST', `/admin/api/v1/users/${uid}/sessions/revoke`);
    assert.deepEqual([r.user_id, r.revoked], [uid, 2]);
    for (const s of [s1, s2]) assert.equal((await admin(s, 'GET', '/admin/api/v1/me')).status, 401);
    assert.equal((await admin(other, 'GET', '/admin/api/v1/me')).status, 200, 'another user stays');

    const all = await ok(admins.admin, 'POST', '/admin/api/v1/sessions/revoke');
    assert.ok(all.revoked >= 4, `every other session: ${all.revoked}`);
    assert.equal((await admin(other, 'GET', '/admin/api/v1/me')).status, 401);
    assert.equal((await admin(admins.admin, 'GET', '/admin/api/v1/me')).status, 200, 'the caller stays');
    const audit = await ok(admins.admin, 'GET', '/admin/api/v1/audit?limit=20');
    assert.ok(audit.data.some((x) => x.action === 'admin_sessions.revoke' && x.object_id === uid));
    assert.ok(audit.data.some((x) => x.action === 'admin_sessions.revoke_all'));
  });
});
