/*
 * admin.test.mjs - the admin panel (web/admin/) in Chromium
 *
 * A real stack (MariaDB, tallyd, nginx serving web/, the Stripe
 * emulator), Debian's chromium driven by playwright-core, one browser
 * context (its own cookies) per admin:
 *   - log in through the form; the dashboard draws its charts from real
 *     data (SVG polylines and bars, axis labels, the totals); its
 *     currency is a list of those with data, the most volume first;
 *   - find a payment by its pi_ id, refund part of it: the remaining
 *     amount and the ledger rows change, one refund for a double click,
 *     the Idempotency-Key sent;
 *   - a viewer sees no refund form, and the API refuses a refund forged
 *     from that session (403);
 *   - replay a dead webhook event; retry a failed payout, paid by the
 *     next run, and the payouts run's deferred list with the reason in
 *     words; an account's actions by role (onboarding link, payout
 *     threshold, an advance granted once for a double click);
 *   - the audit log filtered by action and created day, kept in the URL;
 *   - paging through 250 payments, 25 a page, each once;
 *   - "log out everywhere" ends another browser's session: its next
 *     view goes to the login page;
 *   - no Content-Security-Policy violation on any page, and the policy
 *     has no 'unsafe-inline'.
 *
 * Screenshots go to the stack's dir (kept with TALLY_KEEP_STACK=1 or when
 * a test fails).
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  craftEvent, esc, makeAccount, postWebhook, server, sql1,
  sqlNum, until,
} from '../system/lib/checkout_helpers.mjs';
import { run } from '../system/lib/proc.mjs';
import { BIN, randomString, req, startStack } from '../system/lib/stack.mjs';
import {
  buy, cspSeen as cspSeenInto, cspWatch, seed, usd, watch,
} from './lib/panel.mjs';

const CHROMIUM = process.env.TALLY_CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT = 15000;
const LIMIT = 1000;

let stack;
let browser;
const pws = {};
const contexts = [];
/* CSP violations and page errors seen by any page: {url, text} */
const violations = [];
const pageErrors = [];

async function shot(page, name) {
  await page.screenshot({ path: path.join(stack.dir, name), fullPage: true });
}

/* open - a new browser context (its own cookies) and page */
async function open() {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 },
    timezoneId: 'UTC' });
  contexts.push(context);
  context.setDefaultTimeout(WAIT);
  await context.addInitScript(cspWatch);
  const page = await context.newPage();
  watch(page, violations, pageErrors);
  return page;
}

/* cspSeen - the violations the page itself reported */
const cspSeen = (page) => cspSeenInto(page, violations);

/* login - through the login form as 'user'; lands on the dashboard */
async function login(page, user) {
  await page.goto(`${stack.url}/admin/#/login`);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(pws[user]);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
}

before(async () => {
  stack = await startStack({
    name: 'admin-browser', stripe: true,
    conf: {
      'job.webhooks': { interval: 1 },
      'currency.usd': { refund_support_limit_cent: LIMIT },
      'currency.eur': { refund_support_limit_cent: LIMIT },
      'currency.gbp': { refund_support_limit_cent: LIMIT },
      payouts: { hold_days: 0, retry_base: 3600 },
      ratelimit: { buyer_per_second: 5000, buyer_burst: 10000 },
    },
  });
  for (const [user, role] of [['admin1', 'admin'], ['support1', 'support'], ['viewer1', 'viewer'],
    ['finance1', 'finance'], ['support2', 'support']]) {
    pws[user] = `${user}-${randomString(16)}`;
    await stack.createAdmin(user, role, pws[user]);
  }
  fs.accessSync(CHROMIUM, fs.constants.X_OK);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 30000 });
});

afterEach((t) => stack?.noteTest(t));

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await stack?.stop();
});

let bought;

