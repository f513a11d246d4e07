/*
 * admin_firefox.test.mjs - the admin panel (web/admin/) in Firefox
 *
 * The issue asks for a panel that works in Chromium and Firefox;
 * admin.test.mjs covers every flow in Chromium, this file the core ones
 * in Debian's firefox-esr, driven by puppeteer-core over WebDriver BiDi
 * (playwright-core's Firefox needs its own patched build).  A real stack
 * (MariaDB, tallyd, nginx serving web/, the Stripe emulator), one
 * browser context (its own cookies) per admin:
 *   - log in through the form; the dashboard draws its charts from real
 *     data (SVG polylines and bars, axis labels, the gross volume);
 *   - find a payment by its pi_ id, refund part of it: the remaining
 *     amount and the ledger rows change, one refund, the
 *     Idempotency-Key sent;
 *   - paging through 60 payments, 25 a page, each once;
 *   - log out: the session ends, the panel asks to log in again;
 *   - no Content-Security-Policy violation and no page error.
 * TALLY_FIREFOX names another binary (default /usr/bin/firefox-esr).
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import puppeteer from 'puppeteer-core';

import { esc, makeAccount, sqlNum, until } from '../system/lib/checkout_helpers.mjs';
import { randomString, startStack } from '../system/lib/stack.mjs';
import {
  buy, cspSeen as cspSeenInto, cspWatch, seed, usd, watch,
} from './lib/panel.mjs';

const FIREFOX = process.env.TALLY_FIREFOX || '/usr/bin/firefox-esr';
const WAIT = 15000;
const LIMIT = 1000;

let stack;
let browser;
const pws = {};
const contexts = [];
/* CSP violations and page errors seen by any page: {url, text} */
const violations = [];
const pageErrors = [];

/* open - a new browser context (its own cookies) and page */
async function open() {
  const context = await browser.createBrowserContext();
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  await page.setViewport({ width: 1280, height: 900 });
  await page.evaluateOnNewDocument(cspWatch);
  watch(page, violations, pageErrors);
  return page;
}

/* cspSeen - the violations the page itself reported */
const cspSeen = (page) => cspSeenInto(page, violations);

async function shot(page, name) {
  await page.screenshot({ path: path.join(stack.dir, name), fullPage: true });
}

/* text - the text of the first element matching 'sel', once it is there */
async function text(page, sel) {
  await page.waitForSelector(sel);
  return page.$eval(sel, (n) => n.textContent);
}

/* texts - the texts of every element matching 'sel' (none: []) */
function texts(page, sel) {
  return page.$$eval(sel, (ns) => ns.map((n) => n.textContent));
}

/* heading - wait for an h1 whose text is 'name' */
function heading(page, name) {
  return page.waitForFunction((t) => [...document.querySelectorAll('h1')].some((h) => h.textContent === t), {},
    name);
}

/* button - the button whose text is 'name' (waits for it) */
async function button(page, name) {
  const h = await page.waitForFunction((t) => [...document.querySelectorAll('button')]
    .find((b) => b.textContent === t && !b.disabled), {}, name);
  return h.asElement();
}

/* fill - type 'value' into the input labelled 'label' (replacing it) */
async function fill(page, label, value) {
  const h = await page.waitForFunction((t) => {
    const l = [...document.querySelectorAll('label')].find((x) => x.textContent === t);
    return l ? document.getElementById(l.htmlFor) : null;
  }, {}, label);
  const input = h.asElement();
  await input.click({ count: 3 });
  await input.evaluate((n) => { n.value = ''; });
  await input.type(value);
  return input;
}

/* login - through the login form as 'user'; lands on the dashboard */
async function login(page, user) {
  await page.goto(`${stack.url}/admin/#/login`);
  await heading(page, 'Log in to Tally');
  await fill(page, 'Username', user);
  await fill(page, 'Password', pws[user]);
  await (await button(page, 'Log in')).click();
  await heading(page, 'Dashboard');
}

