/*
 * checkout.js - the Tally checkout page (one ES module, no dependencies)
 *
 * The flow:
 *   1. the buyer's token (a JWT of the shop's auth service), from the
 *      shop in one of two ways, never from the query string (a server
 *      would log it, and a link would carry it around):
 *        - the URL's fragment, /checkout/#token=<JWT>: browsers never
 *          send it, so no server or log sees it;
 *        - postMessage: the page, opened by the shop (window.opener),
 *          says {type: 'tally:ready'} to the shop's origins and takes
 *          {type: 'tally:token', token} from them only ([tally]
 *          shop_origin, in GET /api/v1/checkout/config);
 *      the page keeps it in sessionStorage, removes it from the address
 *      bar, sends it as "Authorization: Bearer" to /api/v1/* and shows
 *      who is signed in (GET /api/v1/me).  A token of another buyer never
 *      replaces the session silently: the page asks (a link someone
 *      else made would otherwise sign the buyer in as them);
 *   2. GET /api/v1/checkout/config (the publishable key, whether to use
 *      Stripe.js or the local Stripe emulator, the shop's origins) and
 *      GET /api/v1/products (active products, price, available or not);
 *   3. POST /api/v1/checkout {product_id, quantity} with an Idempotency-Key:
 *      Tally prices the order (never the page) and creates the PaymentIntent;
 *   4. the browser confirms the PaymentIntent at Stripe with the publishable
 *      key and the PaymentIntent's client_secret (Stripe.js' Payment Element,
 *      or the same HTTP call by hand against the emulator, with its test
 *      cards and its 3-D Secure page);
 *   5. POST /api/v1/payments/complete {checkout_id}: Tally asks Stripe what
 *      was paid and books the payment; the page shows the receipt.
 *
 * If the page is closed between 4 and 5, nothing is lost: Stripe's webhook
 * tells Tally, which completes the payment by itself.
 *
 * Amounts are integers in the currency's minor unit (cents) everywhere;
 * only formatAmount() turns them into text, without floating point.
 */

/* --- small helpers ------------------------------------------------------ */

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const TOKEN_KEY = 'tally.buyer_token';
const PENDING_KEY = 'tally.pending_checkout';
const STRIPE_JS = 'https://js.stripe.com/v3/';
const POPUP_NAME = 'tally-3ds';

/* the page's state: what the steps share */
const state = {
  config: null,      /* GET /api/v1/checkout/config */
  products: [],      /* GET /api/v1/products (data) */
  checkout: null,    /* POST /api/v1/checkout */
  product: null,     /* the product of the checkout */
  stripe: null,      /* Stripe.js: the Stripe object and its Elements */
  elements: null,
  busy: false,
  offered: null,     /* another buyer's token, until the buyer decides */
  ret: null,         /* Stripe's return_url parameters, to resume */
};

/* session storage may be unavailable (privacy modes): degrade to memory */
const memory = new Map();
function store(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    if (value === null) memory.delete(key);
    else memory.set(key, value);
  }
}
function load(key) {
  try {
    return sessionStorage.getItem(key) ?? memory.get(key) ?? null;
  } catch {
    return memory.get(key) ?? null;
  }
}

/* uuid - a random UUID (v4) for an Idempotency-Key */
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/* --- money ---------------------------------------------------------------- */

/* digits after the decimal point per currency (Stripe's table); others: 2 */
const EXPONENT = {
  bif: 0, clp: 0, djf: 0, gnf: 0, jpy: 0, kmf: 0, krw: 0, mga: 0, pyg: 0,
  rwf: 0, ugx: 0, vnd: 0, vuv: 0, xaf: 0, xof: 0, xpf: 0,
  bhd: 3, jod: 3, kwd: 3, omr: 3, tnd: 3,
};

/*
 * formatAmount - 'minor' units of 'currency' as text, e.g. (123456,
 * 'usd') -> "$1,234.56", (1500, 'jpy') -> "¥1,500".  The decimal string
 * is built from the integer's digits; Intl only adds the symbol and the
 * grouping (it formats decimal strings exactly).
 */
