/*
 * app.js - the Tally admin panel: a small hash router and its views
 *
 * Every view reads /admin/api/v1/ (api.js) and builds its DOM with
 * textContent only (ui.js).  Filters and cursors live in the URL's hash
 * ("#/payments?status=disputed&starting_after=pay_…"): a view is
 * shareable and survives a reload.  The server decides every rule; the
 * page only reflects the session's role: action buttons appear only for
 * the roles the route admits (docs/api.md), and a refused action shows
 * the API's message and request id.
 */
import { ApiError, get, onLoggedOut, post, query, setCsrf } from './api.js';
import { chart } from './chart.js';
import {
  action, badge, day, decimal, el, errorBox, exponent, field, money, parseMoney, put, table, when,
} from './ui.js';

const ROLES = ['viewer', 'support', 'finance', 'admin'];
let session = null;		/* {user: {id, username, role}, csrf_token} */
let hadSession = false;		/* this page was logged in: a 401 means it ended */
const main = () => document.getElementById('view');

const can = (role) => session && ROLES.indexOf(session.user.role) >= ROLES.indexOf(role);

/* --- routing -------------------------------------------------------------- */

function parseHash() {
  const h = location.hash.replace(/^#/, '') || '/dashboard';
  const [p, q = ''] = h.split('?');
  return { parts: p.split('/').filter(Boolean), params: new URLSearchParams(q) };
}

/* go - navigate to 'path' with 'params' (empty ones dropped) */
function go(path, params = {}) {
  const h = `#${path}${query(params)}`;
  if (location.hash === h) route();
  else location.hash = h;
}

const link = (href, text) => el('a', { href, text });

const VIEWS = {
  dashboard: viewDashboard,
  payments: (p, id) => (id ? viewPayment(id) : viewPayments(p)),
  accounts: (p, id) => (id ? viewAccount(id) : viewAccounts(p)),
  payouts: (p, id) => (id === 'deferred' ? viewDeferred(p) : viewPayouts(p)),
  webhooks: (p, id) => (id ? viewEvent(id) : viewWebhooks(p)),
  emails: viewEmails,
  users: viewUsers,
  audit: viewAudit,
};

let routing = 0;

async function route() {
  const { parts, params } = parseHash();
  const mine = ++routing;
  if (parts[0] === 'login') return viewLogin(params);
  if (!session) {
    try {
      session = await get('/me');
      setCsrf(session.csrf_token);
      hadSession = true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;	/* onLoggedOut moved us */
      return put(main(), errorBox(e));
    }
  }
  renderChrome(parts[0]);
  const view = VIEWS[parts[0]];
  const m = main();
  put(m, el('p', { class: 'loading', role: 'status', text: 'Loading…' }));
  try {
    if (!view) throw new ApiError(404, { error: { message: 'There is no such page.' } });
    const nodes = await view(params, parts[1] ? decodeURIComponent(parts[1]) : null);
    if (mine !== routing) return;
    put(m, nodes);
  } catch (e) {
    if (mine !== routing) return;
    if (e instanceof ApiError && e.status === 401) return;
    put(m, el('h1', { tabindex: '-1', text: 'Something went wrong' }), errorBox(e));
  }
  const h1 = m.querySelector('h1');
  if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: true }); }
}

onLoggedOut(() => {
  session = null;
  setCsrf(null);
  const { parts } = parseHash();
  if (parts[0] !== 'login') go('/login', { expired: hadSession ? '1' : null, next: location.hash.slice(1) });
  hadSession = false;
});

/* --- chrome: the navigation and the session ------------------------------ */

const NAV = [
  ['dashboard', 'Dashboard', 'viewer'], ['payments', 'Payments', 'viewer'], ['accounts', 'Accounts', 'viewer'],
  ['payouts', 'Payouts', 'viewer'], ['webhooks', 'Webhooks', 'viewer'], ['emails', 'Emails', 'viewer'],
  ['users', 'Users and keys', 'admin'], ['audit', 'Audit log', 'viewer'],
];

function renderChrome(current) {
  const nav = document.getElementById('nav');
  put(nav, el('ul', {}, NAV.filter(([, , r]) => can(r)).map(([k, t]) => el('li', {},
    el('a', { href: `#/${k}`, text: t, 'aria-current': k === current ? 'page' : null })))));
  const who = document.getElementById('who');
  put(who, el('span', { class: 'user' }, session.user.username, ' ', el('span', { class: 'role', text: session.user.role })),
    action('Log out', async () => {
      try { await post('/logout', {}); } finally {
        session = null;
        hadSession = false;
        setCsrf(null);
        go('/login');
      }
    }, { busyText: 'Logging out…', cls: 'button ghost' }));
  document.body.classList.remove('logged-out');
}

/* --- login ---------------------------------------------------------------- */

function viewLogin(params) {
  session = null;
  document.body.classList.add('logged-out');
  put(document.getElementById('nav'));
  put(document.getElementById('who'));
  const out = el('div');
  const [fu, user] = field('Username', { autocomplete: 'username', required: true });
  const [fp, pw] = field('Password', { type: 'password', autocomplete: 'current-password', required: true });
  const submit = el('button', { type: 'submit', class: 'button', text: 'Log in' });
  const form = el('form', { class: 'card login', 'aria-labelledby': 'login-title' },
    el('h1', { id: 'login-title', text: 'Log in to Tally' }),
    params.get('expired') ? el('p', { class: 'notice', role: 'status', text: 'Your session ended. Please log in again.' }) : null,
    fu, fp, submit, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    out.replaceChildren();
    try {
      session = await post('/login', { username: user.value, password: pw.value });
      setCsrf(session.csrf_token);
      hadSession = true;
      const next = params.get('next');
      location.hash = next && !next.startsWith('/login') ? `#${next}` : '#/dashboard';
    } catch (e) {
      out.replaceChildren(errorBox(e));
    } finally {
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  });
  put(main(), form);
  user.focus();
}