before(async () => {
  stack = await startStack({
    name: 'admin-firefox', stripe: true,
    conf: {
      'currency.usd': { refund_support_limit_cent: LIMIT },
      payouts: { hold_days: 0 },
      ratelimit: { buyer_per_second: 5000, buyer_burst: 10000 },
    },
  });
  for (const [user, role] of [['support1', 'support'], ['viewer1', 'viewer']]) {
    pws[user] = `${user}-${randomString(16)}`;
    await stack.createAdmin(user, role, pws[user]);
  }
  fs.accessSync(FIREFOX, fs.constants.X_OK);
  browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true,
    timeout: 60000 });
});

afterEach((t) => stack?.noteTest(t));

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await stack?.stop();
});

let bought;

test('Firefox: log in; the dashboard draws its charts from the data', async () => {
  bought = await buy(stack);
  const payee = await makeAccount(stack, 'talent', { display_name: 'Fox Talent' });
  for (let d = 1; d <= 4; d++) await seed(stack, payee.id, d, d);
  const page = await open();
  await page.goto(`${stack.url}/admin/`);
  await heading(page, 'Log in to Tally');
  await login(page, 'support1');
  assert.equal(await text(page, '.who .role'), 'support');
  await page.waitForSelector('svg.chart-line polyline');
  assert.equal((await page.$$('svg.chart')).length, 2);
  const pts = await page.$$eval('svg.chart-line polyline', (ps) => ps.map((p) => p.getAttribute('points')
    .split(' ').length));
  assert.deepEqual(pts, [30, 30, 30], 'three series of 30 days');
  /* drawn: the lines have a length and the bars a size in Firefox's layout */
  const drawn = await page.$$eval('svg.chart-line polyline', (ps) => ps.map((p) => p.getTotalLength()));
  assert.ok(drawn.every((l) => l > 0), `polyline lengths: ${drawn}`);
  /* a bar per day (no payout yet: each 0 high, laid out on its slot) */
  const bars = await page.$$eval('svg.chart-bar rect', (rs) => rs.map((r) => [Number(r.getAttribute('width')),
    Number(r.getAttribute('x'))]));
  assert.ok(bars.length >= 30 && bars.every(([w, x]) => w > 0 && x >= 0), `bars: ${JSON.stringify(bars)}`);
  const box = await page.$eval('svg.chart-bar', (n) => n.getBoundingClientRect().width);
  assert.ok(box > 200, `the bar chart is laid out: ${box}px`);
  const yTicks = await texts(page, 'svg.chart-line .axis-y text');
  assert.ok(yTicks.length >= 3 && yTicks.every((t) => t.startsWith('$')), `y labels: ${yTicks}`);
  const xTicks = await texts(page, 'svg.chart-line .axis-x text');
  assert.ok(xTicks.length >= 4 && xTicks.every((t) => /^\d\d-\d\d$/.test(t)), `x labels: ${xTicks}`);
  const gross = await sqlNum(stack, "SELECT SUM(amount_cent) FROM payments WHERE currency = 'usd' AND " +
    'created_at >= CURDATE() - INTERVAL 29 DAY');
  const kpis = await page.$$eval('.kpi', (ks) => ks.map((k) => [k.querySelector('.kpi-label').textContent,
    k.querySelector('.kpi-value').textContent]));
  assert.deepEqual(kpis.find(([l]) => l === 'Gross volume'), ['Gross volume', usd(gross)]);
  /* the currency is a list; the period picker writes the URL */
  assert.deepEqual(await texts(page, '#dash-currency option'), ['USD']);
  await page.select('#dash-days', '7');
  await (await button(page, 'Show')).click();
  await page.waitForFunction(() => /days=7/.test(location.hash));
  await page.waitForFunction(() => document.querySelector('svg.chart-line polyline')
    ?.getAttribute('points').split(' ').length === 7);
  await shot(page, 'firefox-dashboard.png');
  await cspSeen(page);
});

