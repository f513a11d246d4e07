/*
 * api.mjs - the /v1 endpoints (Stripe's public API surface that Tally uses).
 *
 * Owns: the route table (method + path pattern -> handler), the allow-list of
 * parameters of each endpoint (unknown parameters are a 400, as on Stripe),
 * ownership checks (an object is visible only with the Stripe-Account it was
 * created under) and rendering with expand[].
 *
 * A handler receives ctx = {params, path: {id...}, owner, request: {id,
 * idempotency_key}, publishable} and returns the JSON body of a
 * 200 answer, or throws an ApiError. Handlers run synchronously: a request's
 * work is atomic with respect to other requests.
 *
 * Invariant: routes marked `pk` are the only ones a publishable key may call,
 * and only with the PaymentIntent's client_secret (Stripe.js-style).
 */

import { PLATFORM } from './state.mjs';
import { ApiError, invalid, notFound, authError } from './errors.mjs';
import * as P from './params.mjs';
import * as Pay from './payments.mjs';
import * as Con from './connect.mjs';
import { paginate, createdFilter, render, searchQuery } from './lists.mjs';

const LIST = ['limit', 'starting_after', 'ending_before', 'created'];

function owned(emu, ctx, kind, id, noun) {
  const rec = emu.state.get(kind, id);
  if (!rec || rec.owner !== ctx.owner) throw notFound(noun, id);
  return rec;
}

function out(emu, ctx, obj) {
  return render(emu, obj, P.expandList(ctx.params));
}

function listOf(emu, ctx, kind, url, filters = [], allowed = []) {
  P.allow(ctx.params, [...LIST, ...allowed]);
  let recs = emu.state.list(kind, ctx.owner);
  const created = createdFilter(ctx.params);
  recs = recs.filter((r) => created(r) && filters.every((f) => f(r.obj)));
  return render(emu, paginate(recs, ctx.params, url), P.expandList(ctx.params));
}

function eq(params, name, field = name) {
  const v = params[name];
  if (v === undefined) return () => true;
  if (typeof v !== 'string') throw invalid(`Invalid string: ${JSON.stringify(v)}`, name);
  return (o) => {
    const f = o[field];
    return (f && typeof f === 'object' ? f.id : f) === v;
  };
}

/* ---- PaymentIntents ------------------------------------------------------------- */

const PI_CREATE = [
  'amount', 'currency', 'metadata', 'description', 'receipt_email', 'automatic_payment_methods',
  'payment_method_types', 'payment_method', 'payment_method_data', 'payment_method_options', 'confirm',
  'capture_method', 'confirmation_method', 'transfer_group', 'customer', 'statement_descriptor',
  'statement_descriptor_suffix', 'on_behalf_of', 'application_fee_amount', 'transfer_data',
  'setup_future_usage', 'return_url', 'off_session', 'error_on_requires_action', 'use_stripe_sdk', 'shipping',
  'mandate_data', 'radar_options', 'payment_method_configuration', 'allowed_payment_method_types',
  'excluded_payment_method_types',
];
const PI_UPDATE = [
  'amount', 'currency', 'metadata', 'description', 'receipt_email', 'payment_method', 'payment_method_types',
  'payment_method_options', 'capture_method', 'transfer_group', 'customer', 'statement_descriptor',
  'statement_descriptor_suffix', 'setup_future_usage', 'shipping',
];
const PI_CONFIRM = [
  'payment_method', 'payment_method_data', 'payment_method_options', 'receipt_email', 'return_url',
  'capture_method', 'setup_future_usage', 'off_session', 'error_on_requires_action', 'use_stripe_sdk', 'shipping',
  'mandate_data', 'radar_options', 'client_secret', 'key', '_stripe_version', 'expected_payment_method_type',
  'payment_method_types', '_stripe_account',
];

function piRec(emu, ctx) {
  const rec = owned(emu, ctx, 'payment_intents', ctx.path.id, 'payment_intent');
  if (ctx.publishable) {
    if (ctx.params.client_secret !== rec.obj.client_secret) {
      throw invalid(
        'The client_secret provided does not match the client_secret associated with the PaymentIntent.',
        'client_secret',
        'payment_intent_invalid_parameter',
      );
    }
  }
  return rec;
}