/* --- shared pieces -------------------------------------------------------- */

/* filterBar - a form of 'fields' [[label, name, attrs]] that writes the URL */
function filterBar(path, params, fields) {
  const inputs = {};
  const form = el('form', { class: 'filters', role: 'search', 'aria-label': 'Filters' });
  for (const [label, name, attrs = {}] of fields) {
    const [f, input] = field(label, { id: `flt-${name}`, name, value: params.get(name) ?? '', ...attrs });
    inputs[name] = input;
    form.append(f);
  }
  form.append(el('div', { class: 'filter-actions' },
    el('button', { type: 'submit', class: 'button', text: 'Apply' }),
    el('a', { href: `#${path}`, class: 'button ghost', text: 'Clear' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = {};
    for (const [name, input] of Object.entries(inputs)) next[name] = input.value.trim();
    go(path, next);
  });
  return form;
}

/* pager - "Newer" (back in history) and "Older" (the next cursor) */
function pager(path, params, list, cursor = (x) => x.id) {
  const hasPrev = params.has('starting_after');
  const next = list.has_more && list.data.length ? cursor(list.data[list.data.length - 1]) : null;
  const base = Object.fromEntries(params.entries());
  delete base.starting_after;
  return el('nav', { class: 'pager', 'aria-label': 'Pages' },
    hasPrev ? el('a', { href: `#${path}${query(base)}`, class: 'button ghost', text: 'First page' }) : null,
    hasPrev ? el('button', { type: 'button', class: 'button ghost', text: 'Previous page', onclick: () => history.back() })
      : null,
    next ? el('a', { href: `#${path}${query({ ...base, starting_after: next })}`, class: 'button', rel: 'next',
      text: 'Next page' }) : null);
}

/* listParams - the API query of a list view: the URL's params as they are */
const listParams = (params, extra = {}) => query({ ...Object.fromEntries(params.entries()), ...extra });

const opts = (list) => [['', 'Any'], ...list.map((v) => [v, v])];

function dl(pairs) {
  return el('dl', { class: 'facts' }, pairs.filter(Boolean).flatMap(([k, v]) => [el('dt', { text: k }),
    el('dd', {}, v ?? '—')]));
}

const code = (t) => (t ? el('code', { text: t }) : '—');

/* --- dashboard -------------------------------------------------------------- */

async function viewDashboard(params) {
  const periodDays = Number(params.get('days') || 30);
  const to = params.get('to') || day(new Date());
  const from = params.get('from') || day(new Date(Date.parse(`${to}T00:00:00Z`) - (periodDays - 1) * 86400000));
  /* the currencies with data, the most volume first: the default */
  const currencies = (await get('/reports/currencies')).data.map((c) => c.currency);
  const period = query({ currency: params.get('currency') || currencies[0], from, to });
  const [r, top] = await Promise.all([get(`/reports/daily${period}`), get(`/reports/top${period}`)]);
  const cur = r.currency;
  const fmt = (v) => money(v, cur);
  const sum = (k) => r.days.reduce((t, d) => t + d[k], 0);

  if (!currencies.includes(cur)) currencies.push(cur);
  const [fc, curIn] = field('Currency', { id: 'dash-currency', tag: 'select',
    options: currencies.map((c) => [c, c.toUpperCase()]), value: cur });
  const [fd, daysIn] = field('Period', { id: 'dash-days', tag: 'select',
    options: [['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['custom', 'Custom']],
    value: params.get('from') ? 'custom' : String(periodDays) });
  const [ff, fromIn] = field('From', { id: 'dash-from', type: 'date', value: r.from });
  const [ft, toIn] = field('To', { id: 'dash-to', type: 'date', value: r.to });
  const picker = el('form', { class: 'filters', 'aria-label': 'Dashboard period' }, fc, fd, ff, ft,
    el('div', { class: 'filter-actions' }, el('button', { type: 'submit', class: 'button', text: 'Show' })));
  picker.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const custom = daysIn.value === 'custom';
    go('/dashboard', {
      currency: curIn.value, days: custom ? null : daysIn.value,
      from: custom ? fromIn.value : null, to: custom ? toIn.value : null,
    });
  });

  const kpi = (label, value, sub) => el('div', { class: 'kpi' }, el('p', { class: 'kpi-label', text: label }),
    el('p', { class: 'kpi-value', text: value }), sub ? el('p', { class: 'kpi-sub', text: sub }) : null);
  const labels = r.days.map((d) => d.date);
  return [
    el('h1', { text: 'Dashboard' }),
    picker,
    el('p', { class: 'muted', text: `${cur.toUpperCase()}, ${r.from} to ${r.to} (UTC days)` }),
    el('section', { class: 'kpis', 'aria-label': 'Totals for the period' },
      kpi('Gross volume', fmt(sum('gross_cent')), `${sum('payments')} payments`),
      kpi('Platform revenue', fmt(sum('platform_revenue_cent'))),
      kpi('Stripe fees', fmt(sum('stripe_fees_cent'))),
      kpi('Refunds', fmt(sum('refunds_cent')), `${sum('refunds')} refunds`),
      kpi('Disputes', fmt(sum('disputes_cent')), `${sum('disputes')} disputes`),
      kpi('Payouts', fmt(sum('payouts_cent')), `${sum('payouts')} payouts`)),
    el('section', { class: 'charts' },
      chart({
        kind: 'line', title: 'Volume, revenue and refunds per day', labels, format: fmt,
        series: [{ name: 'Gross volume', values: r.days.map((d) => d.gross_cent) },
          { name: 'Platform revenue', values: r.days.map((d) => d.platform_revenue_cent) },
          { name: 'Refunds', values: r.days.map((d) => d.refunds_cent) }],
      }),
      chart({
        kind: 'bar', title: 'Payouts per day', labels, format: fmt,
        series: [{ name: 'Payouts', values: r.days.map((d) => d.payouts_cent) }],
      })),
    el('section', { class: 'two' },
      el('div', {}, el('h2', { text: 'Top products' }), table('Top products', [
        { label: 'Product', cell: (x) => x.name ?? x.product_id },
        { label: 'Payments', cell: (x) => String(x.payments), num: true },
        { label: 'Gross', cell: (x) => fmt(x.gross_cent), num: true }], top.top_products, 'No sales in this period.')),
      el('div', {}, el('h2', { text: 'Top payees' }), table('Top payees', [
        { label: 'Payee', cell: (x) => link(`#/accounts/${x.account_id}`, x.display_name || x.account_id) },
        { label: 'Kind', cell: (x) => x.kind },
        { label: 'Earned', cell: (x) => fmt(x.earned_cent), num: true }], top.top_payees, 'No earnings in this period.'))),
  ];
}

/* --- payments ------------------------------------------------------------- */

const PAY_STATUSES = ['succeeded', 'refund_pending', 'partially_refunded', 'refunded', 'disputed', 'dispute_lost'];

async function viewPayments(params) {
  /* the form speaks in dates and major units; the API in seconds and cents */
  const api = Object.fromEntries(params.entries());
  const cur = api.currency || 'usd';
  for (const [k, end] of [['created_from', false], ['created_to', true]]) {
    if (!api[k]) continue;
    const t = Date.parse(`${api[k]}T00:00:00Z`) / 1000;
    if (Number.isFinite(t)) api[end ? 'created_lte' : 'created_gte'] = end ? t + 86399 : t;
    delete api[k];
  }
  for (const [k, to] of [['amount_min', 'amount_gte'], ['amount_max', 'amount_lte']]) {
    if (!api[k]) continue;
    const c = parseMoney(api[k], cur);
    if (c === null) throw new ApiError(400, { error: { message: `${k.replace('_', ' ')} is not an amount.` } });
    api[to] = c;
    delete api[k];
  }
  const list = await get(`/payments${query({ limit: 25, ...api })}`);
  return [
    el('h1', { text: 'Payments' }),
    filterBar('/payments', params, [
      ['Search', 'q', { placeholder: 'pay_, chk_, pi_, ch_ id or email', size: 34, type: 'search' }],
      ['Status', 'status', { tag: 'select', options: opts(PAY_STATUSES) }],
      ['Currency', 'currency', { maxlength: 3, size: 4 }],
      ['Product', 'product', { placeholder: 'prod_…' }],
      ['Payee', 'payee', { placeholder: 'acc_…' }],
      ['Buyer', 'buyer', { placeholder: 'acc_…' }],
      ['Created from', 'created_from', { type: 'date' }],
      ['Created to', 'created_to', { type: 'date' }],
      ['Amount from', 'amount_min', { inputmode: 'decimal', size: 8 }],
      ['Amount to', 'amount_max', { inputmode: 'decimal', size: 8 }],
    ]),
    table('Payments', [
      { label: 'Payment', cell: (p) => link(`#/payments/${p.id}`, p.id) },
      { nowrap: true, label: 'Created', cell: (p) => when(p.created) },
      { label: 'Amount', cell: (p) => money(p.amount_cent, p.currency), num: true },
      { label: 'Refunded', cell: (p) => (p.refunded_cent ? money(p.refunded_cent, p.currency) : '—'), num: true },
      { label: 'Status', cell: (p) => badge(p.status) },
      { label: 'Product', cell: (p) => p.product_name ?? '—' },
      { label: 'Buyer', cell: (p) => p.buyer_email ?? '—' },
    ], list.data, 'No payment matches these filters.'),
    pager('/payments', params, list),
  ];
}

/* splitBar - the split as one horizontal bar of its shares */
function splitBar(shares, total, cur) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 1000 40');
  svg.setAttribute('class', 'split-bar');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `The split: ${shares.map((s) => `${s.role} ${money(s.amount_cent, cur)}`).join(', ')}`);
  let x = 0;
  shares.filter((s) => s.amount_cent > 0).forEach((s, k) => {
    const w = total > 0 ? (s.amount_cent / total) * 1000 : 0;
    const r = document.createElementNS(NS, 'rect');
    for (const [a, v] of Object.entries({ x, y: 0, width: w, height: 40, class: `s${k % 8}` })) r.setAttribute(a, v);
    const t = document.createElementNS(NS, 'title');
    t.textContent = `${s.role}: ${money(s.amount_cent, cur)}`;
    r.append(t);
    svg.append(r);
    x += w;
  });
  const legend = el('ul', { class: 'legend' }, shares.filter((s) => s.amount_cent > 0).map((s, k) => el('li', {},
    el('span', { class: `swatch s${k % 8}`, 'aria-hidden': 'true' }), `${s.role} ${money(s.amount_cent, cur)}`)));
  return el('figure', { class: 'split' }, el('figcaption', { text: 'The split' }), svg, legend);
}

