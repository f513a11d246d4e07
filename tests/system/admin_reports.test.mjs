/*
 * admin_reports.test.mjs - the dashboard's numbers are the ledger's,
 * whatever the reports job has rolled up (core/report_daily.c,
 * schema/019_report_today.sql; docs/api.md, "Reports"):
 * - today from the job's mark (report_today: the sums before it) plus
 *   the rows after it, and the standard periods' top lists (7, 30, 90
 *   days ending today) from their cache plus the rows after the mark,
 *   equal what the report computed from the ledger alone before the job
 *   ran, for every standard period and a custom one;
 * - after the mark: a refund and a dispute of payments summed before it,
 *   a new payment, and one booked late (created before the job's run but
 *   after the mark: a transaction open while the job ran, within
 *   [job.reports] horizon): the numbers are the ledger's own sums,
 *   recomputed here by SQL, and the same once the mark is gone;
 * - a row older than the mark that appeared after the run (only a
 *   transaction open longer than the horizon could do that) is in the
 *   numbers from the next run on, which recomputes today's mark whole;
 * - the ?payee= list read from the payee's index equals the semi-join's
 *   answer (the same filter with another filter added), page by page.
 * The ledger's invariants hold at the end (assertLedger).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertLedger, complete, esc, flush, makeAccount, newBuyer, okCheckout, paid, paymentConf, richProduct, sqlNum,
  until,
} from './lib/checkout_helpers.mjs';
import { randomString, req, startStack } from './lib/stack.mjs';

const HORIZON = 60;	/* [job.reports] horizon, seconds */
const PAYEE_ROLES = "('TALENT', 'AGENT', 'AMBASSADOR', 'HOST_PARTNER')";
let stack;
let fin;

before(async () => {
  /* the job process runs once at start, then not again: the test runs it */
  stack = await startStack({
    name: 'admin_reports', stripe: true,
    conf: paymentConf({ 'job.reports': { interval: 604800, horizon: HORIZON } }),
  });
  const pw = `finance-${randomString(16)}`;
  await stack.createAdmin('finance1', 'finance', pw);
  fin = await stack.adminLogin('finance1', pw);
  assert.equal(fin.status, 200);
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) {
      await flush(stack);
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

function admin(method, p, json, headers = {}) {
  return req(stack, method, p, {
    headers: { Cookie: `tally_session=${fin.cookie}`, 'X-CSRF-Token': fin.csrf, ...headers }, json, timeoutMs: 30000,
  });
}

async function get(p) {
  const r = await admin('GET', p);
  assert.equal(r.status, 200, `${p}: ${r.body}`);
  return r.json;
}

const day = (ago) => new Date(Date.now() - ago * 86400000).toISOString().slice(0, 10);
/* an instant 'min' minutes ago, but today (the test may run just after midnight) */
const minutesAgo = (min) => `GREATEST(NOW(3) - INTERVAL ${min} MINUTE, UTC_DATE())`;

/*
 * seed - payments by SQL (as admin_api.test): 'amount' to payee 'acc',
 * 200 to the platform, 100 to Stripe's fee account, at SQL instant 'at'
 */
async function seed(items) {
  const pays = [];
  const shares = [];
  for (const it of items) {
    const pay = `pay_seed${randomString(20)}`;
    const { at } = it;
    pays.push(`(${esc(pay)}, 'seed', ${esc(`pi_seed${randomString(20)}`)}, ${it.amount + 300}, 'usd', 100, ` +
      `${esc(it.acc)}, 'succeeded', 'seed', ${at})`);
    shares.push(`(${esc(pay)}, ${esc(it.acc)}, 'TALENT', 'split', ${it.amount}, 'usd', 'pending', ${at})`);
    shares.push(`(${esc(pay)}, 'acc_platform', 'PLATFORM', 'split', 200, 'usd', 'pending', ${at})`);
    shares.push(`(${esc(pay)}, 'acc_stripe_fee', 'STRIPE_FEE', 'split', 100, 'usd', 'pending', ${at})`);
  }
  await stack.sql('INSERT INTO payments (id, purpose, pi_id, amount_cent, currency, stripe_fee_estimate_cent, ' +
    `fee_bearer_account_id, status, completed_via, created_at) VALUES ${pays.join(', ')}`);
  await stack.sql('INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, currency, status, ' +
    `created_at) VALUES ${shares.join(', ')}`);
}

/* buy - a completed purchase through the API (every stakeholder) */
async function buy() {
  const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack, { email: `r-${randomString(6).toLowerCase()}@example.test` });
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);
  return { pay: r.json.id, amount: r.json.amount_cent, charge: r.json.charge_id };
}