export function formatAmount(minor, currency) {
  const cur = String(currency || '').toLowerCase();
  const exp = EXPONENT[cur] ?? 2;
  let digits = BigInt(minor).toString();
  const negative = digits.startsWith('-');
  if (negative) digits = digits.slice(1);
  digits = digits.padStart(exp + 1, '0');
  const whole = digits.slice(0, digits.length - exp);
  const decimal = (negative ? '-' : '') + (exp ? `${whole}.${digits.slice(-exp)}` : whole);
  try {
    return new Intl.NumberFormat(undefined, {
      style: 'currency', currency: cur.toUpperCase(),
      minimumFractionDigits: exp, maximumFractionDigits: exp,
    }).format(decimal);
  } catch {
    return `${decimal} ${cur.toUpperCase()}`;
  }
}

/* --- messages ------------------------------------------------------------- */

function setStatus(text) {
  $('status').textContent = text || '';
}

function showError(text) {
  const box = $('error');
  box.textContent = text;
  box.hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

/* showStep - show one section of the page, hide the others */
function showStep(id) {
  for (const s of ['step-signin', 'step-switch', 'step-product', 'step-pay',
    'step-receipt', 'step-pending', 'step-3ds-done']) {
    $(s).hidden = s !== id;
  }
}

/* busy - disable the page's buttons while a request runs (no double click) */
function setBusy(on, label) {
  state.busy = on;
  for (const b of document.querySelectorAll('button')) b.disabled = on;
  document.querySelector('main').setAttribute('aria-busy', on ? 'true' : 'false');
  if (label !== undefined) setStatus(label);
}

/* --- Tally's API ------------------------------------------------------------ */

/* an error answer of Tally's API ({error: {type, code, message, request_id}}) */
class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message || `The server answered ${status}.`);
    this.status = status;
    this.code = e.code ?? null;
    this.requestId = e.request_id ?? null;
  }
}

/* a request that never reached the server, or whose answer was lost */
class NetworkError extends Error {}

/*
 * api - one call of Tally's API: the parsed JSON answer, or throws
 * ApiError / NetworkError.  The buyer's token goes in the Authorization
 * header; no cookies are sent.
 */
async function api(method, path, { body, idempotencyKey } = {}) {
  const headers = { Accept: 'application/json' };
  const token = load(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'omit', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30000),
    });
  } catch (e) {
    throw new NetworkError(`Could not reach the shop (${e.name === 'TimeoutError' ? 'timed out' : 'network error'}).`);
  }
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/* explain - an error as text for the buyer */
function explain(e) {
  if (e instanceof ApiError) {
    if (e.status === 401) {
      store(TOKEN_KEY, null);
      return 'Your session with the shop has expired. Go back to the shop and open the checkout again.';
    }
    if (e.status === 429) return 'Too many requests; please wait a moment and try again.';
    const ref = e.requestId ? ` (reference ${e.requestId})` : '';
    return `${e.message}${ref}`;
  }
  return e?.message || String(e);
}

/* --- step 0: the token ------------------------------------------------------ */

/*
 * dropQueryToken - a ?token= in the address: out of the address bar, and
 * never used (true when there was one: the page says why it asks to sign
 * in).  nginx logs no query string either.
 */
function dropQueryToken() {
  const url = new URL(location.href);
  if (!url.searchParams.has('token')) return false;
  url.searchParams.delete('token');
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  return true;
}

/* fragmentToken - #token= from the address, which it leaves at once */
function fragmentToken() {
  const frag = new URLSearchParams(location.hash.replace(/^#/, ''));
  const t = frag.get('token');
  if (location.hash) history.replaceState(history.state, '', location.pathname + location.search);
  return t || null;
}

/*
 * claimsOf - the payload of token 't', read only to name its buyer and
 * compare it with the session's (Tally verifies it; the page trusts
 * nothing in it); null when it is no JWT
 */
function claimsOf(t) {
  try {
    const p = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(p), (c) => c.charCodeAt(0)));
    const c = JSON.parse(json);
    return c && typeof c === 'object' ? c : null;
  } catch {
    return null;
  }
}

