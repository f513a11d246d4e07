/*
 * hardening.test.mjs - the doors of issue 14 (a security review), each
 * shown closed through the real stack (nginx, tallyd, MariaDB, the
 * Stripe emulator):
 * 1. admin logins: wrong passwords for a user delay it (progressively,
 *    briefly), never lock out the right password; the address keeps its
 *    hard limit, checked and counted atomically (concurrent attempts
 *    never pass it); a username is taken exactly (a trailing space or
 *    capitals neither log in nor dodge the user's throttle);
 * 3. webhook refusals are counted in memory and written in aggregate
 *    (no row write per bad signature), still by source address; a burst
 *    from one address over [alerts] webhook_refusals in a window is one
 *    ALERT line (whatever worker counted it), a slow trickle none;
 * 4. buyers see their own rendering of products (active only, price,
 *    availability) and of their payment (no split, no fees);
 * 5. the support role's refund limit holds per payment cumulatively,
 *    and a support admin has a daily total;
 * 7. HSTS on Tally's answers when public_url is https; the pages' CSP
 *    has no style-src 'unsafe-inline';
 * 9. PaymentIntent events count only from the platform endpoint, and
 *    complete a checkout only with the PaymentIntent it recorded.
 * Logins over FastCGI (own remote addresses, outside nginx's login limit).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertErr, assertLedger, asBuyer, complete, craftEvent, esc, eventRow, flush, makeProduct, newBuyer,
  okCheckout, paid, paymentConf, piOf, postWebhook, randomString, richProduct, server, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { fcgiHttp } from './lib/fcgi.mjs';
import { req, sleep, startStack } from './lib/stack.mjs';

const LIMIT = 1000;		/* support: per payment, usd */
const DAILY = 1500;		/* support: per admin and day, usd */
const BURST = 40;		/* refusals per address and window: an ALERT */
let stack;