test('the panel is served under a strict CSP: no inline script or style, framing refused', async () => {
  const res = await req(stack, 'GET', '/admin/');
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'(;|$)/, csp);
  assert.match(csp, /style-src 'self'(;|$)/, csp);
  assert.match(csp, /frame-ancestors 'none'/, csp);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, csp);
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.doesNotMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>/i, 'an inline <script> in index.html');
  assert.doesNotMatch(res.body, /\sstyle\s*=|<style/i, 'an inline style in index.html');
  for (const f of ['app.js', 'api.js', 'ui.js', 'chart.js']) {
    const js = fs.readFileSync(path.join(import.meta.dirname, '../../web/admin', f), 'utf8');
    assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, `${f} writes markup`);
  }
});

test('log in; the dashboard draws its charts from the data', async () => {
  bought = [await buy(stack), await buy(stack)];
  const payee = await makeAccount(stack, 'talent', { display_name: 'Chart Talent' });
  /* some history for the charts: payments 1..6 days ago */
  for (let d = 1; d <= 6; d++) await seed(stack, payee.id, d, d);
  /* less volume in eur today than in usd: usd first; gbp has no data */
  await seed(stack, payee.id, 1, 0, 'eur');
  const page = await open();
  /* without a session the panel asks to log in, and does not say a session ended */
  await page.goto(`${stack.url}/admin/`);
  await page.getByRole('heading', { name: 'Log in to Tally' }).waitFor();
  assert.equal(await page.locator('.notice').count(), 0);
  await login(page, 'support1');
  assert.equal(await page.locator('.who .role').textContent(), 'support');
  const charts = page.locator('svg.chart');
  assert.equal(await charts.count(), 2);
  const line = page.locator('svg.chart-line');
  const pts = await line.locator('polyline').evaluateAll((ps) => ps.map((p) => p.getAttribute('points').split(' ').length));
  assert.deepEqual(pts, [30, 30, 30], 'three series of 30 days');
  const yTicks = await line.locator('.axis-y text').allTextContents();
  assert.ok(yTicks.length >= 3 && yTicks.every((t) => t.startsWith('$')), `y labels: ${yTicks}`);
  const xTicks = await line.locator('.axis-x text').allTextContents();
  assert.ok(xTicks.length >= 4 && xTicks.every((t) => /^\d\d-\d\d$/.test(t)), `x labels: ${xTicks}`);
  assert.ok(await page.locator('svg.chart-bar rect').count() >= 30, 'a bar per day');
  /* the totals: the gross volume is what the database holds for the 30 days */
  const gross = await sqlNum(stack, "SELECT SUM(amount_cent) FROM payments WHERE currency = 'usd' AND " +
    'created_at >= CURDATE() - INTERVAL 29 DAY');
  assert.equal(await page.locator('.kpi', { hasText: 'Gross volume' }).locator('.kpi-value').textContent(), usd(gross));
  /* a point's value: the day 3 days ago holds the 3 seeded payments of that day */
  const d3 = new Date(Date.now() - 3 * 86400000).toISOString().slice(0, 10);
  const grossD3 = await sqlNum(stack, "SELECT SUM(amount_cent) FROM payments WHERE currency = 'usd' AND " +
    `DATE(created_at) = '${d3}'`);
  assert.ok(grossD3 > 0);
  const titles = await line.locator('.series.s0 circle title').allTextContents();
  assert.ok(titles.includes(`${d3} Gross volume: ${usd(grossD3)}`), titles.join('\n'));
  assert.ok(await page.getByRole('cell', { name: 'Chart Talent' }).count() === 1, 'top payees');
  /* the period picker: 7 days, kept in the URL */
  await page.getByLabel('Period', { exact: true }).selectOption('7');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/days=7/);
  await until(async () => (await line.locator('polyline').first().getAttribute('points').catch(() => ''))
    ?.split(' ').length === 7, 'a 7-day chart');
  await page.reload();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  assert.equal((await page.locator('svg.chart-line polyline').first().getAttribute('points')).split(' ').length, 7);
  await page.getByLabel('Period', { exact: true }).selectOption('30');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/days=30/);
  await page.locator('svg.chart-line polyline').first().waitFor();
  await shot(page, 'admin-dashboard.png');
  /* the currency: a list of those with data, the most volume first */
  const curSel = page.getByLabel('Currency', { exact: true });
  assert.equal(await curSel.evaluate((n) => n.tagName), 'SELECT');
  assert.deepEqual(await curSel.locator('option').allTextContents(), ['USD', 'EUR']);
  assert.equal(await curSel.inputValue(), 'usd', 'the most volume by default');
  await curSel.selectOption('eur');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/currency=eur/);
  await page.getByText(/^EUR, /).waitFor();
  assert.equal(await page.locator('.kpi', { hasText: 'Gross volume' }).locator('.kpi-value').textContent(),
    '€13.00', 'the eur payment of 1 000 + 300');
  await page.reload();
  await page.getByText(/^EUR, /).waitFor();
  assert.equal(await page.getByLabel('Currency', { exact: true }).inputValue(), 'eur', 'kept in the URL');
  await cspSeen(page);
});

