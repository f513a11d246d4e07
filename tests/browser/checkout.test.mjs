/*
 * checkout.test.mjs - the checkout page (web/checkout/) in Chromium
 *
 * A real stack (MariaDB, tallyd, nginx serving web/, the Stripe emulator
 * wired both ways), Debian's chromium driven by playwright-core, and a
 * buyer clicking through the page:
 *   - Visa end to end: receipt, one payment with shares summing to its
 *     amount, completed by the page ('client'), no console error;
 *   - declined cards show Stripe's message, book nothing, and Visa then
 *     pays the same checkout;
 *   - 3-D Secure: the bank's page in a popup, completed in the browser;
 *     and with popups blocked, the whole page goes to the bank and back
 *     (a failed challenge first, then a completed one);
 *   - a payment still processing: the page asks Tally again until the
 *     payment has succeeded;
 *   - the page loses its completion call after paying: the webhook
 *     completes the payment ('webhook');
 *   - no token, and an expired token: a clear message;
 *   - the buyer's session (issue 14): the token comes in the URL's
 *     fragment (never sent, never logged) or by postMessage from the
 *     shop's origin ([tally] shop_origin), never from ?token=; the page
 *     says who is signed in and asks before another buyer's token
 *     replaces the session; no CSP violation (no inline style either).
 *
 * The page runs under nginx's Content-Security-Policy (no inline script).
 * nginx/tally-security-headers.conf's connect-src names only
 * https://api.stripe.com; ./dev (render_nginx) and the stack harness add
 * the emulator's address to their rendered copies, which
 * emulatorAllowed() checks.
 *
 * Screenshots go to the stack's dir (kept with TALLY_KEEP_STACK=1 or
 * when a test fails).
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { bearer, randomString, req, sleep, startStack, waitFor } from '../system/lib/stack.mjs';

const CHROMIUM = process.env.TALLY_CHROMIUM || '/usr/bin/chromium';
/* headless, and quiet: nothing but the test's own traffic */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT = 15000;
/* the shop's origin ([tally] shop_origin): it may hand a token over by postMessage */
const SHOP = 'https://shop.test';

let stack;
let context;
let talent;
const products = {};
/* every console error and page error of every page: {url, text} */
const consoleErrors = [];

/* --- helpers ------------------------------------------------------------------------ */

async function server(method, p, json) {
  const res = await req(stack, method, p, { headers: bearer(await stack.apiKey()), json });
  assert.ok(res.status < 300, `${method} ${p}: ${res.status} ${res.body}`);
  return res.json;
}

function esc(id) {
  assert.match(String(id), /^[A-Za-z0-9_]+$/, `not an id: ${id}`);
  return `'${id}'`;
}

/* usd / jpy - the expected text of an amount (en-US), computed apart from the page */
function usd(cents) {
  const whole = Math.trunc(cents / 100).toLocaleString('en-US');
  return `$${whole}.${String(cents % 100).padStart(2, '0')}`;
}
function jpy(yen) {
  return `¥${yen.toLocaleString('en-US')}`;
}

/* emulatorAllowed - the pages may call the emulator (connect-src) */
async function emulatorAllowed() {
  const res = await req(stack, 'GET', '/checkout/');
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.ok(csp.includes(`connect-src 'self' https://api.stripe.com ${stack.stripeUrl}`),
    `connect-src does not name the emulator: ${csp}`);
}

/* watch - record the console errors and uncaught errors of 'page' */
function watch(page) {
  page.on('console', (m) => {
    /* location: the failed resource's address for "Failed to load resource" */
    if (m.type() === 'error') consoleErrors.push({ url: page.url(), text: m.text(), at: m.location()?.url });
  });
  page.on('pageerror', (e) => consoleErrors.push({ url: page.url(), text: `uncaught: ${e.message}` }));
}

/*
 * errorsSince - the console errors from index 'from' on, less those the
 * test expects ('allowed': regexps, e.g. the 402 of a declined card,
 * which Chromium logs as a failed resource)
 */