const routes = [];
function route(method, pattern, handler, opts = {}) {
  const names = [];
  const re = new RegExp(
    `^${pattern.replace(/:([a-z_]+)/g, (_, n) => {
      names.push(n);
      return '([^/]+)';
    })}$`,
  );
  routes.push({ method, pattern, re, names, handler, ...opts });
}

route('GET', '/v1/payment_intents', (emu, ctx) =>
  listOf(emu, ctx, 'payment_intents', '/v1/payment_intents', [eq(ctx.params, 'customer')], ['customer']),
);
route('POST', '/v1/payment_intents', (emu, ctx) => {
  P.allow(ctx.params, PI_CREATE);
  return out(emu, ctx, Pay.createPaymentIntent(emu, ctx, ctx.params));
});
route('GET', '/v1/payment_intents/search', (emu, ctx) => {
  P.allow(ctx.params, ['query', 'limit', 'page']);
  const match = searchQuery(ctx.params.query);
  const limit = ctx.params.limit === undefined ? 10 : P.int(ctx.params, 'limit', { min: 1 });
  if (limit > 100) throw invalid('Invalid integer: limit must be between 1 and 100', 'limit');
  const offset = ctx.params.page ? Number(Buffer.from(String(ctx.params.page), 'base64url').toString()) || 0 : 0;
  const cutoff = emu.state.nowMs() - emu.config.search_index_delay_ms;
  const all = emu.state
    .list('payment_intents', ctx.owner)
    .filter((r) => r.createdMs <= cutoff && match(r.obj))
    .map((r) => r.obj);
  const data = all.slice(offset, offset + limit);
  const more = offset + limit < all.length;
  return render(
    emu,
    {
      object: 'search_result',
      data,
      has_more: more,
      next_page: more ? Buffer.from(String(offset + limit)).toString('base64url') : null,
      url: '/v1/payment_intents/search',
    },
    P.expandList(ctx.params),
  );
});
/* Stripe.js (publishable key) sends many client-side extras: not checked */
route('GET', '/v1/payment_intents/:id', (emu, ctx) => {
  if (!ctx.publishable) P.allow(ctx.params, ['client_secret', 'key', '_stripe_version']);
  return out(emu, ctx, piRec(emu, ctx).obj);
}, { pk: true });
route('POST', '/v1/payment_intents/:id', (emu, ctx) => {
  P.allow(ctx.params, PI_UPDATE);
  return out(emu, ctx, Pay.updatePaymentIntent(emu, ctx, piRec(emu, ctx), ctx.params));
});
route('POST', '/v1/payment_intents/:id/confirm', (emu, ctx) => {
  if (!ctx.publishable) P.allow(ctx.params, PI_CONFIRM);
  return out(emu, ctx, Pay.confirmPaymentIntent(emu, ctx, piRec(emu, ctx), ctx.params));
}, { pk: true });
route('POST', '/v1/payment_intents/:id/cancel', (emu, ctx) => {
  P.allow(ctx.params, ['cancellation_reason']);
  return out(emu, ctx, Pay.cancelPaymentIntent(emu, ctx, piRec(emu, ctx), ctx.params));
});
route('POST', '/v1/payment_intents/:id/capture', (emu, ctx) => {
  P.allow(ctx.params, ['amount_to_capture', 'metadata', 'final_capture', 'application_fee_amount', 'statement_descriptor', 'statement_descriptor_suffix']);
  return out(emu, ctx, Pay.capturePaymentIntent(emu, ctx, piRec(emu, ctx), ctx.params));
});

/* ---- Charges ------------------------------------------------------------------------ */

route('GET', '/v1/charges', (emu, ctx) =>
  listOf(
    emu,
    ctx,
    'charges',
    '/v1/charges',
    [eq(ctx.params, 'payment_intent'), eq(ctx.params, 'customer'), eq(ctx.params, 'transfer_group')],
    ['payment_intent', 'customer', 'transfer_group'],
  ),
);
route('GET', '/v1/charges/:id', (emu, ctx) => {
  P.allow(ctx.params, []);
  return out(emu, ctx, owned(emu, ctx, 'charges', ctx.path.id, 'charge').obj);
});
route('POST', '/v1/charges/:id', (emu, ctx) => {
  P.allow(ctx.params, ['metadata', 'description', 'receipt_email', 'transfer_group', 'fraud_details', 'shipping', 'customer']);
  return out(emu, ctx, Pay.updateCharge(emu, ctx, owned(emu, ctx, 'charges', ctx.path.id, 'charge'), ctx.params));
});
route('GET', '/v1/charges/:id/refunds', (emu, ctx) => {
  owned(emu, ctx, 'charges', ctx.path.id, 'charge');
  return listOf(emu, ctx, 'refunds', `/v1/charges/${ctx.path.id}/refunds`, [(o) => o.charge === ctx.path.id]);
});