test('find a payment by its pi_ id; refund part of it: remaining and ledger rows change, once', async () => {
  const p = bought[0];
  const page = await open();
  await login(page, 'support1');
  await page.getByRole('link', { name: 'Payments', exact: true }).click();
  await page.getByLabel('Search').fill(p.pi);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(new RegExp(`q=${p.pi}`));
  const rows = page.locator('table tbody tr');
  await until(async () => (await rows.count()) === 1 && (await rows.first().textContent()).includes(p.pay),
    'one payment found');
  await page.getByRole('link', { name: p.pay }).click();
  await page.locator('#remaining').waitFor();
  assert.equal(await page.locator('#remaining').textContent(), usd(p.amount));
  assert.equal(await page.locator('.refund-form .remaining').textContent(), usd(p.amount));
  assert.equal(await page.locator('.refund-form .limit').textContent(), usd(LIMIT), 'the support limit shown');
  const before = await page.locator('#ledger-rows tbody tr').count();
  assert.equal(before, await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payment_id = ${esc(p.pay)}`));
  /* the split as a table and a bar */
  assert.ok(await page.locator('svg.split-bar rect').count() >= 3);
  await shot(page, 'admin-payment.png');

  await page.getByLabel('Amount (USD)').fill('5.00');
  await page.getByLabel('Reason').fill('damaged in transit');
  const sent = page.waitForRequest((r) => r.url().endsWith(`/admin/api/v1/payments/${p.pay}/refunds`) &&
    r.method() === 'POST');
  const button = page.getByRole('button', { name: 'Refund' });
  /* a double click: one request, one refund */
  await button.dblclick();
  const request = await sent;
  assert.match(request.headers()['idempotency-key'] ?? '', /^[0-9a-f-]{36}$/);
  assert.deepEqual(JSON.parse(request.postData()), { amount_cent: 500, reason: 'damaged in transit' });
  await page.locator('.notice', { hasText: 'Refund rfd_' }).waitFor();
  assert.equal(await page.locator('#remaining').textContent(), usd(p.amount - 500));
  assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p.pay)}`), 1, 'one refund');
  await until(async () => (await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p.pay)} ` +
    'AND booked = 1')) === 1, 'the refund booked');
  await page.reload();
  await page.locator('#ledger-rows').waitFor();
  const after = await page.locator('#ledger-rows tbody tr').count();
  assert.ok(after > before, `refund rows in the ledger: ${before} -> ${after}`);
  assert.equal(after, await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payment_id = ${esc(p.pay)}`));
  const refundRows = await page.locator('#ledger-rows tbody tr', { hasText: 'refund' }).count();
  assert.ok(refundRows >= 2, 'the refund booked as rows');
  assert.equal(await page.locator('#refunds tbody tr').count(), 1);
  await shot(page, 'admin-payment-refunded.png');

  /* above the support limit: the API's message and request id are shown */
  await page.getByLabel('Amount (USD)').fill(String((LIMIT + 100) / 100));
  await page.getByLabel('Reason').fill('too much');
  await page.getByRole('button', { name: 'Refund' }).click();
  const err = page.locator('.refund-form .error');
  await err.waitFor();
  assert.match(await err.locator('.error-message').textContent(), /at most .* of a payment/);
  assert.match(await err.locator('.request-id code').textContent(), /^[0-9a-f]{8,}/);
  await cspSeen(page);
});