function errorsSince(from, allowed = []) {
  const ok = (e, a) => (a instanceof RegExp ? a.test(e.text) : a(e));
  return consoleErrors.slice(from).filter((e) => !allowed.some((a) => ok(e, a)));
}

/* openCheckout - a fresh buyer's checkout page, products shown */
async function openCheckout() {
  const sub = `buyer-${randomString(8)}`;
  const token = await stack.buyerJwt(sub, { email: `${sub}@example.test` });
  const page = await context.newPage();
  /* in the fragment: never sent to a server, so never in a log */
  await page.goto(`${stack.url}/checkout/#token=${encodeURIComponent(token)}`);
  await page.locator('#step-product').waitFor({ state: 'visible', timeout: WAIT });
  return { page, token, sub };
}

/* order - choose 'product' and 'quantity', continue: the checkout's JSON */
async function order(page, product, quantity = 1) {
  await page.getByRole('radio', { name: product.name }).check();
  await page.getByLabel('Quantity').fill(String(quantity));
  const answer = page.waitForResponse((r) => r.url() === `${stack.url}/api/v1/checkout` &&
    r.request().method() === 'POST', { timeout: WAIT });
  await page.getByRole('button', { name: 'Continue to payment' }).click();
  const res = await answer;
  assert.equal(res.status(), 200, `POST /api/v1/checkout: ${await res.text()}`);
  await page.locator('#step-pay').waitFor({ state: 'visible', timeout: WAIT });
  return { checkout: await res.json(), request: res.request() };
}

/* payWith - choose a test card and press Pay */
async function payWith(page, pm) {
  await page.getByLabel('Test card').selectOption(pm);
  await page.locator('#pay').click();
}

async function paymentsOf(checkoutId) {
  return stack.sql('SELECT id, amount_cent, currency, status, completed_via FROM payments ' +
    `WHERE checkout_id = ${esc(checkoutId)}`);
}

async function sharesOf(paymentId) {
  return (await stack.sql(`SELECT role, kind, amount_cent FROM shares WHERE payment_id = ${esc(paymentId)} ORDER BY id`))
    .map(([role, kind, amount]) => ({ role, kind, amount: Number(amount) }));
}

async function checkoutStatus(checkoutId) {
  const rows = await stack.sql(`SELECT status FROM checkouts WHERE id = ${esc(checkoutId)}`);
  return rows[0]?.[0] ?? null;
}