/* refundForm - amount (what remains by default), reason; one submission at a time */
function refundForm(p, reload) {
  const cur = p.currency;
  const limit = session.user.role === 'support' ? p.refund_support_limit_cent : null;
  const out = el('div', { class: 'form-out' });
  const [fa, amount] = field(`Amount (${cur.toUpperCase()})`, { id: 'refund-amount', inputmode: 'decimal',
    required: true, value: p.remaining_cent > 0 ? decimal(limit !== null ? Math.min(limit, p.remaining_cent) :
      p.remaining_cent, cur) : '', 'aria-describedby': 'refund-help' });
  const [fr, reason] = field('Reason', { id: 'refund-reason', required: true, maxlength: 64,
    placeholder: 'e.g. customer asked' });
  const submit = el('button', { type: 'submit', class: 'button danger', text: 'Refund' });
  let key = crypto.randomUUID();	/* one key per intended refund: a retry reuses it */
  let lastBody = null;
  const form = el('form', { class: 'card refund-form', 'aria-labelledby': 'refund-title' },
    el('h2', { id: 'refund-title', text: 'Refund' }),
    el('p', { id: 'refund-help', class: 'help' },
      'Remaining: ', el('strong', { class: 'remaining', text: money(p.remaining_cent, cur) }),
      limit !== null ? ['. Your limit on this payment’s refunds together: ', el('strong', { class: 'limit', text: money(limit, cur) })] :
        '. Your role has no refund limit.'),
    fa, fr, submit, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    out.replaceChildren();
    const cents = parseMoney(amount.value, cur);
    if (!cents) {
      out.replaceChildren(errorBox({ message: `Enter an amount with at most ${exponent(cur)} decimals.` }));
      amount.focus();
      return;
    }
    const body = { amount_cent: cents, reason: reason.value.trim() };
    if (lastBody && (lastBody.amount_cent !== body.amount_cent || lastBody.reason !== body.reason)) {
      key = crypto.randomUUID();	/* another refund, not a retry */
    }
    lastBody = body;
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    submit.textContent = 'Refunding…';
    try {
      const r = await post(`/payments/${p.id}/refunds`, body, { idem: key });
      key = crypto.randomUUID();
      lastBody = null;
      await reload(`Refund ${r.id} of ${money(r.amount_cent, cur)}: ${r.state}.`);
    } catch (e) {
      out.replaceChildren(errorBox(e));
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
      submit.textContent = 'Refund';
    }
  });
  return form;
}