test('a viewer sees no refund form, and the API refuses a refund forged from the session', async () => {
  const p = bought[1];
  const page = await open();
  await login(page, 'viewer1');
  await page.goto(`${stack.url}/admin/#/payments/${p.pay}`);
  await page.locator('#remaining').waitFor();
  assert.equal(await page.locator('.refund-form').count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Refund' }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Users and keys' }).count(), 0, 'no admin section');
  const forged = await page.evaluate(async (pay) => {
    const me = await (await fetch('/admin/api/v1/me')).json();
    const r = await fetch(`/admin/api/v1/payments/${pay}/refunds`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
      body: JSON.stringify({ amount_cent: 100, reason: 'forged' }),
    });
    return { status: r.status, body: await r.json() };
  }, p.pay);
  assert.equal(forged.status, 403);
  assert.equal(forged.body.error.code, 'role_required');
  assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p.pay)}`), 0);
  await cspSeen(page);
});

test('replay a dead webhook event', async () => {
  const ev = craftEvent('customer.created', { id: `cus_${randomString(10)}` });
  await stack.sql('INSERT INTO webhook_events (id, endpoint, type, object_id, created, livemode, payload, status, ' +
    `attempts, last_error) VALUES (${esc(ev.id)}, 'platform', 'customer.created', ${esc(ev.data.object.id)}, ` +
    `${ev.created}, 0, X'${Buffer.from(JSON.stringify(ev)).toString('hex')}', 'dead', 10, 'gave up')`);
  const page = await open();
  await login(page, 'support1');
  await page.goto(`${stack.url}/admin/#/webhooks?status=dead`);
  const row = page.locator('tbody tr', { hasText: ev.id });
  await row.waitFor();
  await row.getByRole('button', { name: 'Replay' }).click();
  await page.locator('.notice', { hasText: `Event ${ev.id} replayed: ignored.` }).waitFor();
  assert.equal(await sql1(stack, `SELECT status FROM webhook_events WHERE id = ${esc(ev.id)}`), 'ignored');
  /* the event's page shows the stored payload */
  await page.goto(`${stack.url}/admin/#/webhooks/${ev.id}`);
  await page.locator('pre.payload').waitFor();
  assert.equal(JSON.parse(await page.locator('pre.payload').textContent()).id, ev.id);
  await cspSeen(page);
});