before(async () => {
  stack = await startStack({
    name: 'hardening', stripe: true,
    conf: paymentConf({
      tally: { public_url: 'https://pay.example.test' },
      admin: { workers: 6 },
      'currency.usd': { refund_support_limit_cent: LIMIT, refund_support_daily_cent: DAILY },
      alerts: { webhook_refusals: BURST, webhook_refusal_window: 60 },
    }),
  });
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

/* login - POST /admin/api/v1/login over FastCGI from 'addr' */
function login(username, password, addr) {
  return fcgiHttp(stack.socket('admin'), 'POST', '/admin/api/v1/login', {
    json: { username, password }, remoteAddr: addr,
  });
}

describe('1. admin logins', () => {
  test('wrong passwords from elsewhere never lock out the right password: a short delay, then in', async () => {
    const pw = `right-${randomString(16)}`;
    await stack.createAdmin('victim1', 'viewer', pw);
    for (let i = 0; i < 5; i++) {
      const r = await login('victim1', `wrong-${i}`, '203.0.113.66');
      assert.equal(r.status, 401, `attacker's failure ${i + 1}`);
    }
    let r = await login('victim1', pw, '198.51.100.61');
    if (r.status === 429) {
      const wait = Number(r.headers['retry-after']);
      assert.ok(wait >= 1 && wait <= 2, `a delay of a second or two, not a lock (Retry-After ${wait})`);
      await sleep(wait * 1000 + 100);
      r = await login('victim1', pw, '198.51.100.61');
    }
    assert.equal(r.status, 200, `the right password gets in (${r.text})`);
  });

  test('the per-user delay grows with each failure and is capped', async () => {
    const pw = `right-${randomString(16)}`;
    await stack.createAdmin('slowed1', 'viewer', pw);
    const back = () => stack.sql("UPDATE login_throttle SET last_at = NOW(3) - INTERVAL 61 SECOND WHERE k = 'user:slowed1'");
    for (let i = 0; i < 4; i++) {
      const r = await login('slowed1', `wrong-${i}`, `203.0.113.${100 + i}`);
      assert.equal(r.status, 401, `failure ${i + 1}: no delay below login_max_failures`);
    }
    const delays = [];
    for (let i = 4; i < 9; i++) {
      await back();
      const r = await login('slowed1', `wrong-${i}`, `203.0.113.${100 + i}`);
      assert.equal(r.status, 401, `failure ${i + 1} once the delay is over`);
      const t = await login('slowed1', pw, '198.51.100.62');
      assert.equal(t.status, 429, `within the delay after failure ${i + 1} (${t.text})`);
      delays.push(Number(t.headers['retry-after']));
    }
    for (let i = 1; i < delays.length; i++) {
      assert.ok(delays[i] > delays[i - 1] || delays[i] === 60, `each failure lengthens the delay (${delays})`);
    }
    assert.ok(delays[0] <= 2 && delays.at(-1) <= 60, `from a second, capped by login_max_delay (${delays})`);
    await back();
    const ok = await login('slowed1', pw, '198.51.100.62');
    assert.equal(ok.status, 200, `the right password once the delay is over (${ok.text})`);
  });

  test('concurrent failures from one address never pass its hard limit', async () => {
    const addr = '203.0.113.77';
    const all = await Promise.all(Array.from({ length: 40 },
      (_, i) => login(`ghost-${i}`, `wrong-${i}`, addr)));
    const counted = all.filter((r) => r.status === 401).length;
    const refused = all.filter((r) => r.status === 429).length;
    assert.equal(counted + refused, 40, 'each attempt is a 401 or a 429');
    assert.equal(counted, 20, `exactly the address's 20 attempts were checked (${counted} 401, ${refused} 429)`);
    const [[failures]] = await stack.sql(`SELECT failures FROM login_throttle WHERE k = 'ip:${addr}'`);
    assert.equal(Number(failures), 20, 'the count is the limit');
  });

  test('a username with a trailing space or capitals neither logs in nor dodges the throttle', async () => {
    const pw = `right-${randomString(16)}`;
    await stack.createAdmin('exact1', 'viewer', pw);
    for (const u of ['exact1 ', 'EXACT1', ' exact1']) {
      const r = await login(u, pw, '198.51.100.63');
      assert.equal(r.status, 401, `'${u}' is not exact1 (${r.text})`);
    }
    const [[n]] = await stack.sql("SELECT failures FROM login_throttle WHERE k = 'user:exact1'");
    assert.equal(Number(n), 3, 'the variants count against exact1\'s throttle');
    const ok = await login('exact1', pw, '198.51.100.63');
    assert.equal(ok.status, 200, `exact1 itself (${ok.text})`);
  });
});

describe('3. webhook refusals', () => {
  test('a flood of bad signatures is counted in memory, written in aggregate', async () => {
    await stack.sql('SET GLOBAL userstat = 1');
    const changed = async () => sqlNum(stack, 'SELECT IFNULL(SUM(ROWS_CHANGED), 0) FROM ' +
      `information_schema.TABLE_STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'webhook_refusals'`);
    const from = '127.0.0.41';
    const body = JSON.stringify(craftEvent('customer.created', { id: 'cus_flood', object: 'customer' }));
    const before = await changed();
    const N = 60;
    for (let i = 0; i < N; i += 10) {
      const rs = await Promise.all(Array.from({ length: 10 },
        () => postWebhook(stack, body, { signature: 't=1,v1=00', from })));
      for (const r of rs) assert.equal(r.status, 400, r.body);
    }
    const writes = (await changed()) - before;
    assert.ok(writes <= 12, `${N} refusals, ${writes} row writes`);
    await until(async () => (await sqlNum(stack,
      `SELECT IFNULL(SUM(refusals), 0) FROM webhook_refusals WHERE source_addr = '${from}'`)) === N,
    'every refusal counted, by source address', 10000);
  });

  test('a burst from one address is one ALERT line; fewer refusals than the threshold, none', async () => {
    const body = JSON.stringify(craftEvent('customer.created', { id: 'cus_burst', object: 'customer' }));
    const quiet = '127.0.0.42';
    const loud = '127.0.0.43';
    const bursts = () => stack.logLines().filter((l) => l.level === 'alert' &&
      /ALERT: a burst of refused webhook signatures/.test(l.msg) &&
      [quiet, loud].includes(l.remote_addr));
    const send = async (from, n) => {
      for (let i = 0; i < n; i += 10) {
        const rs = await Promise.all(Array.from({ length: Math.min(10, n - i) },
          () => postWebhook(stack, body, { signature: 't=1,v1=00', from })));
        for (const r of rs) assert.equal(r.status, 400, r.body);
      }
    };
    await send(quiet, BURST - 5);
    await send(loud, BURST + 30);
    await until(async () => (await sqlNum(stack,
      `SELECT IFNULL(SUM(refusals), 0) FROM webhook_refusals WHERE source_addr = '${loud}'`)) === BURST + 30,
    'the burst written', 10000);
    await stack.waitForLog((l) => l.level === 'alert' && l.remote_addr === loud,
      { what: 'the burst\'s ALERT' });
    await sleep(1500);		/* more flushes: still one line */
    await send(loud, 5);
    await sleep(1500);
    const got = bursts();
    assert.deepEqual(got.map((l) => l.remote_addr), [loud], JSON.stringify(got));
    assert.equal(got[0].component, 'webhook');
    assert.ok(Number(got[0].refusals) >= BURST, JSON.stringify(got[0]));
    assert.equal(got[0].window_s, '60');
  });

  test('the gc job deletes an address\'s row 30 days after its last refusal, in batches; the days are configurable', async () => {
    const rows = async (where) => sqlNum(stack, `SELECT COUNT(*) FROM webhook_refusals WHERE ${where}`);
    /* 2500 addresses last seen 31 days ago: more than one batch of 1000 */
    await stack.sql("INSERT INTO webhook_refusals (source_addr, refusals, last_reason, first_at, last_at) " +
      "SELECT CONCAT('198.18.', seq DIV 256, '.', seq MOD 256), 3, 'no_valid_signature', " +
      'NOW(3) - INTERVAL 40 DAY, NOW(3) - INTERVAL 31 DAY FROM seq_1_to_2500');
    await stack.sql("INSERT INTO webhook_refusals (source_addr, refusals, last_reason, first_at, last_at) VALUES " +
      "('198.19.0.29', 5, 'no_valid_signature', NOW(3) - INTERVAL 60 DAY, NOW(3) - INTERVAL 29 DAY), " +
      "('198.19.0.1', 1, 'no_valid_signature', NOW(3) - INTERVAL 60 DAY, NOW(3) - INTERVAL 1 DAY)");
    assert.equal(await rows("source_addr LIKE '198.18.%'"), 2500);
    const gc = await stack.tallyctl('job', 'run', 'gc');
    assert.equal(gc.code, 0, gc.stderr);
    assert.equal(await rows("source_addr LIKE '198.18.%'"), 0,
      'the rows of addresses last refused more than 30 days ago are deleted');
    assert.equal(await rows("source_addr IN ('198.19.0.29', '198.19.0.1')"), 2,
      'those refused within 30 days are kept (first_at does not count)');

    stack.rewriteConf({ stripe: { webhook_refusals_days: 7 } });
    try {
      const gc7 = await stack.tallyctl('job', 'run', 'gc');
      assert.equal(gc7.code, 0, gc7.stderr);
      assert.equal(await rows("source_addr = '198.19.0.29'"), 0, 'webhook_refusals_days = 7: 29 days is too old');
      assert.equal(await rows("source_addr = '198.19.0.1'"), 1, 'a day is not');
      assert.equal(await rows("source_addr = '127.0.0.41'"), 1, 'nor the refusals just counted');
    } finally {
      stack.rewriteConf({ stripe: { webhook_refusals_days: 30 } });
    }
  });
});

describe('4. what buyers see', () => {
  test('products: active ones only, price and availability; no ids, bps, fees or stock', async () => {
    const b = await newBuyer(stack);
    const { product } = await richProduct(stack, { price_cent: 3000, agentBps: 1500, stock: 7 });
    const gone = await makeProduct(stack, { price_cent: 100 });
    const off = await server(stack, 'POST', `/api/v1/products/${gone.id}`, { active: false });
    assert.equal(off.status, 200, off.body);
    const list = await asBuyer(stack, b, 'GET', '/api/v1/products?limit=100');
    assert.equal(list.status, 200, list.body);
    assert.ok(!list.json.data.some((p) => p.id === gone.id), 'an inactive product is not listed to buyers');
    const mine = list.json.data.find((p) => p.id === product.id);
    assert.ok(mine, 'the active product is listed');
    assert.deepEqual(Object.keys(mine).sort(),
      ['available', 'created', 'currency', 'id', 'name', 'object', 'price_cent'], JSON.stringify(mine));
    assert.equal(mine.available, true, 'available');
    for (const p of list.json.data) {
      assert.equal(p.seller_account_id, undefined, 'no seller id');
      assert.equal(p.stock, undefined, 'no exact stock');
    }
    const one = await asBuyer(stack, b, 'GET', `/api/v1/products/${product.id}`);
    assert.deepEqual(one.json, mine, 'one product: the same rendering');
    assertErr(await asBuyer(stack, b, 'GET', `/api/v1/products/${gone.id}`), 404, 'resource_missing');
    /* the server keeps the full view */
    const full = await server(stack, 'GET', `/api/v1/products/${gone.id}`);
    assert.equal(full.status, 200, full.body);
    assert.equal(full.json.active, false, 'the server sees inactive products');
    assert.equal(full.json.seller_account_id, gone.seller_account_id, 'and their seller');
  });

  test('the completed payment: amount and status, not the split', async () => {
    const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
    await paid(stack, c.payment_intent_id);
    const r = await complete(stack, b, c.id);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.amount_cent, c.amount_cent, 'the amount');
    assert.equal(r.json.status, 'succeeded', 'the status');
    for (const k of ['shares', 'stripe_fee_estimate_cent', 'stripe_fee_actual_cent', 'completed_via']) {
      assert.equal(r.json[k], undefined, `no ${k} for the buyer (${r.body})`);
    }
    const full = await server(stack, 'GET', `/api/v1/payments/${r.json.id}`);
    assert.ok(full.json.shares.length >= 4, 'the server sees the split');
  });
});

/* buy - a completed purchase: {pay, amount} */
async function buy(price_cent = 5000) {
  const product = await makeProduct(stack, { price_cent });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  return { pay: r.json.id, amount: c.amount_cent };
}

describe('5. support refunds', () => {
  let support;
  let finance;
  before(async () => {
    for (const role of ['support', 'finance']) {
      const pw = `${role}-${randomString(16)}`;
      await stack.createAdmin(`${role}5`, role, pw);
      const s = await stack.adminLogin(`${role}5`, pw);
      assert.equal(s.status, 200, `${role} login`);
      if (role === 'support') support = s; else finance = s;
    }
  });
  const refund = (s, pay, amount) => req(stack, 'POST', `/admin/api/v1/payments/${pay}/refunds`, {
    headers: { Cookie: `tally_session=${s.cookie}`, 'X-CSRF-Token': s.csrf },
    json: { amount_cent: amount, reason: 'hardening' }, timeoutMs: 30000,
  });

  test('the limit holds for the payment\'s refunds together, and per day for the admin', async () => {
    const p = await buy();
    assert.equal((await refund(support, p.pay, 600)).status, 201, 'first refund, under the limit');
    assertErr(await refund(support, p.pay, 600), 403, 'refund_limit_exceeded', 'amount_cent',
      'a second one that brings the payment over the limit');
    assert.equal((await refund(support, p.pay, 400)).status, 201, 'up to the limit together');
    const p2 = await buy();
    assert.equal((await refund(support, p2.pay, 400)).status, 201, 'another payment: 1400 today');
    assertErr(await refund(support, p2.pay, 200), 403, 'refund_daily_limit_exceeded', 'amount_cent',
      'over the daily total of the admin');
    assert.equal((await refund(finance, p2.pay, 2000)).status, 201, 'finance has no such limit');
    await flush(stack);
  });
});

describe('7. headers', () => {
  test('HSTS on Tally\'s answers when public_url is https', async () => {
    const r = await req(stack, 'GET', '/api/v1/health');
    assert.match(r.headers.get('strict-transport-security') ?? '', /^max-age=\d{7,}/, 'Strict-Transport-Security');
  });

  test('the pages\' CSP allows no inline style', async () => {
    const r = await req(stack, 'GET', '/checkout/');
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /style-src 'self'/, csp);
    assert.doesNotMatch(csp, /unsafe-inline/, csp);
  });
});