/* ---- Refunds ------------------------------------------------------------------------- */

route('GET', '/v1/refunds', (emu, ctx) =>
  listOf(emu, ctx, 'refunds', '/v1/refunds', [eq(ctx.params, 'charge'), eq(ctx.params, 'payment_intent')], [
    'charge',
    'payment_intent',
  ]),
);
route('POST', '/v1/refunds', (emu, ctx) => {
  P.allow(ctx.params, [
    'charge', 'payment_intent', 'amount', 'reason', 'metadata', 'refund_application_fee', 'reverse_transfer',
    'instructions_email', 'currency', 'origin', 'customer',
  ]);
  return out(emu, ctx, Pay.createRefund(emu, ctx, ctx.params));
});
route('GET', '/v1/refunds/:id', (emu, ctx) => {
  P.allow(ctx.params, []);
  return out(emu, ctx, owned(emu, ctx, 'refunds', ctx.path.id, 'refund').obj);
});
route('POST', '/v1/refunds/:id', (emu, ctx) => {
  P.allow(ctx.params, ['metadata']);
  return out(emu, ctx, Pay.updateRefund(emu, ctx, owned(emu, ctx, 'refunds', ctx.path.id, 'refund'), ctx.params));
});

/* ---- Disputes ------------------------------------------------------------------------ */

route('GET', '/v1/disputes', (emu, ctx) =>
  listOf(emu, ctx, 'disputes', '/v1/disputes', [eq(ctx.params, 'charge'), eq(ctx.params, 'payment_intent')], [
    'charge',
    'payment_intent',
  ]),
);
route('GET', '/v1/disputes/:id', (emu, ctx) => {
  P.allow(ctx.params, []);
  return out(emu, ctx, owned(emu, ctx, 'disputes', ctx.path.id, 'dispute').obj);
});
route('POST', '/v1/disputes/:id', (emu, ctx) => {
  P.allow(ctx.params, ['metadata', 'evidence', 'submit', 'intended_submission_method']);
  return out(emu, ctx, Pay.updateDispute(emu, ctx, owned(emu, ctx, 'disputes', ctx.path.id, 'dispute'), ctx.params));
});
route('POST', '/v1/disputes/:id/close', (emu, ctx) => {
  P.allow(ctx.params, []);
  return out(emu, ctx, Pay.closeDispute(emu, owned(emu, ctx, 'disputes', ctx.path.id, 'dispute'), 'lost', ctx.request));
});

/* ---- Balance ------------------------------------------------------------------------- */

route('GET', '/v1/balance', (emu, ctx) => {
  P.allow(ctx.params, []);
  return emu.state.balanceObject(ctx.owner);
});
route('GET', '/v1/balance_transactions', (emu, ctx) => {
  const p = ctx.params;
  const filters = [eq(p, 'source'), eq(p, 'type'), eq(p, 'currency')];
  if (p.payout !== undefined) filters.push((o) => emu.state.get('balance_transactions', o.id).extra.payout === p.payout);
  return listOf(emu, ctx, 'balance_transactions', '/v1/balance_transactions', filters, ['source', 'type', 'currency', 'payout']);
});
route('GET', '/v1/balance_transactions/:id', (emu, ctx) => {
  P.allow(ctx.params, []);
  return out(emu, ctx, owned(emu, ctx, 'balance_transactions', ctx.path.id, 'balance transaction').obj);
});

/* ---- Events -------------------------------------------------------------------------- */