async function flush() {
  const r = await stack.emu('POST', '/__emu/webhooks/flush', { timeout_ms: 10000 });
  assert.equal(r.flushed, true, `webhook flush: ${JSON.stringify(r)}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(stack.dir, name), fullPage: true });
}

/* --- the stack, the catalog, the browser ------------------------------------------------ */

before(async () => {
  stack = await startStack({
    name: 'browser',
    stripe: true,
    conf: {
      'job.webhooks': { interval: 1 },
      'currency.usd': {},
      'currency.jpy': {},
      tally: { shop_origin: SHOP },
    },
  });
  talent = await server('POST', '/api/v1/accounts', {
    kind: 'talent', email: 'mira@example.test', display_name: 'Mira Quell',
  });
  const mk = (body) => server('POST', '/api/v1/products', { seller_account_id: talent.id, ...body });
  products.poster = await mk({ name: 'Signed tour poster', price_cent: 2500, currency: 'usd', stock: 10 });
  products.ticket = await mk({ name: 'Backstage pass', price_cent: 12000, currency: 'usd' });
  products.vinyl = await mk({ name: 'Limited vinyl', price_cent: 4999, currency: 'usd', stock: 5 });
  products.sticker = await mk({ name: 'Sticker sheet (Tokyo)', price_cent: 1500, currency: 'jpy', stock: 20 });

  await emulatorAllowed();

  fs.accessSync(CHROMIUM, fs.constants.X_OK);
  const userDataDir = fs.mkdtempSync(path.join(stack.dir, 'chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: FLAGS,
    locale: 'en-US', viewport: { width: 820, height: 900 }, timeout: 30000,
  });
  context.setDefaultTimeout(WAIT);
  context.on('page', watch);
  for (const p of context.pages()) watch(p);
});

afterEach((t) => stack?.noteTest(t));

after(async () => {
  await context?.close().catch(() => {});
  await stack?.stop();
});

/* --- the tests ------------------------------------------------------------------------- */

test('the page is served under the CSP without inline script, and never sees a secret', async () => {
  const res = await req(stack, 'GET', '/checkout/');
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
  assert.equal(scriptSrc.trim(), "'self' https://js.stripe.com", `script-src: ${csp}`);
  assert.doesNotMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>/i, 'an inline <script> in index.html');
  assert.doesNotMatch(res.body, /\son[a-z]+\s*=/i, 'an inline event handler in index.html');
  const cfg = await req(stack, 'GET', '/api/v1/checkout/config');
  assert.equal(cfg.status, 200);
  assert.equal(cfg.json.publishable_key, stack.stripePk);
  assert.equal(cfg.json.stripe_js, false);
  assert.equal(cfg.json.api_base, stack.stripeUrl);
  assert.ok(!cfg.body.includes(stack.stripeKey), 'the config holds the secret key');
});

test('buy with the Visa test card: receipt, one payment, shares sum to the amount', async () => {
  const errs = consoleErrors.length;
  /* webhooks held back: the page itself must complete the payment */
  await stack.emu('POST', '/__emu/webhooks/pause');
  const { page, token } = await openCheckout();
  try {
    /* the token left the address bar and lives in sessionStorage */
    assert.ok(!page.url().includes('token='), `token still in the URL: ${page.url()}`);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tally.buyer_token')), token);

    /* the catalog, with prices formatted per currency and whether one
       is available (buyers never see the exact stock) */
    const poster = page.locator('label.product', { hasText: products.poster.name });
    await assert.doesNotReject(poster.waitFor());
    assert.equal(await poster.locator('.product-price').textContent(), usd(2500));
    assert.equal(await poster.locator('.product-stock').textContent(), 'In stock');
    const sticker = page.locator('label.product', { hasText: products.sticker.name });
    assert.equal(await sticker.locator('.product-price').textContent(), jpy(1500));
    const ticket = page.locator('label.product', { hasText: products.ticket.name });
    assert.equal(await ticket.locator('.product-stock').textContent(), 'In stock');
    await shot(page, 'checkout-1-products.png');

    /* the stripe calls carry the publishable key only */
    const stripeBodies = [];
    page.on('request', (r) => {
      if (r.url().startsWith(stack.stripeUrl)) stripeBodies.push(`${r.method()} ${r.url()} ${r.postData() ?? ''}`);
    });

    const { checkout, request } = await order(page, products.poster, 2);
    const h = request.headers();
    assert.equal(h.authorization, `Bearer ${token}`);
    assert.match(h['idempotency-key'] ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(JSON.parse(request.postData()), { product_id: products.poster.id, quantity: 2 });
    assert.equal(checkout.subtotal_cent, 5000);
    assert.equal(await page.locator('#sum-total').textContent(), usd(checkout.amount_cent));
    assert.equal(await page.locator('#pay').textContent(), `Pay ${usd(checkout.amount_cent)}`);
    await shot(page, 'checkout-2-pay.png');

    await payWith(page, 'pm_card_visa');
    await page.locator('#step-receipt').waitFor({ state: 'visible' });
    await shot(page, 'checkout-3-receipt.png');

    /* the booked payment, as the database has it */
    const pays = await paymentsOf(checkout.id);
    assert.equal(pays.length, 1, `payments of ${checkout.id}: ${JSON.stringify(pays)}`);
    const [payId, amount, currency, status, via] = pays[0];
    assert.equal(Number(amount), checkout.amount_cent);
    assert.equal(currency, 'usd');
    assert.equal(status, 'succeeded');
    assert.equal(via, 'client', 'the page completed the payment');
    const shares = await sharesOf(payId);
    assert.ok(shares.length >= 3, `shares: ${JSON.stringify(shares)}`);
    assert.equal(shares.reduce((s, x) => s + x.amount, 0), checkout.amount_cent, 'shares sum to the amount');
    assert.equal(await checkoutStatus(checkout.id), 'completed');

    /* the receipt shows that payment, not how it is split (the
       marketplace's business: the buyer's answer has no shares) */
    assert.equal(await page.locator('#rcpt-id').textContent(), payId);
    assert.equal(await page.locator('#rcpt-amount').textContent(), usd(checkout.amount_cent));
    assert.equal(await page.locator('#rcpt-status').textContent(), 'Paid');
    assert.equal(await page.locator('#split-rows tr').count(), 0, 'no split on the receipt');

    /* card data and keys: the browser spoke to Stripe with the publishable key only */
    assert.ok(stripeBodies.length >= 1, 'no call to the Stripe emulator');
    for (const b of stripeBodies) {
      assert.ok(b.includes(`key=${stack.stripePk}`), b);
      assert.ok(!b.includes(stack.stripeKey), `secret key sent: ${b}`);
    }
    assert.ok(stripeBodies.some((b) => b.includes(`/v1/payment_intents/${checkout.payment_intent_id}/confirm`) &&
      b.includes('payment_method=pm_card_visa')), stripeBodies.join('\n'));
    assert.ok(!(await page.content()).includes(stack.stripeKey));

    /* the late webhook finds the payment booked: still one */
    await stack.emu('POST', '/__emu/webhooks/resume');
    await flush();
    const again = await paymentsOf(checkout.id);
    assert.equal(again.length, 1);
    assert.equal(again[0][0], payId);
    assert.equal(again[0][4], 'client');

    assert.deepEqual(errorsSince(errs), [], 'console errors');
  } finally {
    await stack.emu('POST', '/__emu/webhooks/resume');
    await page.close();
  }
});

test('a declined card shows Stripe\'s message and books nothing; Visa then pays the same checkout', async () => {
  const errs = consoleErrors.length;
  const { page } = await openCheckout();
  try {
    const { checkout } = await order(page, products.vinyl, 1);
    const alert = page.getByRole('alert');

    await payWith(page, 'pm_card_chargeDeclined');
    await alert.waitFor({ state: 'visible' });
    let pi = (await stack.stripe('GET', `/v1/payment_intents/${checkout.payment_intent_id}`)).json;
    assert.equal(pi.status, 'requires_payment_method');
    assert.ok(pi.last_payment_error?.message, JSON.stringify(pi.last_payment_error));
    assert.equal(await alert.textContent(), pi.last_payment_error.message);
    assert.equal(pi.last_payment_error.decline_code, 'generic_decline');
    await shot(page, 'checkout-4-declined.png');

    await payWith(page, 'pm_card_chargeDeclinedInsufficientFunds');
    await waitFor(async () => (await alert.textContent()) !== pi.last_payment_error.message,
      { timeoutMs: WAIT, what: 'the second decline message' });
    pi = (await stack.stripe('GET', `/v1/payment_intents/${checkout.payment_intent_id}`)).json;
    assert.equal(pi.last_payment_error.decline_code, 'insufficient_funds');
    assert.equal(await alert.textContent(), pi.last_payment_error.message);
    assert.match(await alert.textContent(), /insufficient funds/i);

    /* nothing booked: the failure webhooks are in, no payment */
    await flush();
    assert.deepEqual(await paymentsOf(checkout.id), []);
    const st = await checkoutStatus(checkout.id);
    assert.ok(['open', 'payment_failed'].includes(st), `checkout status after declines: ${st}`);
    assert.ok(await page.locator('#pay').isEnabled(), 'the buyer may try again');

    await payWith(page, 'pm_card_visa');
    await page.locator('#step-receipt').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#rcpt-checkout').textContent(), checkout.id, 'the same checkout');
    const pays = await paymentsOf(checkout.id);
    assert.equal(pays.length, 1);
    assert.equal(await page.locator('#rcpt-id').textContent(), pays[0][0]);
    assert.equal(Number(pays[0][1]), checkout.amount_cent);
    /* one PaymentIntent for the checkout, paid on the third try */
    const pis = (await stack.emu('GET', '/__emu/objects/payment_intents')).data
      .filter((p) => p.metadata?.checkout_id === checkout.id);
    assert.equal(pis.length, 1);
    assert.equal(pis[0].status, 'succeeded');
    assert.equal(await alert.isVisible(), false, 'the decline message is gone after success');

    /* Chromium logs each 402 as a failed resource; nothing else */
    assert.deepEqual(errorsSince(errs, [/status of 402/]), [], 'console errors');
    assert.equal(errorsSince(errs).length, 2, 'one failed resource per decline');
  } finally {
    await page.close();
  }
});

test('3-D Secure: the challenge is completed in the browser and the payment completes', async () => {
  const errs = consoleErrors.length;
  const { page } = await openCheckout();
  try {
    const { checkout } = await order(page, products.sticker, 1);
    assert.equal(checkout.currency, 'jpy');
    assert.equal(await page.locator('#sum-total').textContent(), jpy(checkout.amount_cent));

    const popupP = page.waitForEvent('popup', { timeout: WAIT });
    await payWith(page, 'pm_card_authenticationRequired');
    const popup = await popupP;
    await popup.waitForLoadState();
    assert.ok(popup.url().startsWith(`${stack.stripeUrl}/__emu/3ds/${checkout.payment_intent_id}`), popup.url());
    await assert.doesNotReject(page.getByText(/window that opened/).waitFor());
    const closed = popup.waitForEvent('close', { timeout: WAIT });
    await popup.locator('#complete').click();
    /* back on our page, the popup says so and closes itself */
    await closed;

    await page.locator('#step-receipt').waitFor({ state: 'visible' });
    const pays = await paymentsOf(checkout.id);
    assert.equal(pays.length, 1);
    assert.equal(await page.locator('#rcpt-id').textContent(), pays[0][0]);
    assert.equal(pays[0][2], 'jpy');
    assert.equal(await page.locator('#rcpt-amount').textContent(), jpy(checkout.amount_cent));
    const shares = await sharesOf(pays[0][0]);
    assert.equal(shares.reduce((s, x) => s + x.amount, 0), checkout.amount_cent);
    const pi = (await stack.stripe('GET', `/v1/payment_intents/${checkout.payment_intent_id}`)).json;
    assert.equal(pi.status, 'succeeded');
    await shot(page, 'checkout-5-3ds-receipt.png');
    /* the emulator's 3-D Secure page has no favicon: Chromium logs its 404 */
    const favicon = (e) => e.url.startsWith(`${stack.stripeUrl}/__emu/3ds/`) && /status of 404/.test(e.text) &&
      e.at === `${stack.stripeUrl}/favicon.ico`;
    assert.deepEqual(errorsSince(errs, [favicon]), [], 'console errors');
  } finally {
    await page.close();
  }
});

test('3-D Secure with popups blocked: the page goes to the bank and back; a failed challenge may be retried', async () => {
  const errs = consoleErrors.length;
  const sub = `buyer-${randomString(8)}`;
  const token = await stack.buyerJwt(sub);
  const page = await context.newPage();
  try {
    /* a popup blocker: window.open gives nothing */
    await page.addInitScript(() => { window.open = () => null; });
    await page.goto(`${stack.url}/checkout/#token=${encodeURIComponent(token)}`);
    await page.locator('#step-product').waitFor({ state: 'visible' });
    const { checkout } = await order(page, products.vinyl, 2);
    const bank = `${stack.stripeUrl}/__emu/3ds/${checkout.payment_intent_id}`;
    const back = (u) => u.origin === stack.url && u.pathname === '/checkout/';

    await payWith(page, 'pm_card_authenticationRequired');
    await page.waitForURL((u) => u.href.startsWith(bank));
    await page.locator('#fail').click();
    await page.waitForURL(back);
    await page.getByRole('alert').waitFor({ state: 'visible' });
    assert.match(await page.getByRole('alert').textContent(), /not authenticated/);
    assert.equal(await page.locator('#step-pay').isVisible(), true);
    assert.equal(await page.locator('#sum-total').textContent(), usd(checkout.amount_cent));
    assert.ok(!page.url().includes('secret'), `the client secret stayed in the URL: ${page.url()}`);
    assert.deepEqual(await paymentsOf(checkout.id), []);

    await payWith(page, 'pm_card_authenticationRequired');
    await page.waitForURL((u) => u.href.startsWith(bank));
    await page.locator('#complete').click();
    await page.waitForURL(back);
    await page.locator('#step-receipt').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#rcpt-checkout').textContent(), checkout.id);
    const pays = await paymentsOf(checkout.id);
    assert.equal(pays.length, 1);
    assert.equal(await page.locator('#rcpt-id').textContent(), pays[0][0]);
    assert.equal(page.url(), `${stack.url}/checkout/`);
    const favicon = (e) => e.url.startsWith(bank) && /status of 404/.test(e.text) &&
      e.at === `${stack.stripeUrl}/favicon.ico`;
    assert.deepEqual(errorsSince(errs, [favicon]), [], 'console errors');
  } finally {
    await page.close();
  }
});