describe('9. PaymentIntent events', () => {
  test('from the Connect endpoint (a connected account\'s), a PaymentIntent completes nothing', async () => {
    const product = await makeProduct(stack, { price_cent: 1200 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: product.id });
    const pi = await piOf(stack, c.payment_intent_id);
    const forged = { ...pi, status: 'succeeded', amount_received: pi.amount };
    const ev = { ...craftEvent('payment_intent.succeeded', forged), account: 'acct_1Connected0000' };
    const r = await postWebhook(stack, ev, { connect: true });
    assert.equal(r.status, 200, r.body);
    assert.equal((await eventRow(stack, ev.id)).status, 'ignored', 'stored, not acted on');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM payments WHERE checkout_id = ${esc(c.id)}`), 0,
      'no payment booked');
    const cancel = await stack.stripe('POST', `/v1/payment_intents/${c.payment_intent_id}/cancel`, {});
    assert.equal(cancel.status, 200, 'clean up the PaymentIntent');
  });

  test('a checkout completes only with the PaymentIntent it recorded', async () => {
    const product = await makeProduct(stack, { price_cent: 1300 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: product.id });
    const pi = await piOf(stack, c.payment_intent_id);
    /* the checkout's PaymentIntent id not recorded (a crash after Stripe made it) */
    await stack.sql(`UPDATE checkouts SET pi_id = NULL, pi_state = 'unknown' WHERE id = ${esc(c.id)}`);
    const other = { ...pi, id: `pi_forged${randomString(14)}`, status: 'succeeded', amount_received: pi.amount };
    const ev = craftEvent('payment_intent.succeeded', other);
    const r = await postWebhook(stack, ev);
    assert.equal(r.status, 200, r.body);
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM payments WHERE checkout_id = ${esc(c.id)}`), 0,
      `no payment booked from a PaymentIntent the checkout never recorded (event ${JSON.stringify(await eventRow(stack, ev.id))})`);
    await stack.sql(`UPDATE checkouts SET pi_id = ${esc(pi.id)}, pi_state = 'created' WHERE id = ${esc(c.id)}`);
    await stack.sql(`UPDATE webhook_events SET status = 'dead' WHERE id = ${esc(ev.id)}`);
    const cancel = await stack.stripe('POST', `/v1/payment_intents/${pi.id}/cancel`, {});
    assert.equal(cancel.status, 200, 'clean up the PaymentIntent');
  });
});