test('Firefox: find a payment by its pi_ id; refund part of it: remaining and ledger rows change', async () => {
  const p = bought;
  const page = await open();
  await login(page, 'support1');
  await page.goto(`${stack.url}/admin/#/payments`);
  await heading(page, 'Payments');
  await fill(page, 'Search', p.pi);
  await (await button(page, 'Apply')).click();
  await page.waitForFunction((pi) => location.hash.includes(`q=${pi}`), {}, p.pi);
  await page.waitForFunction((pay) => {
    const rows = document.querySelectorAll('table tbody tr');
    return rows.length === 1 && rows[0].textContent.includes(pay);
  }, {}, p.pay);
  await page.click(`a[href="#/payments/${p.pay}"]`);
  assert.equal(await text(page, '#remaining'), usd(p.amount));
  assert.equal(await text(page, '.refund-form .limit'), usd(LIMIT), 'the support limit shown');
  const before = (await page.$$('#ledger-rows tbody tr')).length;
  assert.equal(before, await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payment_id = ${esc(p.pay)}`));

  await fill(page, 'Amount (USD)', '5.00');
  await fill(page, 'Reason', 'damaged in transit');
  const sent = page.waitForRequest((r) => r.url().endsWith(`/admin/api/v1/payments/${p.pay}/refunds`) &&
    r.method() === 'POST');
  await (await button(page, 'Refund')).click();
  const request = await sent;
  const h = Object.fromEntries(Object.entries(request.headers()).map(([k, v]) => [k.toLowerCase(), v]));
  assert.match(h['idempotency-key'] ?? '', /^[0-9a-f-]{36}$/);
  await page.waitForFunction(() => [...document.querySelectorAll('.notice')]
    .some((n) => n.textContent.includes('Refund rfd_')));
  assert.equal(await text(page, '#remaining'), usd(p.amount - 500));
  assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p.pay)}`), 1, 'one refund');
  await until(async () => (await sqlNum(stack, `SELECT COUNT(*) FROM refunds WHERE payment_id = ${esc(p.pay)} ` +
    'AND booked = 1')) === 1, 'the refund booked');
  await page.reload();
  await page.waitForSelector('#ledger-rows tbody tr');
  const after = (await page.$$('#ledger-rows tbody tr')).length;
  assert.ok(after > before, `refund rows in the ledger: ${before} -> ${after}`);
  assert.equal(after, await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payment_id = ${esc(p.pay)}`));
  assert.equal(await text(page, '#remaining'), usd(p.amount - 500), 'after a reload');
  await shot(page, 'firefox-payment.png');
  await cspSeen(page);
});

test('Firefox: paging through 60 payments, 25 a page; log out', async () => {
  const payee = await makeAccount(stack, 'talent');
  const ids = await seed(stack, payee.id, 60);
  const page = await open();
  await login(page, 'viewer1');
  await page.goto(`${stack.url}/admin/#/payments?payee=${payee.id}`);
  const seen = [];
  for (const want of [25, 25, 10]) {
    await page.waitForFunction((n, prev) => {
      const links = [...document.querySelectorAll('tbody tr td:first-child a')];
      return links.length === n && !prev.includes(links[0].textContent);
    }, {}, want, seen);
    seen.push(...await texts(page, 'tbody tr td:first-child a'));
    const next = await page.$('a[rel="next"]');
    if (seen.length < 60) await next.click();
    else assert.equal(next, null, 'no page after the third');
  }
  assert.equal(new Set(seen).size, 60, 'each payment once');
  assert.deepEqual([...seen].sort(), [...ids].sort());
  assert.deepEqual(seen, [...seen].sort().reverse(), 'newest first');
  await cspSeen(page);

  /* log out: the session ends at the server, the panel asks to log in */
  await (await button(page, 'Log out')).click();
  await heading(page, 'Log in to Tally');
  const me = await page.evaluate(async () => (await fetch('/admin/api/v1/me')).status);
  assert.equal(me, 401, 'the session is over');
  await page.goto(`${stack.url}/admin/#/payments`);
  await heading(page, 'Log in to Tally');
  await cspSeen(page);
});

test('Firefox: no CSP violation and no page error on any page', async () => {
  const seen = [...violations];
  const errors = [...pageErrors];
  /* the page's watch works in Firefox: an inline style set on purpose
     is reported (Firefox also logs it as a page error: not counted) */
  const probe = await open();
  await probe.goto(`${stack.url}/admin/#/login`);
  await heading(probe, 'Log in to Tally');
  await probe.evaluate(() => document.body.setAttribute('style', 'color: red'));
  await probe.waitForFunction(() => window.__csp.length > 0);
  assert.match((await probe.evaluate(() => window.__csp))[0], /^style-src/);
  assert.deepEqual(seen, []);
  assert.deepEqual(errors, []);
});