/* nameOf - how the page names the buyer of claims 'c' */
function nameOf(c) {
  if (!c) return 'someone unknown';
  return String(c.email || c.sub || 'someone unknown');
}

/*
 * offerToken - token 't' arrived (fragment or shop): taken when there is
 * no session or it is the same buyer's (a fresh token), else the buyer is
 * asked (step-switch).  'taken' or 'asked'.
 */
function offerToken(t) {
  const current = load(TOKEN_KEY);
  const a = current ? claimsOf(current) : null;
  const b = claimsOf(t);
  if (!current || current === t || (a && b && a.iss === b.iss && a.sub === b.sub)) {
    store(TOKEN_KEY, t);
    return 'taken';
  }
  state.offered = t;
  $('switch-text').textContent = `You are signed in as ${nameOf(a)}. This link would sign you in ` +
    `as ${nameOf(b)} instead.`;
  $('switch-stay').textContent = `Stay signed in as ${nameOf(a)}`;
  $('switch-take').textContent = `Sign in as ${nameOf(b)}`;
  clearError();
  setStatus('');
  showStep('step-switch');
  return 'asked';
}

/* showSignedIn - who the session is, as Tally knows it (GET /api/v1/me) */
async function showSignedIn() {
  const me = await api('GET', '/api/v1/me');
  $('signed-in-name').textContent = me.email || me.sub || '';
  $('signed-in').hidden = false;
}

/* askShop - the shop that opened this page may hand the token over */
function askShop() {
  if (!window.opener || window.opener === window) return;
  for (const origin of state.config?.shop_origins ?? []) {
    try {
      window.opener.postMessage({ type: 'tally:ready' }, origin);
    } catch { /* the opener is elsewhere: the browser keeps it to itself */ }
  }
}

/* fromShop - a message: a token only from the opener at a shop origin */
function fromShop(ev) {
  const origins = state.config?.shop_origins ?? [];
  if (!origins.includes(ev.origin) || ev.source !== window.opener) return;
  const d = ev.data;
  if (!d || d.type !== 'tally:token' || typeof d.token !== 'string' || d.token.length > 8192) return;
  if (offerToken(d.token) === 'taken') start();
}

/* pageUrl - this page's address without its query: Stripe's return_url */
function pageUrl() {
  return location.origin + location.pathname;
}

/* --- step 1: products ----------------------------------------------------------- */

/* products come as buyers see them: on sale, price, available or not */
function stockText(p) {
  return p.available ? 'In stock' : 'Sold out';
}

/* renderProducts - one radio button per product that is for sale */
function renderProducts() {
  const list = $('products');
  list.replaceChildren();
  const sale = state.products;
  $('no-products').hidden = sale.length > 0;
  $('start').disabled = sale.length === 0;
  let first = true;
  for (const p of sale) {
    const id = `product-${p.id}`;
    const label = document.createElement('label');
    label.className = 'product';
    label.htmlFor = id;
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'product_id';
    input.id = id;
    input.value = p.id;
    input.disabled = !p.available;
    if (first && !input.disabled) {
      input.checked = true;
      first = false;
    }
    const name = document.createElement('span');
    name.className = 'product-name';
    name.textContent = p.name;
    const price = document.createElement('span');
    price.className = 'product-price';
    price.textContent = formatAmount(p.price_cent, p.currency);
    const stock = document.createElement('span');
    stock.className = 'product-stock';
    stock.textContent = stockText(p);
    label.append(input, name, price, stock);
    list.append(label);
  }
}

async function loadProducts() {
  const list = await api('GET', '/api/v1/products?limit=100');
  state.products = list.data ?? [];
  renderProducts();
}