route('GET', '/v1/events', (emu, ctx) => {
  const p = ctx.params;
  const filters = [];
  if (p.type !== undefined) {
    const t = P.str(p, 'type');
    if (t.includes('*')) {
      const re = new RegExp(`^${t.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
      filters.push((o) => re.test(o.type));
    } else filters.push((o) => o.type === t);
  }
  if (p.types !== undefined) {
    if (p.type !== undefined) throw invalid('You may only specify one of these parameters: type, types.', 'types');
    const types = Array.isArray(p.types) ? p.types : [p.types];
    if (types.length > 20) throw invalid('types can contain at most 20 event types', 'types');
    filters.push((o) => types.includes(o.type));
  }
  /* delivery_success=false: not yet delivered to every endpoint (still
     retrying, dropped, or given up); true: delivered everywhere */
  if (p.delivery_success !== undefined) {
    const v = String(p.delivery_success);
    if (v !== 'true' && v !== 'false') throw invalid(`Invalid boolean: ${v}`, 'delivery_success');
    filters.push((o) => (o.pending_webhooks === 0) === (v === 'true'));
  }
  return listOf(emu, ctx, 'events', '/v1/events', filters, ['type', 'types', 'delivery_success']);
});
route('GET', '/v1/events/:id', (emu, ctx) => {
  P.allow(ctx.params, []);
  return out(emu, ctx, owned(emu, ctx, 'events', ctx.path.id, 'event').obj);
});

/* ---- PaymentMethods ------------------------------------------------------------------ */

route('GET', '/v1/payment_methods/:id', (emu, ctx) => {
  P.allow(ctx.params, []);
  const rec = emu.state.get('payment_methods', ctx.path.id);
  if (!rec) throw notFound('PaymentMethod', ctx.path.id);
  return out(emu, ctx, rec.obj);
});

/* ---- Connect ------------------------------------------------------------------------- */

function platformOnly(ctx) {
  if (ctx.owner !== PLATFORM) {
    throw new ApiError(403, {
      type: 'invalid_request_error',
      code: 'platform_account_required',
      message: 'Only Stripe Connect platforms can work with other accounts.',
    });
  }
}

route('GET', '/v1/account', (emu, ctx) => {
  if (ctx.owner === PLATFORM) {
    return {
      id: PLATFORM,
      object: 'account',
      business_profile: null,
      business_type: null,
      capabilities: { card_payments: 'active', transfers: 'active' },
      charges_enabled: true,
      country: 'US',
      created: 1700000000,
      default_currency: 'usd',
      details_submitted: true,
      email: 'platform@emulator.invalid',
      metadata: {},
      payouts_enabled: true,
      type: 'standard',
    };
  }
  return out(emu, ctx, emu.state.get('accounts', ctx.owner).obj);
});
route('GET', '/v1/accounts', (emu, ctx) => {
  platformOnly(ctx);
  return listOf(emu, ctx, 'accounts', '/v1/accounts');
});
route('POST', '/v1/accounts', (emu, ctx) => {
  platformOnly(ctx);
  P.allow(ctx.params, [
    'type', 'country', 'email', 'capabilities', 'metadata', 'business_type', 'business_profile', 'default_currency',
    'controller', 'settings', 'tos_acceptance', 'individual', 'company', 'external_account',
  ]);
  return out(emu, ctx, Con.createAccount(emu, ctx, ctx.params));
});
route('GET', '/v1/accounts/:id', (emu, ctx) => {
  P.allow(ctx.params, []);
  const rec = emu.state.get('accounts', ctx.path.id);
  if (!rec || (ctx.owner !== PLATFORM && ctx.owner !== ctx.path.id)) throw notFound('account', ctx.path.id);
  return out(emu, ctx, rec.obj);
});
route('POST', '/v1/accounts/:id', (emu, ctx) => {
  platformOnly(ctx);
  P.allow(ctx.params, ['email', 'metadata', 'capabilities', 'business_profile', 'settings', 'business_type', 'tos_acceptance']);
  return out(emu, ctx, Con.updateAccount(emu, ctx, owned(emu, ctx, 'accounts', ctx.path.id, 'account'), ctx.params));
});
route('DELETE', '/v1/accounts/:id', (emu, ctx) => {
  platformOnly(ctx);
  const rec = owned(emu, ctx, 'accounts', ctx.path.id, 'account');
  emu.state.kinds.accounts.delete(rec.obj.id);
  emu.state.byId.delete(rec.obj.id);
  return { id: rec.obj.id, object: 'account', deleted: true };
});
route('POST', '/v1/account_links', (emu, ctx) => {
  platformOnly(ctx);
  P.allow(ctx.params, ['account', 'type', 'refresh_url', 'return_url', 'collect', 'collection_options']);
  return Con.createAccountLink(emu, ctx, ctx.params);
});

route('GET', '/v1/transfers', (emu, ctx) =>
  listOf(emu, ctx, 'transfers', '/v1/transfers', [eq(ctx.params, 'destination'), eq(ctx.params, 'transfer_group')], [
    'destination',
    'transfer_group',
  ]),
);
route('POST', '/v1/transfers', (emu, ctx) => {
  P.allow(ctx.params, [
    'amount', 'currency', 'destination', 'transfer_group', 'metadata', 'source_transaction', 'description', 'source_type',
  ]);
  return out(emu, ctx, Con.createTransfer(emu, ctx, ctx.params));
});
route('GET', '/v1/transfers/:id', (emu, ctx) => {
  P.allow(ctx.params, []);
  return out(emu, ctx, owned(emu, ctx, 'transfers', ctx.path.id, 'transfer').obj);
});
route('POST', '/v1/transfers/:id', (emu, ctx) => {
  P.allow(ctx.params, ['metadata', 'description']);
  return out(emu, ctx, Con.updateTransfer(emu, ctx, owned(emu, ctx, 'transfers', ctx.path.id, 'transfer'), ctx.params));
});
route('POST', '/v1/transfers/:id/reversals', (emu, ctx) => {
  P.allow(ctx.params, ['amount', 'metadata', 'description', 'refund_application_fee']);
  return out(emu, ctx, Con.createReversal(emu, ctx, owned(emu, ctx, 'transfers', ctx.path.id, 'transfer'), ctx.params));
});
route('GET', '/v1/transfers/:id/reversals', (emu, ctx) => {
  owned(emu, ctx, 'transfers', ctx.path.id, 'transfer');
  return listOf(emu, ctx, 'transfer_reversals', `/v1/transfers/${ctx.path.id}/reversals`, [(o) => o.transfer === ctx.path.id]);
});
function reversalRec(emu, ctx) {
  const trRec = owned(emu, ctx, 'transfers', ctx.path.id, 'transfer');
  const rrec = emu.state.get('transfer_reversals', ctx.path.rid);
  if (!rrec || rrec.obj.transfer !== trRec.obj.id) throw notFound('transfer reversal', ctx.path.rid);
  return [trRec, rrec];
}
route('GET', '/v1/transfers/:id/reversals/:rid', (emu, ctx) => {
  P.allow(ctx.params, []);
  return out(emu, ctx, reversalRec(emu, ctx)[1].obj);
});
route('POST', '/v1/transfers/:id/reversals/:rid', (emu, ctx) => {
  P.allow(ctx.params, ['metadata']);
  const [trRec, rrec] = reversalRec(emu, ctx);
  return out(emu, ctx, Con.updateReversal(emu, ctx, trRec, rrec, ctx.params));
});

route('GET', '/v1/payouts', (emu, ctx) =>
  listOf(emu, ctx, 'payouts', '/v1/payouts', [eq(ctx.params, 'status'), eq(ctx.params, 'destination')], ['status', 'destination', 'arrival_date']),
);
route('GET', '/v1/payouts/:id', (emu, ctx) => {
  P.allow(ctx.params, []);
  return out(emu, ctx, owned(emu, ctx, 'payouts', ctx.path.id, 'payout').obj);
});

/* ---- dispatch ------------------------------------------------------------------------- */

export function match(method, path) {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== method) continue;
    const params = {};
    r.names.forEach((n, i) => {
      params[n] = decodeURIComponent(m[i + 1]);
    });
    return { route: r, path: params };
  }
  return { route: null, pathMatched };
}

export function unrecognized(method, path) {
  return new ApiError(404, {
    type: 'invalid_request_error',
    message:
      `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at ` +
      'https://support.stripe.com/.',
  });
}

export function publishableRefused() {
  return authError(
    'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of ' +
      'your API keys at https://dashboard.stripe.com/account/apikeys.',
    'secret_key_required',
  );
}

export { routes };