test('a payment still processing: the page asks Tally again until it has succeeded', async () => {
  const errs = consoleErrors.length;
  const { page } = await openCheckout();
  try {
    let refusals = 0;
    page.on('response', (r) => {
      if (r.url() === `${stack.url}/api/v1/payments/complete` && r.status() === 409) refusals += 1;
    });
    const { checkout } = await order(page, products.poster, 1);
    await payWith(page, 'pm_card_processing');
    await page.getByText('still processing').waitFor();
    await waitFor(() => refusals >= 1, { timeoutMs: WAIT, what: 'a 409 payment_not_succeeded' });
    assert.deepEqual(await paymentsOf(checkout.id), []);
    await stack.emu('POST', `/__emu/payment_intents/${checkout.payment_intent_id}/settle`, {});
    await page.locator('#step-receipt').waitFor({ state: 'visible', timeout: 20000 });
    const pays = await paymentsOf(checkout.id);
    assert.equal(pays.length, 1);
    assert.equal(await page.locator('#rcpt-id').textContent(), pays[0][0]);
    assert.deepEqual(errorsSince(errs, [/status of 409/]), [], 'console errors');
  } finally {
    await page.close();
  }
});

test('the page is closed after paying, before completing: the webhook completes the payment', async () => {
  const errs = consoleErrors.length;
  await stack.emu('POST', '/__emu/webhooks/pause');
  const { page } = await openCheckout();
  let aborted = 0;
  try {
    await page.route(`${stack.url}/api/v1/payments/complete`, (route) => {
      aborted += 1;
      return route.abort('failed');
    });
    const { checkout } = await order(page, products.ticket, 1);
    await payWith(page, 'pm_card_visa');
    /* the page could not reach Tally: it says the payment was received */
    await page.locator('#step-pending').waitFor({ state: 'visible', timeout: WAIT });
    assert.ok(aborted >= 1);
    await shot(page, 'checkout-6-pending.png');
    const pi = (await stack.stripe('GET', `/v1/payment_intents/${checkout.payment_intent_id}`)).json;
    assert.equal(pi.status, 'succeeded');
    await page.close();

    /* nothing booked yet: neither the page nor Stripe told Tally */
    assert.deepEqual(await paymentsOf(checkout.id), []);
    assert.notEqual(await checkoutStatus(checkout.id), 'completed');

    await stack.emu('POST', '/__emu/webhooks/resume');
    await waitFor(async () => (await checkoutStatus(checkout.id)) === 'completed',
      { timeoutMs: 20000, interval: 200, what: 'the webhook to complete the checkout' });
    const pays = await paymentsOf(checkout.id);
    assert.equal(pays.length, 1);
    assert.equal(pays[0][4], 'webhook');
    assert.equal(Number(pays[0][1]), checkout.amount_cent);
    const shares = await sharesOf(pays[0][0]);
    assert.equal(shares.reduce((s, x) => s + x.amount, 0), checkout.amount_cent);
    /* the aborted calls are the only console errors */
    assert.deepEqual(errorsSince(errs, [/net::ERR_FAILED/]), [], 'console errors');
  } finally {
    await stack.emu('POST', '/__emu/webhooks/resume');
    if (!page.isClosed()) await page.close();
  }
});