/* startCheckout - step 1's submit: POST /api/v1/checkout */
async function startCheckout(ev) {
  ev.preventDefault();
  if (state.busy) return;
  clearError();
  const chosen = document.querySelector('input[name="product_id"]:checked');
  if (!chosen) {
    showError('Choose a product first.');
    return;
  }
  const product = state.products.find((p) => p.id === chosen.value);
  const qtyText = $('quantity').value.trim();
  const quantity = Number(qtyText);
  if (!/^[0-9]+$/.test(qtyText) || !Number.isSafeInteger(quantity) || quantity < 1) {
    showError('The quantity must be a whole number of at least 1.');
    $('quantity').focus();
    return;
  }
  const body = { product_id: product.id, quantity };
  const slug = $('host-slug').value.trim();
  if (slug) body.host_partner_slug = slug;

  setBusy(true, 'Preparing your order…');
  try {
    /* a new key per click: a retry of this same click is safe, and the
       server returns the open checkout on a double click anyway */
    const checkout = await api('POST', '/api/v1/checkout', { body, idempotencyKey: uuid() });
    setBusy(false, '');
    await showPayment(checkout, product);
  } catch (e) {
    setBusy(false, '');
    showError(explain(e));
  }
}

/* --- step 2: pay ------------------------------------------------------------------- */

/* showPayment - the order summary and the payment form of 'checkout' */
async function showPayment(checkout, product) {
  state.checkout = checkout;
  state.product = product ?? state.products.find((p) => p.id === checkout.product_id) ?? null;
  store(PENDING_KEY, JSON.stringify({ checkout_id: checkout.id, payment_intent_id: checkout.payment_intent_id }));
  const cur = checkout.currency;
  $('sum-product').textContent = state.product?.name ?? checkout.product_id;
  $('sum-quantity').textContent = String(checkout.quantity);
  $('sum-subtotal').textContent = formatAmount(checkout.subtotal_cent, cur);
  $('sum-fee').textContent = formatAmount(checkout.platform_fee_cent, cur);
  $('sum-total').textContent = formatAmount(checkout.amount_cent, cur);
  $('pay').textContent = `Pay ${formatAmount(checkout.amount_cent, cur)}`;
  showStep('step-pay');
  if (!checkout.client_secret || !checkout.payment_intent_id) {
    showError('This order can no longer be paid. Choose the product again.');
    $('pay').disabled = true;
    return;
  }
  if (state.config.stripe_js) {
    $('test-cards').hidden = true;
    $('payment-element').hidden = false;
    await mountPaymentElement(checkout.client_secret);
  } else {
    $('payment-element').hidden = true;
    $('test-cards').hidden = false;
  }
  $('pay').focus();
}

/* --- Stripe.js (a real publishable key) --- */

function loadStripeJs() {
  if (window.Stripe) return Promise.resolve(window.Stripe);
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = STRIPE_JS;
    s.addEventListener('load', () => resolve(window.Stripe));
    s.addEventListener('error', () => reject(new Error('Could not load Stripe.js; check your connection and reload the page.')));
    document.head.append(s);
  });
}

async function mountPaymentElement(clientSecret) {
  const Stripe = await loadStripeJs();
  state.stripe = Stripe(state.config.publishable_key);
  state.elements = state.stripe.elements({ clientSecret });
  const pe = state.elements.create('payment');
  $('payment-element').replaceChildren();
  pe.mount('#payment-element');
}

/* confirmWithStripeJs - Stripe.js confirms, with 3-D Secure in its own frame */
async function confirmWithStripeJs() {
  const { error, paymentIntent } = await state.stripe.confirmPayment({
    elements: state.elements,
    redirect: 'if_required',
    confirmParams: { return_url: pageUrl() },
  });
  return { error, paymentIntent };
}

/* --- the local Stripe emulator: the same calls Stripe.js makes, by hand --- */

/*
 * stripeCall - a publishable-key call of Stripe's API at config.api_base
 * (form-encoded, key and client_secret as parameters, as Stripe.js
 * sends them): {paymentIntent} or {error} (Stripe's error object)
 */