/* the dashboard's two requests for 'from' … 'to' in usd */
async function dashboard(from, to) {
  const q = `?currency=usd&from=${from}&to=${to}`;
  const d = await get(`/admin/api/v1/reports/daily${q}`);
  const t = await get(`/admin/api/v1/reports/top${q}`);
  return { days: d.days, top_products: t.top_products, top_payees: t.top_payees };
}

const PERIODS = [[day(6), day(0)], [day(29), day(0)], [day(89), day(0)], [day(9), day(0)], [day(40), day(1)]];

async function all() {
  const out = [];
  for (const [f, t] of PERIODS) out.push(await dashboard(f, t));
  return out;
}

/* ledger - today's numbers and a period's top lists, summed here by SQL from the ledger alone */
async function ledgerToday() {
  const n = (q) => sqlNum(stack, q);
  const today = "currency = 'usd' AND created_at >= UTC_DATE() AND created_at < UTC_DATE() + INTERVAL 1 DAY";
  return {
    gross_cent: await n(`SELECT IFNULL(SUM(amount_cent), 0) FROM payments WHERE ${today}`),
    payments: await n(`SELECT COUNT(*) FROM payments WHERE ${today}`),
    platform_revenue_cent: await n(`SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ${today} AND ` +
      "account_id = 'acc_platform' AND role = 'PLATFORM'"),
    stripe_fees_cent: await n(`SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ${today} AND ` +
      "account_id = 'acc_stripe_fee'"),
    refunds_cent: await n(`SELECT IFNULL(SUM(amount_cent), 0) FROM refunds WHERE ${today} AND state = 'succeeded'`),
    refunds: await n(`SELECT COUNT(*) FROM refunds WHERE ${today} AND state = 'succeeded'`),
    disputes_cent: await n(`SELECT IFNULL(SUM(amount_cent), 0) FROM disputes WHERE ${today}`),
    disputes: await n(`SELECT COUNT(*) FROM disputes WHERE ${today}`),
  };
}

async function ledgerTop(from) {
  const range = `currency = 'usd' AND created_at >= '${from}' AND created_at < UTC_DATE() + INTERVAL 1 DAY`;
  const payees = await stack.sql('SELECT s.account_id, a.display_name, a.kind, SUM(s.amount_cent) FROM shares s ' +
    `JOIN accounts a ON a.id = s.account_id WHERE s.${range.replaceAll(' AND ', ' AND s.')} AND s.role IN ` +
    `${PAYEE_ROLES} GROUP BY s.account_id, a.display_name, a.kind ORDER BY 4 DESC, 1 LIMIT 5`);
  const products = await stack.sql('SELECT c.product_id, pr.name, SUM(p.amount_cent), COUNT(*) FROM payments p ' +
    'JOIN checkouts c ON c.id = p.checkout_id JOIN products pr ON pr.id = c.product_id WHERE ' +
    `p.${range.replaceAll(' AND ', ' AND p.')} GROUP BY c.product_id, pr.name ORDER BY 3 DESC, 1 LIMIT 5`);
  return {
    top_payees: payees.map(([id, name, kind, v]) => [id, name, kind, Number(v)]),
    top_products: products.map(([id, name, g, k]) => [id, name, Number(g), Number(k)]),
  };
}

const pick = (d) => ({
  top_payees: d.top_payees.map((x) => [x.account_id, x.display_name, x.kind, x.earned_cent]),
  top_products: d.top_products.map((x) => [x.product_id, x.name, x.gross_cent, x.payments]),
});