test('retry a failed payout: paid by the next run', async () => {
  await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 10000000, pending: 0 });
  const a = await makeAccount(stack, 'talent', { email: 'po@example.test', display_name: 'Payout Talent' });
  const c = (await server(stack, 'POST', `/api/v1/accounts/${a.id}/connect`)).json;
  const obj = (await stack.stripe('GET', `/v1/accounts/${c.connect_account_id}`)).json;
  const ev = { ...craftEvent('account.updated', { ...obj, payouts_enabled: true }), account: obj.id };
  assert.equal((await postWebhook(stack, ev, { connect: true })).status, 200);
  await stack.sql('INSERT INTO payments (id, purpose, pi_id, amount_cent, currency, stripe_fee_estimate_cent, ' +
    `fee_bearer_account_id, status, completed_via) VALUES ('pay_seedpayout1', 'seed', 'pi_seedpayout1', 12300, ` +
    `'usd', 100, ${esc(a.id)}, 'succeeded', 'seed')`);
  await stack.sql('INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, currency, status) VALUES ' +
    `('pay_seedpayout1', ${esc(a.id)}, 'TALENT', 'split', 12000, 'usd', 'pending'), ` +
    "('pay_seedpayout1', 'acc_platform', 'PLATFORM', 'split', 200, 'usd', 'pending'), " +
    "('pay_seedpayout1', 'acc_stripe_fee', 'STRIPE_FEE', 'split', 100, 'usd', 'pending')");
  const payoutsRun = async () => {
    const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'payouts', 'run'], { timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr);
  };
  await payoutsRun();
  const po = await sql1(stack, `SELECT id FROM payouts WHERE account_id = ${esc(a.id)} AND state = 'failed'`);
  assert.ok(po, 'a refused transfer');
  await stack.emu('POST', `/__emu/accounts/${c.connect_account_id}/complete_onboarding`);

  /* the run's deferred list says why in words: backed off after the refusal */
  const vp = await open();
  await login(vp, 'viewer1');
  await vp.getByRole('link', { name: 'Payouts', exact: true }).click();
  await vp.getByRole('link', { name: 'Deferred' }).click();
  await vp.waitForURL(/#\/payouts\/deferred/);
  const drow = vp.locator('tbody tr', { hasText: 'Payout Talent' });
  await drow.waitFor();
  assert.match(await drow.textContent(), /A transfer to it failed: waiting before the next attempt/);
  assert.match(await drow.textContent(), /\$120\.00/);
  await shot(vp, 'admin-deferred.png');
  await vp.getByLabel('Reason').selectOption('below_threshold');
  await vp.getByRole('button', { name: 'Apply' }).click();
  await vp.waitForURL(/reason=below_threshold/);
  await vp.locator('.empty, tbody tr').first().waitFor();
  assert.equal(await vp.locator('tbody tr', { hasText: 'Payout Talent' }).count(), 0, 'filtered by reason');
  await cspSeen(vp);

  /* support sees the payout but no retry button; finance retries it */
  const sp = await open();
  await login(sp, 'support1');
  await sp.goto(`${stack.url}/admin/#/payouts?state=failed`);
  await sp.locator('tbody tr', { hasText: po }).waitFor();
  assert.equal(await sp.getByRole('button', { name: 'Retry now' }).count(), 0);
  const page = await open();
  await login(page, 'finance1');
  await page.goto(`${stack.url}/admin/#/payouts?state=failed`);
  const row = page.locator('tbody tr', { hasText: po });
  await row.waitFor();
  await row.getByRole('button', { name: 'Retry now' }).click();
  await page.locator('.notice', { hasText: `Payout ${po}` }).waitFor();
  assert.equal(await sql1(stack, `SELECT payout_retry_at IS NULL FROM accounts WHERE id = ${esc(a.id)}`), '1');
  await payoutsRun();
  await page.goto(`${stack.url}/admin/#/accounts/${a.id}`);
  await page.locator('tbody tr', { hasText: 'paid' }).first().waitFor();
  assert.deepEqual(await stack.sql(`SELECT state, amount_cent FROM payouts WHERE account_id = ${esc(a.id)} ORDER BY id`),
    [['failed', '12000'], ['paid', '12000']]);

  /* the account's actions: support sends the onboarding link only; finance sets the threshold and grants */
  await sp.goto(`${stack.url}/admin/#/accounts/${a.id}`);
  await sp.getByRole('button', { name: 'Send onboarding link' }).waitFor();
  assert.equal(await sp.getByRole('button', { name: 'Grant advance' }).count(), 0);
  await sp.getByRole('button', { name: 'Send onboarding link' }).click();
  await sp.locator('.notice', { hasText: 'Emailed to po@example.test.' }).waitFor();
  await page.getByRole('textbox', { name: /^Payout threshold \(minor units/ }).fill('25000');
  await page.getByRole('button', { name: 'Save threshold' }).click();
  await page.locator('.notice', { hasText: 'The payout threshold is saved.' }).waitFor();
  assert.equal(await sql1(stack, `SELECT payout_threshold_cent FROM accounts WHERE id = ${esc(a.id)}`), '25000');
  await page.getByLabel('Amount', { exact: true }).fill('50');
  await page.getByLabel('Note').fill('studio rent');
  const sent = page.waitForRequest((r) => r.url().endsWith('/admin/api/v1/advances') && r.method() === 'POST');
  await page.getByRole('button', { name: 'Grant advance' }).dblclick();
  assert.match((await sent).headers()['idempotency-key'] ?? '', /^[0-9a-f-]{36}$/);
  await page.locator('.notice', { hasText: /Advance adv_\w+ of \$50\.00/ }).waitFor();
  assert.deepEqual(await stack.sql(`SELECT granted_cent, note FROM advances WHERE account_id = ${esc(a.id)}`),
    [['5000', 'studio rent']], 'one advance for a double click');
  await cspSeen(page);
  await cspSeen(sp);
});