async function stripeCall(method, path, params) {
  const form = new URLSearchParams({
    key: state.config.publishable_key,
    client_secret: state.checkout.client_secret,
    ...params,
  });
  const url = `${state.config.api_base}${path}`;
  let res;
  try {
    res = method === 'GET'
      ? await fetch(`${url}?${form}`, { credentials: 'omit', cache: 'no-store', signal: AbortSignal.timeout(30000) })
      : await fetch(url, { method, body: form, credentials: 'omit', signal: AbortSignal.timeout(30000) });
  } catch {
    return { error: { type: 'api_connection_error', message: 'Could not reach the payment service; try again.' } };
  }
  const json = await res.json().catch(() => null);
  if (!res.ok) return { error: json?.error ?? { message: `The payment service answered ${res.status}.` } };
  return { paymentIntent: json };
}

function piPath(suffix = '') {
  return `/v1/payment_intents/${encodeURIComponent(state.checkout.payment_intent_id)}${suffix}`;
}

async function confirmWithEmulator(paymentMethod) {
  const r = await stripeCall('POST', piPath('/confirm'), {
    payment_method: paymentMethod,
    return_url: pageUrl(),
  });
  if (r.error || r.paymentIntent.status !== 'requires_action') return r;
  return authenticate(r.paymentIntent);
}

/*
 * authenticate - 3-D Secure: the bank's page in a popup; the PaymentIntent
 * is polled until it leaves requires_action (the popup, redirected back
 * to this page, closes itself).  Without a popup (blocked): the whole
 * page goes to the bank and comes back to resumeFromRedirect().
 */
async function authenticate(pi) {
  const url = pi.next_action?.redirect_to_url?.url ??
    pi.next_action?.use_stripe_sdk?.stripe_js ??
    `${state.config.api_base}/__emu/3ds/${encodeURIComponent(pi.id)}`;
  const popup = window.open(url, POPUP_NAME, 'popup,width=500,height=640');
  if (!popup) {
    setStatus('Redirecting to your bank…');
    location.assign(url);
    return new Promise(() => {});  /* the page is leaving */
  }
  setStatus('Confirm the payment with your bank in the window that opened…');
  const deadline = Date.now() + 10 * 60 * 1000;
  let closedAt = 0;
  let last = { paymentIntent: pi };
  while (Date.now() < deadline) {
    await sleep(1000);
    const r = await stripeCall('GET', piPath());
    if (r.error) continue;  /* a lost poll: try again */
    last = r;
    if (r.paymentIntent.status !== 'requires_action') break;
    /* the buyer closed the window without answering: give up soon after */
    if (popup.closed) {
      closedAt = closedAt || Date.now();
      if (Date.now() - closedAt > 3000) break;
    }
  }
  if (!popup.closed) popup.close();
  return last;
}

/* pay - step 2's submit: confirm at Stripe, then complete at Tally */
async function pay(ev) {
  ev.preventDefault();
  if (state.busy) return;
  clearError();
  setBusy(true, 'Processing your payment…');
  let r;
  try {
    r = state.config.stripe_js
      ? await confirmWithStripeJs()
      : await confirmWithEmulator($('card').value);
  } catch (e) {
    r = { error: { message: explain(e) } };
  }
  if (r.error) {
    /* a decline: Stripe's message; the buyer may try another card */
    setBusy(false, '');
    showError(r.error.message || 'The payment failed; try another card.');
    return;
  }
  const pi = r.paymentIntent;
  if (pi.status === 'requires_payment_method') {
    setBusy(false, '');
    showError(pi.last_payment_error?.message || 'The payment failed; try another card.');
    return;
  }
  if (pi.status === 'requires_action') {
    setBusy(false, '');
    showError('The payment was not authenticated with your bank. Try again.');
    return;
  }
  /* succeeded, or processing (complete waits for it) */
  await finish(state.checkout.id);
}

/* --- step 3: complete and the receipt ------------------------------------------------ */