async function viewPayment(id, notice) {
  const p = await get(`/payments/${encodeURIComponent(id)}`);
  const cur = p.currency;
  const m = (v) => money(v, cur);
  const split = p.shares.filter((s) => s.kind === 'split');
  const reload = async (msg) => { put(main(), await viewPayment(id, msg)); };
  return [
    el('p', { class: 'crumbs' }, link('#/payments', 'Payments'), ' / ', p.id),
    el('h1', { tabindex: '-1' }, `${m(p.amount_cent)} `, badge(p.status)),
    notice ? el('p', { class: 'notice', role: 'status', text: notice }) : null,
    el('div', { class: 'two' },
      dl([['Payment', code(p.id)], ['Checkout', code(p.checkout_id)], ['PaymentIntent', code(p.payment_intent_id)],
        ['Charge', code(p.charge_id)], ['Created', when(p.created)], ['Completed via', p.completed_via],
        ['Product', p.product_name ? `${p.product_name} (${p.product_id})` : null],
        ['Buyer', p.buyer_email ?? p.buyer_account_id],
        ['Refunded', m(p.refunded_cent)], ['Disputed', m(p.disputed_cent)],
        ['Remaining', el('span', { id: 'remaining', text: m(p.remaining_cent) })],
        ['Stripe fee', p.stripe_fee_actual_cent !== null ? `${m(p.stripe_fee_actual_cent)} (estimated ` +
          `${m(p.stripe_fee_estimate_cent)})` : `${m(p.stripe_fee_estimate_cent)} (estimate)`]]),
      can('support') && p.remaining_cent > 0 && !['disputed', 'dispute_lost'].includes(p.status)
        ? refundForm(p, reload) : null),
    splitBar(split, p.amount_cent, cur),
    el('h2', { text: 'Split' }),
    table('The split', [
      { label: 'Role', cell: (s) => s.role },
      { label: 'Account', cell: (s) => link(`#/accounts/${s.account_id}`, s.account_id) },
      { label: 'Amount', cell: (s) => m(s.amount_cent), num: true }], split),
    el('h2', { text: 'Ledger rows' }),
    el('div', { id: 'ledger-rows' }, table('Ledger rows', [
      { label: '#', cell: (s) => String(s.id), num: true },
      { label: 'Kind', cell: (s) => s.kind }, { label: 'Role', cell: (s) => s.role },
      { label: 'Account', cell: (s) => s.account_id },
      { label: 'Amount', cell: (s) => m(s.amount_cent), num: true },
      { label: 'Status', cell: (s) => s.status }, { label: 'Payout', cell: (s) => s.payout_id ?? '—' },
      { label: 'Cause', cell: (s) => s.cause_id ?? '—' }, { nowrap: true, label: 'At', cell: (s) => when(s.created) }], p.shares)),
    el('h2', { text: 'Refunds' }),
    el('div', { id: 'refunds' }, table('Refunds', [
      { label: 'Refund', cell: (x) => code(x.id) }, { label: 'Amount', cell: (x) => m(x.amount_cent), num: true },
      { label: 'State', cell: (x) => badge(x.state) }, { label: 'Origin', cell: (x) => x.origin },
      { label: 'Reason', cell: (x) => x.reason }, { label: 'By', cell: (x) => x.requested_by ?? '—' },
      { nowrap: true, label: 'At', cell: (x) => when(x.created) }], p.refunds, 'No refund.')),
    el('h2', { text: 'Disputes' }),
    table('Disputes', [
      { label: 'Dispute', cell: (x) => code(x.id) }, { label: 'Amount', cell: (x) => m(x.amount_cent), num: true },
      { label: 'Status', cell: (x) => badge(x.status) }, { label: 'Reason', cell: (x) => x.reason ?? '—' },
      { nowrap: true, label: 'Opened', cell: (x) => when(x.created) }], p.disputes, 'No dispute.'),
    el('h2', { text: 'Payouts that carried its rows' }),
    table('Payouts', [
      { label: 'Payout', cell: (x) => code(x.id) }, { label: 'Payee', cell: (x) => x.account_name ?? x.account_id },
      { label: 'Amount', cell: (x) => money(x.amount_cent, x.currency), num: true },
      { label: 'State', cell: (x) => badge(x.state) }], p.payouts, 'Not paid out yet.'),
    el('h2', { text: 'Webhook events' }),
    table('Webhook events', [
      { label: 'Event', cell: (x) => link(`#/webhooks/${x.id}`, x.id) }, { label: 'Type', cell: (x) => x.type },
      { label: 'Status', cell: (x) => badge(x.status) }, { nowrap: true, label: 'Received', cell: (x) => when(x.received) }],
    p.webhook_events, 'No event.'),
    el('h2', { text: 'Audit trail' }),
    auditTable(p.audit),
  ];
}