async function assertLedgerNumbers(what) {
  const want = await ledgerToday();
  for (const [f, t] of PERIODS.slice(0, 4)) {
    const d = await dashboard(f, t);
    const today = d.days[d.days.length - 1];
    assert.equal(today.date, day(0));
    for (const [k, v] of Object.entries(want)) assert.equal(today[k], v, `${what}: today's ${k} (${f})`);
    assert.deepEqual(pick(d), await ledgerTop(f), `${what}: the top lists from ${f}`);
  }
}

describe('the dashboard from the rollup equals the ledger', () => {
  test('today from the mark, the standard periods from their cache; refunds, disputes and late rows after it', async () => {
    const talents = [];
    for (let k = 0; k < 7; k++) talents.push((await makeAccount(stack, 'talent', { display_name: `R${k}` })).id);
    /* closed days (1, 3, 20, 60 days ago) and today, ten minutes ago */
    const items = [];
    talents.forEach((acc, k) => {
      for (const ago of [1, 3, 20, 60]) items.push({ acc, amount: 1000 * (k + 1) + ago, at: `NOW(3) - INTERVAL ${ago} DAY` });
      items.push({ acc, amount: 700 * (7 - k), at: minutesAgo(10) });
    });
    await seed(items);
    const p1 = await buy();
    const p2 = await buy();
    /* as if bought ten minutes ago: before the mark the job will set */
    for (const t of ['payments', 'shares']) {
      await stack.sql(`UPDATE ${t} SET created_at = ${minutesAgo(10)} WHERE ${t === 'payments' ? 'id' : 'payment_id'} ` +
        `IN (${esc(p1.pay)}, ${esc(p2.pay)})`);
    }
    /* nothing rolled up (the job's run at start found an empty ledger): all from the ledger */
    await stack.sql('DELETE FROM report_today');
    await stack.sql('DELETE FROM report_days');
    await stack.sql('DELETE FROM report_block_payees');
    await stack.sql('DELETE FROM report_block_products');
    const live = await all();
    await assertLedgerNumbers('from the ledger alone');

    const r = await stack.tallyctl('job', 'run', 'reports');
    assert.equal(r.code, 0, r.stderr);
    const [[mday, periods, held, late]] = await stack.sql("SELECT DATE_FORMAT(day, '%Y-%m-%d'), periods, payments, " +
      `upto < NOW(3) - INTERVAL ${HORIZON - 5} SECOND FROM report_today WHERE currency = 'usd'`);
    assert.deepEqual([mday, periods, late], [day(0), '7,30,90', '1'], 'today\'s mark, behind by the horizon');
    if (await sqlNum(stack, `SELECT ${minutesAgo(10)} > UTC_DATE()`)) {
      assert.equal(Number(held), talents.length + 2, 'the mark holds today\'s payments before it');
    }
    assert.equal(await sqlNum(stack, "SELECT COUNT(*) FROM report_top_payees WHERE currency = 'usd' AND period = 7"),
      await sqlNum(stack, "SELECT COUNT(DISTINCT account_id) FROM shares WHERE currency = 'usd' AND created_at >= " +
        `UTC_DATE() - INTERVAL 6 DAY AND created_at < (SELECT upto FROM report_today WHERE currency = 'usd') AND role IN ${PAYEE_ROLES}`),
      'the 7 days\' cache: every payee of its closed days and of today before the mark');
    assert.deepEqual(await all(), live, 'the same numbers from the rollup, the mark and the caches');

    /* after the mark: a refund and a dispute of payments summed before it */
    const rf = await admin('POST', `/admin/api/v1/payments/${p1.pay}/refunds`, { amount_cent: 900, reason: 'test' },
      { 'Idempotency-Key': `k-${randomString(8)}` });
    assert.equal(rf.status, 201, rf.body);
    await until(async () => (await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p1.pay)} ` +
      "AND booked = 1 AND state = 'succeeded'")) === 1, 'the refund booked');
    const dp = await stack.emu('POST', `/__emu/charges/${p2.charge}/dispute`, {});
    assert.match(dp.id, /^dp_/, JSON.stringify(dp));
    await flush(stack);
    await until(async () => (await sqlNum(stack, `SELECT withdrawn_cent FROM disputes WHERE id = ${esc(dp.id)}`)) ===
      dp.amount, 'the withdrawal booked');
    /* a new payment, and one created before the run but after the mark (its transaction was open) */
    await seed([{ acc: talents[6], amount: 50000, at: 'NOW(3)' },
      { acc: talents[5], amount: 40000, at: `NOW(3) - INTERVAL ${Math.floor(HORIZON / 2)} SECOND` }]);
    await assertLedgerNumbers('after the mark');
    assert.deepEqual(pick(await dashboard(day(6), day(0))).top_payees.slice(0, 2).map((x) => x[0]),
      [talents[6], talents[5]], 'the rows after the mark count in the top lists');

    /* a day not rolled up before today and a day after it: the ledger's range around today, the mark for today */
    const [[gross2]] = await stack.sql(`SELECT gross_cent FROM report_days WHERE currency = 'usd' AND day = '${day(3)}'`);
    await stack.sql(`DELETE FROM report_days WHERE currency = 'usd' AND day = '${day(3)}'`);
    const around = await get(`/admin/api/v1/reports/daily?currency=usd&from=${day(5)}&to=${day(-1)}`);
    const want = await ledgerToday();
    const t0 = around.days.find((x) => x.date === day(0));
    for (const [k, v] of Object.entries(want)) assert.equal(t0[k], v, `today's ${k} with the ledger's range around it`);
    assert.equal(around.days.find((x) => x.date === day(3)).gross_cent, Number(gross2), 'the missing day from the ledger');
    assert.equal(around.days.find((x) => x.date === day(-1)).gross_cent, 0, 'tomorrow');
    assert.equal((await stack.tallyctl('job', 'run', 'reports')).code, 0);

    /* the same without the mark and the caches (every number from the ledger) */
    const withMark = await all();
    await stack.sql('DELETE FROM report_today');
    assert.deepEqual(await all(), withMark, 'the mark changes no number');

    /* a row older than the mark, appearing after the run: the next run's mark has it */
    assert.equal((await stack.tallyctl('job', 'run', 'reports')).code, 0);
    await seed([{ acc: talents[4], amount: 90000, at: minutesAgo(5) }]);
    assert.equal((await stack.tallyctl('job', 'run', 'reports')).code, 0);
    await assertLedgerNumbers('the next run');
  });

  test('?payee= alone (the payee\'s index from the cursor) pages like the semi-join', async () => {
    const acc = (await makeAccount(stack, 'talent')).id;
    const other = (await makeAccount(stack, 'talent')).id;
    const items = [];
    for (let k = 0; k < 23; k++) items.push({ acc: k % 3 ? acc : other, amount: 100 + k, at: `NOW(3) - INTERVAL ${k} HOUR` });
    await seed(items);
    /* a payment with two rows of the payee: listed once */
    await stack.sql("INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, currency, status) SELECT " +
      `id, ${esc(acc)}, 'TALENT', 'split', 0, 'usd', 'pending' FROM payments WHERE fee_bearer_account_id = ${esc(acc)} ` +
      'ORDER BY id DESC LIMIT 1');
    const pageAll = async (p) => {
      const out = [];
      let after = null;
      for (let n = 0; n < 50; n++) {
        const j = await get(`${p}&limit=4${after ? `&starting_after=${after}` : ''}`);
        out.push(...j.data.map((x) => x.id));
        if (!j.has_more) return out;
        after = j.data[j.data.length - 1].id;
      }
      throw new Error('paging does not end');
    };
    const alone = await pageAll(`/admin/api/v1/payments?payee=${acc}`);
    const joined = await pageAll(`/admin/api/v1/payments?payee=${acc}&currency=usd`);
    assert.equal(alone.length, 15);
    assert.deepEqual(alone, joined);
    assert.deepEqual(alone, [...alone].sort().reverse(), 'newest first');
    const plan = (await stack.sql('EXPLAIN SELECT DISTINCT payment_id FROM shares WHERE account_id = ' +
      `${esc(acc)} AND payment_id < '~' ORDER BY payment_id DESC LIMIT 26`)).map((x) => x.join(' '));
    assert.ok(plan.some((x) => x.includes('shares_payee')), JSON.stringify(plan));
    assert.ok(!plan.some((x) => /filesort|temporary/i.test(x)), `one index range: ${JSON.stringify(plan)}`);
  });
});