/*
 * complete - POST /api/v1/payments/complete, patiently: while the payment
 * is still processing (409 payment_not_succeeded) it asks again a few
 * times; a lost answer or a busy server is retried (the call is
 * idempotent: Tally books a payment once).  Returns {payment}, or
 * {gaveUp: 'processing' | 'unreachable'} when Tally could not confirm
 * the payment in time.
 */
async function complete(checkoutId) {
  const waits = [1000, 1000, 2000, 2000, 3000, 3000, 5000];
  const retries = [500, 1000, 2000];
  let polls = 0;
  let failures = 0;
  for (;;) {
    try {
      return { payment: await api('POST', '/api/v1/payments/complete', { body: { checkout_id: checkoutId } }) };
    } catch (e) {
      const processing = e instanceof ApiError && e.status === 409 && e.code === 'payment_not_succeeded';
      const transient = e instanceof NetworkError ||
        (e instanceof ApiError && (e.status >= 500 || e.status === 429 || (e.status === 409 && e.code === 'retry')));
      if (processing) {
        if (polls >= waits.length) return { gaveUp: 'processing' };
        setStatus('Your bank is still processing the payment…');
        await sleep(waits[polls++]);
      } else if (transient) {
        if (failures >= retries.length) return { gaveUp: 'unreachable' };
        await sleep(retries[failures++]);
      } else {
        throw e;
      }
    }
  }
}

/* retrievePi - the checkout's PaymentIntent as Stripe has it now, or null */
async function retrievePi() {
  if (!state.checkout?.client_secret) return null;
  if (state.config.stripe_js) {
    if (!state.stripe) return null;
    const { paymentIntent } = await state.stripe.retrievePaymentIntent(state.checkout.client_secret);
    return paymentIntent ?? null;
  }
  return (await stripeCall('GET', piPath())).paymentIntent ?? null;
}

async function finish(checkoutId) {
  setBusy(true, 'Recording your payment…');
  try {
    const r = await complete(checkoutId);
    if (r.gaveUp === 'processing') {
      /* processing that ended in a failure: back to the payment form */
      const pi = await retrievePi().catch(() => null);
      if (pi?.status === 'requires_payment_method') {
        setBusy(false, '');
        showError(pi.last_payment_error?.message || 'The payment failed; try another card.');
        return;
      }
    }
    setBusy(false, '');
    store(PENDING_KEY, null);
    if (r.payment) {
      showReceipt(r.payment);
      return;
    }
    $('pending-text').textContent = r.gaveUp === 'processing'
      ? 'Your bank is still processing the payment. There is nothing more to do: the shop records ' +
        'the order as soon as the bank confirms it, and you will not be charged twice.'
      : 'Your bank accepted the payment. The shop is still recording it: there is nothing more to do, ' +
        'and you will not be charged twice. The order appears in your account in a moment.';
    showStep('step-pending');
    $('step-pending').focus();
  } catch (e) {
    setBusy(false, '');
    showError(explain(e));
  }
}

const STATUS_LABEL = {
  succeeded: 'Paid',
  refund_pending: 'Sold out: your payment is being refunded',
};

function showReceipt(p) {
  $('rcpt-amount').textContent = formatAmount(p.amount_cent, p.currency);
  $('rcpt-status').textContent = STATUS_LABEL[p.status] ?? p.status;
  $('rcpt-status').dataset.status = p.status;
  $('rcpt-id').textContent = p.id;
  $('rcpt-checkout').textContent = p.checkout_id ?? '';
  showStep('step-receipt');
  setStatus('Payment complete.');
  $('step-receipt').focus();
}

/* --- coming back from the bank (3-D Secure by redirect) ------------------------------ */

/*
 * returnParams - Stripe's return_url parameters, or null: payment_intent,
 * payment_intent_client_secret, redirect_status.  They are removed from
 * the address bar (the client secret has no business in the history).
 */
function returnParams() {
  const url = new URL(location.href);
  const pi = url.searchParams.get('payment_intent');
  if (!pi) return null;
  const status = url.searchParams.get('redirect_status');
  for (const k of ['payment_intent', 'payment_intent_client_secret', 'redirect_status']) {
    url.searchParams.delete(k);
  }
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  return { pi, status };
}