function auditTable(rows, empty = 'No entry.') {
  return table('Audit', [
    { nowrap: true, label: 'At', cell: (x) => when(x.at) }, { label: 'Action', cell: (x) => x.action },
    { label: 'Actor', cell: (x) => `${x.actor_kind}${x.actor_id ? ` ${x.actor_id}` : ''}` },
    { label: 'Object', cell: (x) => x.object_id ?? '—' }, { label: 'Detail', cell: (x) => x.detail ?? '—' },
    { label: 'Request', cell: (x) => code(x.request_id) }], rows, empty);
}

/* --- accounts ------------------------------------------------------------- */

async function viewAccounts(params) {
  const list = await get(`/accounts${listParams(params, { limit: 25 })}`);
  return [
    el('h1', { text: 'Accounts' }),
    filterBar('/accounts', params, [
      ['Kind', 'kind', { tag: 'select', options: opts(['talent', 'agent', 'ambassador', 'host_partner', 'buyer',
        'platform', 'stripe_fee']) }],
      ['Connect', 'connect', { tag: 'select', options: [['', 'Any'], ['none', 'Not connected'],
        ['pending', 'Onboarding'], ['enabled', 'Payouts enabled']] }],
      ['Flagged', 'flagged', { tag: 'select', options: [['', 'Any'], ['true', 'A payout failed']] }],
    ]),
    table('Accounts', [
      { label: 'Account', cell: (a) => link(`#/accounts/${a.id}`, a.display_name || a.id) },
      { label: 'Kind', cell: (a) => a.kind }, { label: 'Email', cell: (a) => a.email ?? '—' },
      { label: 'Connect', cell: (a) => badge(a.payouts_enabled ? 'enabled' : a.connect_account_id ? 'onboarding'
        : 'none') },
      { label: 'Flag', cell: (a) => (a.flagged ? badge('failed') : '—') },
      { nowrap: true, label: 'Created', cell: (a) => when(a.created) }], list.data, 'No account matches these filters.'),
    pager('/accounts', params, list),
  ];
}

const PAYEES = ['talent', 'agent', 'ambassador', 'host_partner'];

/* accountActions - onboarding link (support), threshold and advance (finance) */
function accountActions(a, again) {
  if (!PAYEES.includes(a.kind) || !can('support')) return null;
  const out = el('div', { class: 'form-out', 'aria-live': 'polite' });
  const boxes = [el('div', { class: 'card' }, el('h2', { text: 'Onboarding' }),
    el('p', { class: 'help', text: a.payouts_enabled ? 'Payouts are enabled.'
      : 'The payee has not finished onboarding: send it a fresh link.' }),
    action('Send onboarding link', async () => {
      const r = await post(`/accounts/${a.id}/onboarding_link`, {});
      out.replaceChildren(el('div', { class: 'notice', role: 'status' },
        r.emailed_to ? `Emailed to ${r.emailed_to}. ` : 'The payee has no email address: send it this link. ',
        el('code', { class: 'secret', text: r.onboarding_url })));
    }, { busyText: 'Sending…', out }))];
  if (can('finance')) {
    const [ft, th] = field('Payout threshold (minor units; empty: the currency\'s)', { id: 'threshold',
      inputmode: 'numeric', value: a.payout_threshold_cent ?? '' });
    const tform = el('form', { class: 'card', 'aria-labelledby': 'threshold-title' },
      el('h2', { id: 'threshold-title', text: 'Payout threshold' }), ft,
      el('button', { type: 'submit', class: 'button', text: 'Save threshold' }));
    tform.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const b = tform.querySelector('button');
      if (b.disabled) return;
      const v = th.value.trim();
      if (v !== '' && !/^\d{1,15}$/.test(v)) {
        out.replaceChildren(errorBox({ message: 'The threshold is a whole number of minor units.' }));
        return;
      }
      b.disabled = true;
      try {
        await post(`/accounts/${a.id}/payout_threshold`, { payout_threshold_cent: v === '' ? null : Number(v) });
        await again('The payout threshold is saved.');
      } catch (e) { out.replaceChildren(errorBox(e)); b.disabled = false; }
    });
    const [fa, amt] = field('Amount', { id: 'advance-amount', inputmode: 'decimal', required: true });
    const [fc, cur] = field('Currency', { id: 'advance-currency', value: a.balances[0]?.currency ?? 'usd',
      maxlength: 3, size: 4, required: true });
    const [fn, note] = field('Note', { id: 'advance-note', required: true, maxlength: 500 });
    const grant = el('button', { type: 'submit', class: 'button', text: 'Grant advance' });
    const aform = el('form', { class: 'card', 'aria-labelledby': 'advance-title' },
      el('h2', { id: 'advance-title', text: 'Grant an advance' }),
      el('p', { class: 'help', text: 'Transferred to the payee now, recovered from its later earnings.' }),
      fa, fc, fn, grant);
    let key = crypto.randomUUID();
    let last = null;
    aform.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (grant.disabled) return;
      const c = cur.value.trim().toLowerCase();
      const cents = parseMoney(amt.value, c);
      if (!cents) {
        out.replaceChildren(errorBox({ message: `Enter an amount with at most ${exponent(c)} decimals.` }));
        return;
      }
      const body = { account_id: a.id, amount_cent: cents, currency: c, note: note.value.trim() };
      if (last && JSON.stringify(last) !== JSON.stringify(body)) key = crypto.randomUUID();
      last = body;
      grant.disabled = true;
      grant.textContent = 'Granting…';
      try {
        const r = await post('/advances', body, { idem: key });
        key = crypto.randomUUID();
        last = null;
        await again(`Advance ${r.id} of ${money(r.amount_cent, r.currency)}: ${r.state}.`);
      } catch (e) {
        out.replaceChildren(errorBox(e));
        grant.disabled = false;
        grant.textContent = 'Grant advance';
      }
    });
    boxes.push(tform, aform);
  }
  return [el('h2', { text: 'Actions' }), out, el('div', { class: 'actions' }, boxes)];
}