test('without a token, or with an expired one, the page says to sign in at the shop', async () => {
  const errs = consoleErrors.length;
  const page = await context.newPage();
  try {
    await page.goto(`${stack.url}/checkout/`);
    await page.locator('#step-signin').waitFor({ state: 'visible' });
    assert.match(await page.locator('#step-signin').textContent(), /sign in/i);
    await shot(page, 'checkout-7-signin.png');
    assert.equal(await page.locator('#step-product').isVisible(), false);

    const expired = await stack.buyerJwt(`buyer-${randomString(8)}`, { ttl: -120 }).catch(() => null) ??
      stack.signJwt({ alg: 'HS256', typ: 'JWT' }, {
        iss: 'https://auth.test', aud: 'tally', sub: 'late-buyer',
        iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600,
      });
    await page.goto(`${stack.url}/checkout/?expired=1#token=${encodeURIComponent(expired)}`);
    await page.locator('#step-signin').waitFor({ state: 'visible' });
    assert.match(await page.locator('#signin-text').textContent(), /expired/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tally.buyer_token')), null,
      'the refused token is forgotten');
    assert.deepEqual(errorsSince(errs, [/status of 401/]), [], 'console errors');
  } finally {
    await page.close();
  }
});

/* --- the buyer's session (issue 14, door 2) ------------------------------------------ */


