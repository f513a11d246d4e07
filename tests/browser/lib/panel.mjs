/*
 * panel.mjs - what the admin panel's browser tests share (admin.test.mjs
 * in Chromium through playwright-core, admin_firefox.test.mjs in Firefox
 * through puppeteer-core; both drivers' pages have on('console') and
 * on('pageerror')): the watch on CSP violations and page errors, the
 * text of an amount computed apart from the page, a completed purchase,
 * and payments seeded by SQL.
 */
import assert from 'node:assert/strict';

import {
  complete, flush, newBuyer, okCheckout, paid, richProduct,
} from '../../system/lib/checkout_helpers.mjs';
import { seedPayments } from '../../system/lib/seed.mjs';
import { randomString } from '../../system/lib/stack.mjs';

/* usd - the expected text of an amount (en-US), computed apart from the page */
export function usd(cents) {
  const neg = cents < 0;
  const c = Math.abs(cents);
  return `${neg ? '-' : ''}$${Math.trunc(c / 100).toLocaleString('en-US')}.${String(c % 100).padStart(2, '0')}`;
}

/* buy - a completed purchase (as the system tests make one) */
export async function buy(stack) {
  const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack, { email: `b-${randomString(6).toLowerCase()}@example.test` });
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);
  return { pay: r.json.id, amount: r.json.amount_cent, pi: c.payment_intent_id };
}

/* seed - 'n' payments of payee 'acc' by SQL (amounts 1000, 1001, …; a second apart) */
export function seed(stack, acc, n, ageDays = 0, cur = 'usd') {
  return seedPayments(stack, Array.from({ length: n }, (_, k) => ({ acc, amount: 1000 + k, ageDays, seconds: k, cur })));
}

/*
 * cspWatch - an init script (addInitScript, evaluateOnNewDocument): the
 * page records the violations it sees itself in window.__csp
 */
export function cspWatch() {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
  });
}

/* watch - the CSP messages of 'page's console into 'violations', its errors into 'pageErrors' */
export function watch(page, violations, pageErrors) {
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) violations.push({ url: page.url(), text: m.text() });
  });
  page.on('pageerror', (e) => pageErrors.push({ url: page.url(), text: e.message }));
}

/* cspSeen - the violations the page itself reported (cspWatch), into 'violations' */
export async function cspSeen(page, violations) {
  const v = await page.evaluate(() => window.__csp ?? []);
  for (const t of v) violations.push({ url: page.url(), text: t });
}