async function viewAccount(id, notice) {
  const a = await get(`/accounts/${encodeURIComponent(id)}`);
  const again = async (msg) => { put(main(), await viewAccount(id, msg)); };
  return [
    el('p', { class: 'crumbs' }, link('#/accounts', 'Accounts'), ' / ', a.id),
    el('h1', { text: a.display_name || a.id }),
    notice ? el('p', { class: 'notice', role: 'status', text: notice }) : null,
    dl([['Account', code(a.id)], ['Kind', a.kind],
      ['Payout threshold', a.payout_threshold_cent !== null ? `${a.payout_threshold_cent} (minor units)`
        : 'the currency\'s'], ['Email', a.email], ['Connected account', code(a.connect_account_id)],
      ['Charges enabled', a.charges_enabled ? 'yes' : 'no'], ['Payouts enabled', a.payouts_enabled ? 'yes' : 'no'],
      ['Requirements due', a.requirements_due || 'none'],
      ['Payout failures', String(a.payout_failures)], ['Next payout attempt', a.payout_retry_at ? when(a.payout_retry_at)
        : 'at the next run'], ['Created', when(a.created)]]),
    el('h2', { text: 'Balances' }),
    table('Balances', [
      { label: 'Currency', cell: (b) => b.currency.toUpperCase() },
      ...['pending', 'payable', 'owed_back', 'in_transit', 'paid', 'advance_balance'].map((k) => ({
        label: k.replace('_', ' '), cell: (b) => money(b[`${k}_cent`], b.currency), num: true }))],
    a.balances, 'No money yet.'),
    el('h2', { text: 'Payouts' }), payoutsTable(a.payouts, null),
    el('h2', { text: 'Advances' }),
    table('Advances', [
      { label: 'Advance', cell: (x) => code(x.id) }, { label: 'Granted', cell: (x) => money(x.amount_cent, x.currency),
        num: true },
      { label: 'Recovered', cell: (x) => money(x.offset_cent + x.reversed_cent, x.currency), num: true },
      { label: 'State', cell: (x) => badge(x.state) }, { label: 'Note', cell: (x) => x.note },
      { label: 'By', cell: (x) => x.granted_by }, { nowrap: true, label: 'At', cell: (x) => when(x.created) }], a.advances, 'No advance.'),
    accountActions(a, again),
  ];
}

/* --- payouts -------------------------------------------------------------- */

function payoutsTable(rows, out) {
  return table('Payouts', [
    { label: 'Payout', cell: (x) => code(x.id) },
    { label: 'Payee', cell: (x) => link(`#/accounts/${x.account_id}`, x.account_name || x.account_id) },
    { label: 'Amount', cell: (x) => money(x.amount_cent, x.currency), num: true },
    { label: 'State', cell: (x) => badge(x.state) }, { label: 'Failure', cell: (x) => x.failure_code ?? '—' },
    { nowrap: true, label: 'Created', cell: (x) => when(x.created) }, { nowrap: true, label: 'Paid', cell: (x) => when(x.paid_at) },
    ...(out && can('finance') ? [{ label: 'Action', cell: (x) => (x.state === 'failed' ? action('Retry now', async () => {
      const r = await post(`/payouts/${x.id}/retry`, {});
      out.replaceChildren(el('p', { class: 'notice', role: 'status',
        text: `Payout ${r.payout_id}: ${r.account_id} will be paid at the next payouts run.` }));
    }, { busyText: 'Retrying…', out }) : '—') }] : [])], rows, 'No payout.');
}

/* payoutTabs - "All payouts" and "Deferred", 'current' marked */
function payoutTabs(current) {
  const tab = (href, text, k) => el('li', {}, el('a', { href, text, 'aria-current': k === current ? 'page' : null }));
  return el('nav', { class: 'tabs', 'aria-label': 'Payout lists' }, el('ul', {},
    tab('#/payouts', 'All payouts', 'all'), tab('#/payouts/deferred', 'Deferred', 'deferred')));
}

async function viewPayouts(params) {
  const list = await get(`/payouts${listParams(params, { limit: 25 })}`);
  const out = el('div', { class: 'form-out', 'aria-live': 'polite' });
  return [
    el('h1', { text: 'Payouts' }),
    payoutTabs('all'),
    filterBar('/payouts', params, [
      ['State', 'state', { tag: 'select', options: opts(['to_transfer', 'unknown', 'paid', 'failed']) }],
      ['Currency', 'currency', { maxlength: 3, size: 4 }], ['Payee', 'account', { placeholder: 'acc_…' }]]),
    out, payoutsTable(list.data, out), pager('/payouts', params, list),
  ];
}

/* why the latest payouts run did not pay a payee (core/payout_defer.c) */
const DEFER_REASONS = {
  no_connect_account: 'No Stripe Connect account yet',
  payouts_disabled: 'Stripe has not enabled its payouts (onboarding or requirements due)',
  retry_backoff: 'A transfer to it failed: waiting before the next attempt',
  refund_or_dispute: 'Below the threshold while a refund in progress or a dispute holds money',
  hold_period: 'Below the threshold while earnings are inside the hold period',
  below_threshold: 'Below its payout threshold',
  balance_short: 'The platform\'s available balance could not cover it',
};