/* buyer - a token of a fresh buyer with an email: {sub, email, token} */
async function buyer() {
  const sub = `buyer-${randomString(8)}`;
  const email = `${sub}@example.test`;
  return { sub, email, token: await stack.buyerJwt(sub, { email }) };
}

const stored = (page) => page.evaluate(() => sessionStorage.getItem('tally.buyer_token'));

test('a ?token= link is never used nor logged: the page asks to sign in at the shop', async () => {
  const b = await buyer();
  const page = await context.newPage();
  try {
    await page.goto(`${stack.url}/checkout/?token=${encodeURIComponent(b.token)}`);
    await page.locator('#step-signin').waitFor({ state: 'visible', timeout: WAIT });
    assert.ok(!page.url().includes('token='), `the token left the address bar: ${page.url()}`);
    assert.equal(await stored(page), null, 'a token from the query is not kept');
    assert.match(await page.locator('#signin-text').textContent(), /address/, 'the page says why');
    const log = fs.readFileSync(path.join(stack.dir, 'log', 'nginx-access.log'), 'utf8');
    assert.ok(!log.includes(b.token.split('.')[2]), 'the token is not in nginx\'s access log');
    const fresh = await openCheckout();
    await fresh.page.close();
    const log2 = fs.readFileSync(path.join(stack.dir, 'log', 'nginx-access.log'), 'utf8');
    assert.ok(!log2.includes(fresh.token.split('.')[2]), 'a fragment token never reaches nginx');
  } finally {
    await page.close();
  }
});