test('paging through 250 payments, 25 a page', async () => {
  const payee = await makeAccount(stack, 'talent');
  const ids = await seed(stack, payee.id, 250);
  const page = await open();
  await login(page, 'viewer1');
  await page.goto(`${stack.url}/admin/#/payments?payee=${payee.id}`);
  const seen = [];
  for (let n = 0; n < 10; n++) {
    const links = page.locator('tbody tr td:first-child a');
    await until(async () => (await links.count()) === 25 && !seen.includes(await links.first().textContent()),
      `page ${n + 1}`);
    seen.push(...await links.allTextContents());
    const next = page.getByRole('link', { name: 'Next page' });
    if (n < 9) await next.click();
    else assert.equal(await next.count(), 0, 'no page after the tenth');
  }
  assert.equal(seen.length, 250);
  assert.equal(new Set(seen).size, 250, 'each payment once');
  assert.deepEqual([...seen].sort(), [...ids].sort());
  assert.deepEqual(seen, [...seen].sort().reverse(), 'newest first');
  /* back one page, then to the first */
  await page.getByRole('button', { name: 'Previous page' }).click();
  await until(async () => (await page.locator('tbody tr td:first-child a').first().textContent()) === seen[200],
    'the ninth page again');
  await page.getByRole('link', { name: 'First page' }).click();
  await until(async () => (await page.locator('tbody tr td:first-child a').first().textContent()) === seen[0],
    'the first page again');
  await cspSeen(page);
});

test('log out everywhere ends another browser\'s session', async () => {
  const victim = await open();
  await login(victim, 'support2');
  const page = await open();
  await login(page, 'admin1');
  await page.getByRole('link', { name: 'Users and keys' }).click();
  const row = page.locator('tbody tr', { hasText: 'support2' });
  await row.waitFor();
  await row.getByRole('button', { name: 'Log out everywhere' }).click();
  await page.locator('.notice', { hasText: 'support2: 1 sessions ended.' }).waitFor();
  /* the other browser's next step goes to the login page */
  await victim.getByRole('link', { name: 'Payments', exact: true }).click();
  await victim.getByText('Your session ended. Please log in again.').waitFor();
  assert.match(victim.url(), /#\/login/);
  /* the admin's own session lives on */
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('cell', { name: 'admin_sessions.revoke' }).first().waitFor();
  await shot(page, 'admin-users.png');
  /* the audit log's filters, kept in the URL */
  await page.getByLabel('Action').fill('admin.login');
  await page.getByLabel('Created from').fill(new Date().toISOString().slice(0, 10));
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/action=admin\.login/);
  await until(async () => {
    const acts = await page.locator('tbody tr td:nth-child(2)').allTextContents();
    return acts.length > 0 && acts.every((t) => t === 'admin.login');
  }, 'only logins');
  const logins = await sqlNum(stack, "SELECT COUNT(*) FROM audit_log WHERE action = 'admin.login' AND " +
    'at >= UTC_DATE()');
  assert.equal(await page.locator('tbody tr').count(), Math.min(50, logins));
  await page.reload();
  await page.locator('tbody tr').first().waitFor();
  assert.equal(await page.getByLabel('Action').inputValue(), 'admin.login', 'the filter survives a reload');
  assert.ok((await page.locator('tbody tr td:nth-child(2)').allTextContents()).every((t) => t === 'admin.login'));
  await page.getByLabel('Created from').fill('2999-01-01');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('No entry matches these filters.').waitFor();
  await cspSeen(page);
  await cspSeen(victim);
});

test('no CSP violation and no page error on any page', async () => {
  assert.deepEqual(violations, []);
  assert.deepEqual(pageErrors, []);
});