async function viewDeferred(params) {
  const list = await get(`/payouts/deferred${listParams(params, { limit: 25 })}`);
  return [
    el('h1', { text: 'Payouts' }),
    payoutTabs('deferred'),
    el('p', { class: 'help', text: 'Payees whose pending money the latest payouts run did not pay, and why.' }),
    filterBar('/payouts/deferred', params, [
      ['Reason', 'reason', { tag: 'select', options: [['', 'Any'], ...Object.entries(DEFER_REASONS)] }],
      ['Currency', 'currency', { maxlength: 3, size: 4 }]]),
    table('Deferred payouts', [
      { label: 'Payee', cell: (x) => link(`#/accounts/${x.account_id}`, x.account_name || x.account_id) },
      { label: 'Reason', cell: (x) => el('span', { class: 'reason', dataset: { reason: x.reason },
        text: DEFER_REASONS[x.reason] ?? x.reason }) },
      { label: 'Pending', cell: (x) => money(x.amount_cent, x.currency), num: true },
      { label: 'Payable now', cell: (x) => money(x.payable_cent, x.currency), num: true },
      { label: 'Threshold', cell: (x) => money(x.threshold_cent, x.currency), num: true },
      { nowrap: true, label: 'Since', cell: (x) => when(x.since) },
      { nowrap: true, label: 'Last run', cell: (x) => when(x.last_run_at) }],
    list.data, 'No payee is waiting: the latest run paid everything payable.'),
    pager('/payouts/deferred', params, list),
  ];
}

/* --- webhooks ------------------------------------------------------------- */

async function viewWebhooks(params) {
  const [list, refusals] = await Promise.all([
    get(`/webhook_events${listParams(params, { limit: 25 })}`), get('/webhook_refusals?limit=50')]);
  const out = el('div', { class: 'form-out', 'aria-live': 'polite' });
  return [
    el('h1', { text: 'Webhooks' }),
    filterBar('/webhooks', params, [
      ['Status', 'status', { tag: 'select', options: opts(['processed', 'ignored', 'failed', 'dead']) }],
      ['Type', 'type', { placeholder: 'charge.refunded' }]]),
    out,
    table('Webhook events', [
      { label: 'Event', cell: (x) => link(`#/webhooks/${x.id}`, x.id) }, { label: 'Type', cell: (x) => x.type },
      { label: 'Status', cell: (x) => badge(x.status) }, { label: 'Attempts', cell: (x) => String(x.attempts), num: true },
      { label: 'Last error', cell: (x) => x.last_error ?? '—' }, { nowrap: true, label: 'Received', cell: (x) => when(x.received) },
      ...(can('support') ? [{ label: 'Action', cell: (x) => (['failed', 'dead'].includes(x.status)
        ? action('Replay', async () => {
          const r = await post(`/webhook_events/${x.id}/replay`, {});
          put(main(), await viewWebhooks(params));
          main().prepend(el('p', { class: 'notice', role: 'status', text: `Event ${r.id} replayed: ${r.status}.` }));
        }, { busyText: 'Replaying…', out }) : '—') }] : [])],
    list.data, 'No event matches these filters.'),
    pager('/webhooks', params, list),
    el('h2', { text: 'Signature refusals' }),
    table('Signature refusals', [
      { label: 'Source address', cell: (x) => code(x.source_addr) },
      { label: 'Refusals', cell: (x) => String(x.refusals), num: true },
      { label: 'Last reason', cell: (x) => x.last_reason }, { nowrap: true, label: 'First', cell: (x) => when(x.first_at) },
      { nowrap: true, label: 'Last', cell: (x) => when(x.last_at) },
      { label: 'In its window', cell: (x) => String(x.window_refusals), num: true },
      { nowrap: true, label: 'Burst alerted', cell: (x) => (x.alerted_at ? when(x.alerted_at) : '—') }],
    refusals.data, 'No refused delivery.'),
  ];
}

async function viewEvent(id) {
  const e = await get(`/webhook_events/${encodeURIComponent(id)}`);
  let pretty = e.payload;
  try { pretty = JSON.stringify(JSON.parse(e.payload), null, 2); } catch { /* shown as stored */ }
  const out = el('div', { class: 'form-out', 'aria-live': 'polite' });
  return [
    el('p', { class: 'crumbs' }, link('#/webhooks', 'Webhooks'), ' / ', e.id),
    el('h1', {}, `${e.type} `, badge(e.status)),
    dl([['Event', code(e.id)], ['Endpoint', e.endpoint], ['Object', code(e.object_id)], ['Account', code(e.account)],
      ['Attempts', String(e.attempts)], ['Last error', e.last_error], ['Created at Stripe', when(e.created)],
      ['Received', when(e.received)], ['Processed', when(e.processed)]]),
    can('support') && ['failed', 'dead'].includes(e.status) ? action('Replay', async () => {
      const r = await post(`/webhook_events/${e.id}/replay`, {});
      put(main(), await viewEvent(id));
      main().prepend(el('p', { class: 'notice', role: 'status', text: `Replayed: ${r.status}.` }));
    }, { busyText: 'Replaying…', out }) : null,
    out,
    el('h2', { text: 'Payload' }),
    el('pre', { class: 'payload', tabindex: '0', text: pretty }),
  ];
}

/* --- emails --------------------------------------------------------------- */

async function viewEmails(params) {
  const list = await get(`/emails${listParams(params, { limit: 25 })}`);
  const out = el('div', { class: 'form-out', 'aria-live': 'polite' });
  return [
    el('h1', { text: 'Emails' }),
    filterBar('/emails', params, [
      ['Kind', 'kind', { placeholder: 'receipt, refund, payout_failed…' }],
      ['State', 'state', { tag: 'select', options: opts(['queued', 'sending', 'sent', 'dead']) }]]),
    out,
    table('Emails', [
      { label: 'Kind', cell: (x) => x.kind }, { label: 'To', cell: (x) => x.to }, { label: 'Subject', cell: (x) => x.subject },
      { label: 'State', cell: (x) => badge(x.state) }, { label: 'Attempts', cell: (x) => String(x.attempts), num: true },
      { label: 'Last error', cell: (x) => x.last_error ?? '—' }, { nowrap: true, label: 'Created', cell: (x) => when(x.created) },
      ...(can('support') ? [{ label: 'Action', cell: (x) => (x.state === 'dead' ? action('Send again', async () => {
        await post(`/emails/${x.id}/retry`, {});
        put(main(), await viewEmails(params));
        main().prepend(el('p', { class: 'notice', role: 'status', text: 'The email is queued again.' }));
      }, { busyText: 'Queueing…', out }) : '—') }] : [])], list.data, 'No email matches these filters.'),
    pager('/emails', params, list),
  ];
}