test('the page says who is signed in', async () => {
  const { page, sub } = await openCheckout();
  try {
    await page.locator('#signed-in').waitFor({ state: 'visible' });
    assert.match(await page.locator('#signed-in').textContent(), new RegExp(`${sub}@example\\.test`));
    assert.ok(!page.url().includes('#'), `the fragment left the address bar: ${page.url()}`);
  } finally {
    await page.close();
  }
});

test('a link with another buyer\'s token does not replace the session silently', async () => {
  const errs = consoleErrors.length;
  const { page, token: tokA, sub: subA } = await openCheckout();
  const b = await buyer();
  try {
    await page.goto(`${stack.url}/checkout/?again=1#token=${encodeURIComponent(b.token)}`);
    await page.locator('#step-switch').waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await stored(page), tokA, 'the session is still the first buyer\'s');
    const text = await page.locator('#switch-text').textContent();
    assert.ok(text.includes(`${subA}@example.test`) && text.includes(b.email), text);
    await shot(page, 'checkout-8-switch.png');
    await page.getByRole('button', { name: /^Stay signed in/ }).click();
    await page.locator('#step-product').waitFor({ state: 'visible' });
    assert.equal(await stored(page), tokA, 'stayed');
    assert.match(await page.locator('#signed-in').textContent(), new RegExp(subA));

    /* a hash change in the open page is the same question */
    await page.evaluate((t) => { location.hash = `token=${encodeURIComponent(t)}`; }, b.token);
    await page.locator('#step-switch').waitFor({ state: 'visible', timeout: WAIT });
    await page.getByRole('button', { name: /^Sign in as/ }).click();
    await page.locator('#step-product').waitFor({ state: 'visible' });
    assert.equal(await stored(page), b.token, 'switched, because the buyer said so');
    assert.match(await page.locator('#signed-in').textContent(), new RegExp(b.sub));

    /* the same buyer's fresh token replaces the old one without a question */
    const again = await stack.buyerJwt(b.sub, { email: b.email, ttl: 900 });
    await page.goto(`${stack.url}/checkout/?same=1#token=${encodeURIComponent(again)}`);
    await page.locator('#step-product').waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await stored(page), again, 'a refreshed token of the same buyer');
    assert.deepEqual(errorsSince(errs), [], 'console errors');
  } finally {
    await page.close();
  }
});