/* openedByCheckout - this window is the 3-D Secure popup of this page */
function openedByCheckout() {
  try {
    return window.name === POPUP_NAME && !!window.opener && window.opener !== window &&
      window.opener.location.origin === location.origin;
  } catch {
    return false;  /* the opener is another site */
  }
}

/* resumeFromRedirect - the whole page went to the bank and is back */
async function resumeFromRedirect(ret) {
  let pending = null;
  try {
    pending = JSON.parse(load(PENDING_KEY) || 'null');
  } catch { /* ignore */ }
  if (!pending || pending.payment_intent_id !== ret.pi) return false;
  try {
    const checkout = await api('GET', `/api/v1/checkout/${encodeURIComponent(pending.checkout_id)}`);
    if (ret.status === 'succeeded' || !checkout.client_secret) {
      state.checkout = checkout;
      await finish(checkout.id);
    } else {
      /* failed: back to the payment form of the same checkout */
      await showPayment(checkout, null);
      showError('The payment was not authenticated with your bank. Try again or use another card.');
    }
  } catch (e) {
    showError(explain(e));
  }
  return true;
}

/* --- start ---------------------------------------------------------------------------- */

async function main() {
  $('product-form').addEventListener('submit', startCheckout);
  $('pay-form').addEventListener('submit', pay);
  $('change').addEventListener('click', () => {
    clearError();
    store(PENDING_KEY, null);
    state.checkout = null;
    showStep('step-product');
  });
  $('again').addEventListener('click', async () => {
    clearError();
    setStatus('');
    state.checkout = null;
    showStep('step-product');
    await loadProducts().catch((e) => showError(explain(e)));
  });

  const ret = returnParams();
  if (ret && openedByCheckout()) {
    /* the 3-D Secure popup, back on this site: the opener polls Stripe */
    showStep('step-3ds-done');
    setTimeout(() => window.close(), 300);
    return;
  }

  const fromQuery = dropQueryToken();
  const fragment = fragmentToken();
  window.addEventListener('message', fromShop);
  window.addEventListener('hashchange', () => {
    const t = fragmentToken();
    if (t && offerToken(t) === 'taken') start();
  });
  $('switch-stay').addEventListener('click', () => {
    state.offered = null;
    start();
  });
  $('switch-take').addEventListener('click', () => {
    store(TOKEN_KEY, state.offered);
    store(PENDING_KEY, null);
    state.offered = null;
    start();
  });
  state.ret = ret;
  setStatus('Loading…');
  try {
    /* public: the shop's origins are needed before any token */
    state.config = await api('GET', '/api/v1/checkout/config');
  } catch (e) {
    setStatus('');
    showError(explain(e));
    return;
  }
  setStatus('');
  if (fragment && offerToken(fragment) === 'asked') return;
  if (!load(TOKEN_KEY)) {
    showStep('step-signin');
    if (fromQuery) {
      $('signin-text').textContent = 'This link carried your session in its address, where it does not ' +
        'belong. Open the checkout from the shop again.';
    }
    askShop();
    return;
  }
  await start();
}

/* start - signed in: who, the products, a payment to resume */
async function start() {
  setStatus('Loading…');
  try {
    if (!state.config.publishable_key || (!state.config.stripe_js && !state.config.api_base)) {
      throw new Error('Payments are not set up on this shop yet (no Stripe publishable key).');
    }
    await showSignedIn();
    await loadProducts();
    setStatus('');
    const ret = state.ret;
    state.ret = null;
    if (ret && (await resumeFromRedirect(ret))) return;
    showStep('step-product');
  } catch (e) {
    setStatus('');
    if (e instanceof ApiError && e.status === 401) {
      $('signed-in').hidden = true;
      showStep('step-signin');
      $('signin-text').textContent = explain(e);
      return;
    }
    showError(explain(e));
  }
}

main();