/* --- users and keys (admin) ------------------------------------------------ */

async function viewUsers() {
  if (!can('admin')) throw new ApiError(403, { error: { message: 'Only an admin manages users and keys.' } });
  const [users, keys] = await Promise.all([get('/users?limit=100'), get('/api_keys?limit=100')]);
  const out = el('div', { class: 'form-out', 'aria-live': 'polite' });
  const again = async (msg) => {
    put(main(), await viewUsers());
    if (msg) main().prepend(el('p', { class: 'notice', role: 'status', text: msg }));
  };

  const [fu, uname] = field('Username', { id: 'new-username', required: true, autocomplete: 'off' });
  const [fp, upw] = field('Password', { id: 'new-password', type: 'password', required: true,
    autocomplete: 'new-password' });
  const [fr, urole] = field('Role', { id: 'new-role', tag: 'select', options: ROLES.map((r) => [r, r]) });
  const userForm = el('form', { class: 'card', 'aria-labelledby': 'new-user-title' },
    el('h2', { id: 'new-user-title', text: 'New admin user' }), fu, fp, fr,
    el('button', { type: 'submit', class: 'button', text: 'Create user' }));
  userForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const b = userForm.querySelector('button');
    if (b.disabled) return;
    b.disabled = true;
    try {
      const u = await post('/users', { username: uname.value, password: upw.value, role: urole.value });
      await again(`User ${u.username} created.`);
    } catch (e) { out.replaceChildren(errorBox(e)); b.disabled = false; }
  });

  const [fk, kname] = field('Key name', { id: 'new-key-name', required: true, autocomplete: 'off' });
  const keyForm = el('form', { class: 'card', 'aria-labelledby': 'new-key-title' },
    el('h2', { id: 'new-key-title', text: 'New API key' }), fk,
    el('button', { type: 'submit', class: 'button', text: 'Create key' }));
  keyForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const b = keyForm.querySelector('button');
    if (b.disabled) return;
    b.disabled = true;
    try {
      const k = await post('/api_keys', { name: kname.value });
      await again();
      main().prepend(el('div', { class: 'notice', role: 'status' }, `Key ${k.name} created. Copy it now, it is not shown again: `,
        el('code', { class: 'secret', text: k.key })));
    } catch (e) { out.replaceChildren(errorBox(e)); b.disabled = false; }
  });

  return [
    el('h1', { text: 'Users and keys' }),
    out,
    el('div', { class: 'toolbar' }, action('Log out every other session', async () => {
      const r = await post('/sessions/revoke', {});
      await again(`${r.revoked} sessions ended.`);
    }, { busyText: 'Logging out…', out, cls: 'button danger' })),
    table('Admin users', [
      { label: 'User', cell: (u) => u.username }, { label: 'Role', cell: (u) => u.role },
      { label: 'Disabled', cell: (u) => (u.disabled ? 'yes' : 'no') }, { nowrap: true, label: 'Created', cell: (u) => when(u.created) },
      { label: 'Action', cell: (u) => action('Log out everywhere', async () => {
        const r = await post(`/users/${u.id}/sessions/revoke`, {});
        await again(`${u.username}: ${r.revoked} sessions ended.`);
      }, { busyText: 'Logging out…', out, cls: 'button ghost' }) }], users.data),
    userForm,
    el('h2', { text: 'API keys' }),
    table('API keys', [
      { label: 'Name', cell: (k) => k.name }, { label: 'Prefix', cell: (k) => code(k.prefix) },
      { nowrap: true, label: 'Created', cell: (k) => when(k.created) }, { label: 'By', cell: (k) => k.created_by ?? '—' },
      { label: 'Revoked', cell: (k) => (k.revoked ? when(k.revoked) : 'active') },
      { label: 'Action', cell: (k) => (k.revoked ? '—' : action('Revoke', async () => {
        await post(`/api_keys/${k.id}/revoke`, {});
        await again(`Key ${k.name} revoked.`);
      }, { busyText: 'Revoking…', out, cls: 'button danger' })) }], keys.data, 'No API key.'),
    keyForm,
  ];
}

/* --- audit ---------------------------------------------------------------- */

async function viewAudit(params) {
  /* the form speaks in dates (UTC days), the API in seconds */
  const api = Object.fromEntries(params.entries());
  for (const [k, end] of [['created_from', false], ['created_to', true]]) {
    if (!api[k]) continue;
    const t = Date.parse(`${api[k]}T00:00:00Z`) / 1000;
    if (!Number.isFinite(t)) throw new ApiError(400, { error: { message: `${k.replace('_', ' ')} is not a date.` } });
    api[end ? 'created_lte' : 'created_gte'] = end ? t + 86399 : t;
    delete api[k];
  }
  const list = await get(`/audit${query({ limit: 50, ...api })}`);
  return [
    el('h1', { text: 'Audit log' }),
    filterBar('/audit', params, [
      ['Actor', 'actor', { placeholder: 'admin user or key id', autocomplete: 'off' }],
      ['Action', 'action', { placeholder: 'refund.create', autocomplete: 'off' }],
      ['Object', 'object', { placeholder: 'pay_…, po_…, key id', autocomplete: 'off' }],
      ['Created from', 'created_from', { type: 'date' }],
      ['Created to', 'created_to', { type: 'date' }]]),
    auditTable(list.data, 'No entry matches these filters.'), pager('/audit', params, list)];
}

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', route);