/* shopPage - a page of 'origin' that opens the checkout and answers its
   'tally:ready' with 'token' */
async function shopOpens(origin, token) {
  await context.route(`${origin}/**`, (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><title>shop</title><script>
      const w = window.open(${JSON.stringify(`${stack.url}/checkout/`)}, 'tally-checkout');
      addEventListener('message', (e) => {
        if (e.source === w && e.data && e.data.type === 'tally:ready')
          w.postMessage({ type: 'tally:token', token: ${JSON.stringify(token)} }, ${JSON.stringify(stack.url)});
      });
    </script>`,
  }));
  const page = await context.newPage();
  const popup = context.waitForEvent('page', { timeout: WAIT });
  await page.goto(`${origin}/buy`);
  return { page, popup: await popup };
}

test('the shop hands the token over by postMessage; another origin cannot', async () => {
  const b = await buyer();
  const { page, popup } = await shopOpens(SHOP, b.token);
  try {
    await popup.locator('#step-product').waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await stored(popup), b.token, 'the token from the shop');
    assert.match(await popup.locator('#signed-in').textContent(), new RegExp(b.sub));
  } finally {
    await popup.close();
    await page.close();
  }
  const evil = await buyer();
  const other = await shopOpens('https://evil.test', evil.token);
  try {
    await other.popup.locator('#step-signin').waitFor({ state: 'visible', timeout: WAIT });
    await sleep(1000);
    assert.equal(await stored(other.popup), null, 'a token from another origin is ignored');
    assert.equal(await other.popup.locator('#step-signin').isVisible(), true, 'still asks to sign in');
  } finally {
    await other.popup.close();
    await other.page.close();
  }
});

test('no Content-Security-Policy violation on the way to paying (no inline style)', async () => {
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation',
      (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  try {
    const b = await buyer();
    await page.goto(`${stack.url}/checkout/#token=${encodeURIComponent(b.token)}`);
    await page.locator('#step-product').waitFor({ state: 'visible', timeout: WAIT });
    await order(page, products.ticket, 1);
    assert.deepEqual(await page.evaluate(() => window.cspViolations), [], 'CSP violations');
    const csp = (await req(stack, 'GET', '/checkout/')).headers.get('content-security-policy') ?? '';
    assert.doesNotMatch(csp, /unsafe-inline/, csp);
  } finally {
    await page.close();
  }
});
