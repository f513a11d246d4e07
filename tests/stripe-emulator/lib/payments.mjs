/*
 * payments.mjs - PaymentIntents, Charges, Refunds and Disputes.
 *
 * Owns: the state machines and their events:
 *   PaymentIntent  requires_payment_method -> requires_confirmation ->
 *                  (requires_action) -> (processing) -> requires_capture |
 *                  succeeded; canceled from any non-final state.
 *   Charge         pending | succeeded (captured or not) | failed; refunds and
 *                  disputes move amount_refunded / disputed.
 *   Refund         a card refund is succeeded at creation, as on Stripe;
 *                  one that fails (fail_next, or a charge of Stripe's
 *                  refund-failure card pm_card_refundFail, 4000000000005126)
 *                  becomes failed after config.refund_settle_delay_ms.
 *                  With config.refund_async (methods whose refunds really
 *                  are asynchronous): pending -> succeeded | failed after
 *                  the delay (fail_next makes it fail; fail_next with
 *                  after_success or the refund-failure card: succeeded,
 *                  then failed after another delay).
 *   Dispute        needs_response -> won | lost | warning_closed.
 *
 * Event sequences (types exist in stripe-node 23.1.0 Events.d.ts):
 *   success           charge.succeeded, payment_intent.succeeded
 *                     (+ charge.updated with balance_transaction later when
 *                     capture_method=automatic_async)
 *   manual capture    charge.succeeded, payment_intent.amount_capturable_updated;
 *                     capture: charge.captured, payment_intent.succeeded
 *   decline           charge.failed, payment_intent.payment_failed (402 card_error)
 *   3DS               payment_intent.requires_action; then as success, or
 *                     payment_intent.payment_failed
 *   processing        charge.pending, payment_intent.processing; then as success
 *   cancel            (charge.refunded when an authorization is released),
 *                     payment_intent.canceled
 *   refund            refund.created, charge.refunded (succeeded at once);
 *                     a failure later: refund.updated + charge.refund.updated
 *                     + refund.failed + charge.updated.  refund_async: later
 *                     refund.updated + charge.refund.updated (succeeded), and
 *                     for a failure the four above
 *   dispute           charge.dispute.created, charge.dispute.funds_withdrawn;
 *                     close: (charge.dispute.funds_reinstated) charge.dispute.closed
 *
 * Invariants: the refundable amount of a charge is amount_captured minus the
 * refunds that are pending or succeeded (rec.refunded); charge.amount_refunded
 * = uncaptured remainder + rec.refunded; a charge with an open dispute cannot
 * be refunded; money moves only through emu.addBT + credit/debit.
 */

import * as O from './objects.mjs';
import { ApiError, invalid, stateError } from './errors.mjs';
import { feeFor, disputeFee, formatAmount } from './currencies.mjs';
import * as P from './params.mjs';

const OPEN_DISPUTE = ['needs_response', 'under_review', 'warning_needs_response', 'warning_under_review'];

/* ---- payment methods ------------------------------------------------------- */

/* A test PM id (pm_card_visa) becomes a fresh pm_1... object, as on Stripe. */
export function resolvePaymentMethod(emu, owner, id, param = 'payment_method') {
  if (O.TEST_PAYMENT_METHODS[id]) {
    const pm = O.paymentMethod(O.newId('pm'), O.TEST_PAYMENT_METHODS[id], emu.now());
    return emu.state.put('payment_methods', pm, owner, { spec: O.TEST_PAYMENT_METHODS[id], testName: id });
  }
  const rec = emu.state.get('payment_methods', id);
  if (!rec) {
    throw new ApiError(400, {
      type: 'invalid_request_error',
      code: 'resource_missing',
      message: `No such PaymentMethod: '${id}'`,
      param,
    });
  }
  return rec;
}

export function paymentMethodFromData(emu, owner, data) {
  if (!data || typeof data !== 'object') throw invalid('Invalid hash', 'payment_method_data');
  if (data.type !== 'card') {
    throw invalid('The emulator supports payment_method_data[type]=card only.', 'payment_method_data[type]');
  }
  const card = data.card || {};
  let name = null;
  if (card.number) name = O.TEST_CARD_NUMBERS[String(card.number).replace(/\s+/g, '')];
  if (!name && card.token) name = { tok_visa: 'pm_card_visa', tok_mastercard: 'pm_card_mastercard', tok_chargeDeclined: 'pm_card_chargeDeclined' }[card.token];
  if (!name) {
    throw new ApiError(402, {
      type: 'card_error',
      code: 'incorrect_number',
      message: 'Your card number is incorrect.',
      param: 'number',
    });
  }
  return resolvePaymentMethod(emu, owner, name, 'payment_method_data');
}

/* ---- PaymentIntents ------------------------------------------------------------ */

/*
 * Stripe refuses a server-side confirmation of a PaymentIntent whose
 * automatic_payment_methods allow redirects (the default) unless a return_url
 * is given - even for a card that never redirects. Stripe.js confirmations
 * (publishable key / use_stripe_sdk) and off-session payments are not checked.
 */
function requireReturnUrl(ctx, apm, p) {
  if (ctx.publishable || p.use_stripe_sdk === 'true' || p.off_session === true || p.off_session === 'true') return;
  if (!apm || !apm.enabled || apm.allow_redirects === 'never') return;
  if (typeof p.return_url === 'string' && p.return_url) return;
  throw invalid(
    'A `return_url` must be specified because this Payment Intent is configured to automatically accept the ' +
      'payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you ' +
      'do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and ' +
      '`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.',
    'return_url',
  );
}

export function createPaymentIntent(emu, ctx, p) {
  const amount = P.int(p, 'amount', { required: true });
  const cur = P.currency(p, 'currency');
  P.checkChargeAmount(amount, cur);
  const capture_method = P.oneOf(p, 'capture_method', ['automatic', 'automatic_async', 'manual']) || 'automatic_async';
  const confirmation_method = P.oneOf(p, 'confirmation_method', ['automatic', 'manual']);
  const md = P.metadata(p);
  const confirm = P.bool(p, 'confirm') === true;
  let payment_method_types = p.payment_method_types;
  let automatic_payment_methods = null;
  if (payment_method_types !== undefined) {
    if (!Array.isArray(payment_method_types)) throw invalid('Invalid array', 'payment_method_types');
    for (const t of payment_method_types) {
      if (t !== 'card') throw invalid(`The payment method type "${t}" is invalid. The emulator supports "card".`, 'payment_method_types');
    }
    if (p.automatic_payment_methods && P.bool(p.automatic_payment_methods, 'enabled')) {
      throw invalid(
        'You may only specify one of these parameters: automatic_payment_methods, payment_method_types.',
        'automatic_payment_methods',
        'parameter_exclusive',
      );
    }
  } else {
    const apm = p.automatic_payment_methods;
    const enabled = apm === undefined ? true : P.bool(apm, 'enabled');
    if (apm !== undefined && typeof apm !== 'object') throw invalid('Invalid hash', 'automatic_payment_methods');
    payment_method_types = ['card'];
    if (enabled !== false) {
      automatic_payment_methods = {
        allow_redirects: (apm && P.oneOf(apm, 'allow_redirects', ['always', 'never'])) || 'always',
        enabled: true,
      };
    }
  }
  let transfer_data;
  if (p.transfer_data !== undefined) {
    if (typeof p.transfer_data !== 'object' || !p.transfer_data.destination) {
      throw invalid('Missing required param: transfer_data[destination].', 'transfer_data[destination]', 'parameter_missing');
    }
    transfer_data = { destination: p.transfer_data.destination };
    if (p.transfer_data.amount !== undefined) transfer_data.amount = P.int(p.transfer_data, 'amount');
  }
  let allowed_payment_method_types;
  if (p.allowed_payment_method_types !== undefined) {
    if (!Array.isArray(p.allowed_payment_method_types)) throw invalid('Invalid array', 'allowed_payment_method_types');
    allowed_payment_method_types = p.allowed_payment_method_types.map(String);
  }
  const customer = P.str(p, 'customer');
  const description = P.str(p, 'description');
  const receipt_email = P.str(p, 'receipt_email');
  const transfer_group = P.str(p, 'transfer_group');
  const statement_descriptor = P.str(p, 'statement_descriptor', { max: 22 });
  const statement_descriptor_suffix = P.str(p, 'statement_descriptor_suffix', { max: 22 });
  const on_behalf_of = P.str(p, 'on_behalf_of');
  const application_fee_amount = P.int(p, 'application_fee_amount', { min: 0 });
  const setup_future_usage = P.oneOf(p, 'setup_future_usage', ['on_session', 'off_session']);
  const off_session = p.off_session === undefined ? undefined : p.off_session === 'true' || p.off_session === 'one_off' || p.off_session === 'recurring';
  if (p.off_session !== undefined && !confirm) {
    throw invalid('You can only pass off_session when confirm=true.', 'off_session');
  }
  if (confirm) requireReturnUrl(ctx, automatic_payment_methods, { ...p, off_session });
  let pmRec = null;
  if (p.payment_method !== undefined) pmRec = resolvePaymentMethod(emu, ctx.owner, P.str(p, 'payment_method'));
  else if (p.payment_method_data !== undefined) pmRec = paymentMethodFromData(emu, ctx.owner, p.payment_method_data);
  if (confirm && !pmRec) {
    throw invalid(
      "You cannot confirm this PaymentIntent because it's missing a payment method. Update the PaymentIntent with a " +
        'payment method and then confirm it again.',
      'payment_method',
      'payment_intent_unexpected_state',
    );
  }

  const pi = O.paymentIntent({
    id: O.newId('pi'),
    amount,
    currency: cur,
    capture_method,
    confirmation_method,
    created: emu.now(),
    metadata: P.applyMetadata({}, md),
    description,
    receipt_email,
    transfer_group,
    statement_descriptor,
    statement_descriptor_suffix,
    customer,
    on_behalf_of,
    application_fee_amount,
    setup_future_usage,
    transfer_data,
    automatic_payment_methods,
    allowed_payment_method_types,
    payment_method_types,
    status: pmRec ? 'requires_confirmation' : 'requires_payment_method',
  });
  if (pmRec) pi.payment_method = pmRec.obj.id;
  const rec = emu.state.put('payment_intents', pi, ctx.owner, { pm: pmRec });
  emu.emit('payment_intent.created', pi, { owner: ctx.owner, request: ctx.request });
  if (confirm) {
    return confirmPaymentIntent(emu, ctx, rec, { return_url: p.return_url, off_session }, { fromCreate: true });
  }
  return pi;
}

export function updatePaymentIntent(emu, ctx, rec, p) {
  const pi = rec.obj;
  const md = P.metadata(p);
  const fixedStates = ['succeeded', 'canceled', 'processing', 'requires_capture'];
  if ((p.amount !== undefined || p.currency !== undefined) && fixedStates.includes(pi.status)) {
    throw stateError(
      `This PaymentIntent's amount could not be updated because it has a status of ${pi.status}. You may only ` +
        'update the amount of a PaymentIntent with one of the following statuses: requires_payment_method, ' +
        'requires_confirmation, requires_action.',
      'payment_intent_unexpected_state',
      'amount',
    );
  }
  const amount = P.int(p, 'amount');
  const cur = p.currency !== undefined ? P.currency(p, 'currency') : pi.currency;
  if (amount !== undefined) P.checkChargeAmount(amount, cur);
  let pmRec;
  if (p.payment_method !== undefined) {
    if (fixedStates.includes(pi.status)) {
      throw stateError(`You cannot update this PaymentIntent's payment method because it has a status of ${pi.status}.`, 'payment_intent_unexpected_state', 'payment_method');
    }
    pmRec = resolvePaymentMethod(emu, ctx.owner, P.str(p, 'payment_method'));
  }
  const capture_method = P.oneOf(p, 'capture_method', ['automatic', 'automatic_async', 'manual']);
  if (amount !== undefined) pi.amount = amount;
  if (p.currency !== undefined) pi.currency = cur;
  if (md !== undefined) pi.metadata = P.applyMetadata(pi.metadata, md);
  for (const k of ['description', 'receipt_email', 'transfer_group', 'statement_descriptor', 'statement_descriptor_suffix', 'customer']) {
    const v = P.nullableStr(p, k);
    if (v !== undefined) pi[k] = v;
  }
  if (capture_method) pi.capture_method = capture_method;
  if (pmRec) {
    pi.payment_method = pmRec.obj.id;
    rec.pm = pmRec;
    if (pi.status === 'requires_payment_method') pi.status = 'requires_confirmation';
  }
  return pi;
}

function piStateError(verb, pi, allowed) {
  return stateError(
    `You cannot ${verb} this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one ` +
      `of the following statuses may be ${verb === 'cancel' ? 'canceled' : verb + 'ed'}: ${allowed.join(', ')}.`,
    'payment_intent_unexpected_state',
  );
}

export function confirmPaymentIntent(emu, ctx, rec, p, { fromCreate = false } = {}) {
  const pi = rec.obj;
  if (!fromCreate) {
    if (pi.status === 'succeeded') {
      throw stateError(
        'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.',
        'payment_intent_unexpected_state',
      );
    }
    if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(pi.status)) {
      throw stateError(
        `You cannot confirm this PaymentIntent because it has a status of ${pi.status}.`,
        'payment_intent_unexpected_state',
      );
    }
    requireReturnUrl(ctx, pi.automatic_payment_methods, p);
    let pmRec = null;
    if (p.payment_method !== undefined) pmRec = resolvePaymentMethod(emu, ctx.owner, P.str(p, 'payment_method'));
    else if (p.payment_method_data !== undefined) pmRec = paymentMethodFromData(emu, ctx.owner, p.payment_method_data);
    else if (pi.payment_method) pmRec = rec.pm || emu.state.get('payment_methods', pi.payment_method);
    if (!pmRec) {
      throw invalid(
        "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent, " +
          'specify a payment_method.',
        'payment_method',
        'payment_intent_unexpected_state',
      );
    }
    const receipt_email = P.str(p, 'receipt_email');
    if (receipt_email !== undefined) pi.receipt_email = receipt_email;
    const capture_method = P.oneOf(p, 'capture_method', ['automatic', 'automatic_async', 'manual']);
    if (capture_method) pi.capture_method = capture_method;
    if (pmRec !== rec.pm) rec.authenticated = false;
    rec.pm = pmRec;
    pi.payment_method = pmRec.obj.id;
  }
  rec.returnUrl = typeof p.return_url === 'string' ? p.return_url : rec.returnUrl;
  const spec = rec.pm.spec;
  pi.last_payment_error = null;
  pi.next_action = null;

  if (spec.outcome === 'authenticate' && !rec.authenticated) {
    if (p.off_session === true || p.off_session === 'true') {
      return decline(emu, ctx, rec, {
        code: 'authentication_required',
        decline_code: 'authentication_required',
        message: 'Your card was declined. This transaction requires authentication.',
      });
    }
    pi.status = 'requires_action';
    const url = `${emu.baseUrl}/__emu/3ds/${pi.id}`;
    if (rec.returnUrl) {
      pi.next_action = { redirect_to_url: { return_url: rec.returnUrl, url }, type: 'redirect_to_url' };
    } else {
      pi.next_action = {
        type: 'use_stripe_sdk',
        use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: url, source: `src_${O.randomId(24)}` },
      };
    }
    emu.emit('payment_intent.requires_action', pi, { owner: rec.owner, request: ctx.request });
    return pi;
  }
  if (spec.outcome === 'decline') return decline(emu, ctx, rec, spec);
  if (spec.outcome === 'processing') {
    const ch = newCharge(emu, rec, 'pending');
    pi.status = 'processing';
    pi.processing = { card: {}, type: 'card' };
    pi.latest_charge = ch.id;
    emu.emit('charge.pending', ch, { owner: rec.owner, request: ctx.request });
    emu.emit('payment_intent.processing', pi, { owner: rec.owner, request: ctx.request });
    return pi;
  }
  const ch = newCharge(emu, rec, 'succeeded');
  pi.latest_charge = ch.id;
  authorizeSucceeded(emu, ctx.request, rec, emu.state.get('charges', ch.id));
  return pi;
}

function newCharge(emu, piRec, status, decl) {
  const pi = piRec.obj;
  const ch = O.charge({
    id: O.newId('ch'),
    amount: pi.amount,
    currency: pi.currency,
    created: emu.now(),
    payment_intent: pi.id,
    pm: piRec.pm.obj,
    status,
    metadata: pi.metadata,
    description: pi.description,
    receipt_email: pi.receipt_email,
    transfer_group: pi.transfer_group,
    statement_descriptor: pi.statement_descriptor,
    statement_descriptor_suffix: pi.statement_descriptor_suffix,
    customer: pi.customer,
    on_behalf_of: pi.on_behalf_of,
    application_fee_amount: pi.application_fee_amount,
    transfer_data: pi.transfer_data,
    three_d_secure: piRec.authenticated,
    failure_code: decl && decl.code,
    failure_message: decl && decl.message,
    decline_code: decl && decl.decline_code,
    baseUrl: emu.baseUrl,
  });
  emu.state.put('charges', ch, piRec.owner, {
    refunded: 0, transferred: 0, bypassPending: !!piRec.pm.spec.bypassPending, refundFail: !!piRec.pm.spec.refundFail,
  });
  return ch;
}

function decline(emu, ctx, rec, d) {
  const pi = rec.obj;
  const ch = newCharge(emu, rec, 'failed', d);
  const pmObj = JSON.parse(JSON.stringify(rec.pm.obj));
  pi.latest_charge = ch.id;
  pi.status = 'requires_payment_method';
  pi.payment_method = null;
  pi.next_action = null;
  pi.last_payment_error = {
    charge: ch.id,
    code: d.code,
    decline_code: d.decline_code,
    doc_url: `https://stripe.com/docs/error-codes/${d.code.replace(/_/g, '-')}`,
    message: d.message,
    ...(d.param ? { param: d.param } : {}),
    payment_method: pmObj,
    type: 'card_error',
  };
  emu.emit('charge.failed', ch, { owner: rec.owner, request: ctx.request });
  emu.emit('payment_intent.payment_failed', pi, { owner: rec.owner, request: ctx.request });
  throw new ApiError(
    402,
    {
      type: 'card_error',
      code: d.code,
      decline_code: d.decline_code,
      message: d.message,
      param: d.param,
      charge: ch.id,
      payment_intent: JSON.parse(JSON.stringify(pi)),
      payment_method: pmObj,
    },
    { stored: true },
  );
}

/* A charge was authorized: capture it now (automatic*) or hold it (manual). */
function authorizeSucceeded(emu, request, piRec, chRec) {
  const pi = piRec.obj;
  const ch = chRec.obj;
  ch.status = 'succeeded';
  ch.paid = true;
  ch.outcome = O.charge({ ...ch, pm: piRec.pm.obj, status: 'succeeded', baseUrl: emu.baseUrl }).outcome;
  const owner = piRec.owner;
  if (pi.capture_method === 'manual') {
    pi.status = 'requires_capture';
    pi.amount_capturable = pi.amount;
    emu.emit('charge.succeeded', ch, { owner, request });
    emu.emit('payment_intent.amount_capturable_updated', pi, { owner, request });
    return;
  }
  ch.captured = true;
  ch.amount_captured = ch.amount;
  pi.status = 'succeeded';
  pi.amount_received = pi.amount;
  pi.processing = null;
  if (pi.capture_method === 'automatic_async') {
    emu.emit('charge.succeeded', ch, { owner, request });
    emu.emit('payment_intent.succeeded', pi, { owner, request });
    emu.state.schedule(emu.config.async_capture_delay_ms, () => {
      if (!emu.state.get('charges', ch.id)) return; // reset meanwhile
      chargeBalanceTransaction(emu, chRec, ch.amount_captured);
      emu.emit('charge.updated', ch, { owner, previous: { balance_transaction: null } });
    });
  } else {
    chargeBalanceTransaction(emu, chRec, ch.amount_captured);
    emu.emit('charge.succeeded', ch, { owner, request });
    emu.emit('payment_intent.succeeded', pi, { owner, request });
  }
}

function chargeBalanceTransaction(emu, chRec, amount) {
  const ch = chRec.obj;
  const st = emu.settle(chRec.owner, ch.currency, amount); // the fee: in the settlement currency
  const fee = feeFor(st.currency, st.amount);
  const now = emu.now();
  const available = chRec.bypassPending;
  const bt = emu.addBT(chRec.owner, {
    ...st,
    fee,
    available_on: available ? now : (Math.floor(now / 86400) + 2) * 86400,
    description: ch.description,
    reporting_category: 'charge',
    source: ch.id,
    status: available ? 'available' : 'pending',
    type: 'charge',
  });
  emu.credit(chRec.owner, bt.currency, bt.net, available ? 'available' : 'pending');
  ch.balance_transaction = bt.id;
  return bt;
}

export function capturePaymentIntent(emu, ctx, rec, p) {
  const pi = rec.obj;
  if (pi.status !== 'requires_capture') {
    throw stateError(
      `This PaymentIntent could not be captured because it has a status of ${pi.status}. Only a PaymentIntent ` +
        'with one of the following statuses may be captured: requires_capture.',
      'payment_intent_unexpected_state',
    );
  }
  const amount = P.int(p, 'amount_to_capture', { min: 1 }) ?? pi.amount_capturable;
  if (amount > pi.amount_capturable) {
    throw invalid(
      `The amount to capture (${amount}) cannot be greater than the amount capturable (${pi.amount_capturable}).`,
      'amount_to_capture',
      'amount_too_large',
    );
  }
  const md = P.metadata(p);
  if (md !== undefined) pi.metadata = P.applyMetadata(pi.metadata, md);
  const chRec = emu.state.get('charges', pi.latest_charge);
  const ch = chRec.obj;
  ch.captured = true;
  ch.amount_captured = amount;
  ch.amount_refunded = ch.amount - amount;
  chargeBalanceTransaction(emu, chRec, amount);
  pi.status = 'succeeded';
  pi.amount_received = amount;
  pi.amount_capturable = 0;
  emu.emit('charge.captured', ch, { owner: rec.owner, request: ctx.request });
  emu.emit('payment_intent.succeeded', pi, { owner: rec.owner, request: ctx.request });
  return pi;
}

export function cancelPaymentIntent(emu, ctx, rec, p) {
  const pi = rec.obj;
  const allowed = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action', 'processing'];
  if (!allowed.slice(0, 4).includes(pi.status)) throw piStateError('cancel', pi, allowed);
  const reason = P.oneOf(p, 'cancellation_reason', ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']);
  if (pi.status === 'requires_capture') {
    const ch = emu.state.get('charges', pi.latest_charge).obj;
    ch.amount_refunded = ch.amount;
    ch.refunded = true;
    emu.emit('charge.refunded', ch, { owner: rec.owner, request: ctx.request });
  }
  pi.status = 'canceled';
  pi.canceled_at = emu.now();
  pi.cancellation_reason = reason || null;
  pi.amount_capturable = 0;
  pi.next_action = null;
  emu.emit('payment_intent.canceled', pi, { owner: rec.owner, request: ctx.request });
  return pi;
}

/* test helper: finish 3-D Secure */
export function authenticatePaymentIntent(emu, rec, result, request) {
  const pi = rec.obj;
  if (pi.status !== 'requires_action') {
    throw stateError(`PaymentIntent ${pi.id} has status ${pi.status}, not requires_action.`, 'payment_intent_unexpected_state');
  }
  pi.next_action = null;
  if (result === 'fail') {
    const pmObj = JSON.parse(JSON.stringify(rec.pm.obj));
    pi.status = 'requires_payment_method';
    pi.payment_method = null;
    pi.last_payment_error = {
      code: 'payment_intent_authentication_failure',
      doc_url: 'https://stripe.com/docs/error-codes/payment-intent-authentication-failure',
      message:
        'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new ' +
        'PaymentMethod to attempt to fulfill this PaymentIntent again.',
      payment_method: pmObj,
      type: 'invalid_request_error',
    };
    emu.emit('payment_intent.payment_failed', pi, { owner: rec.owner, request });
    return pi;
  }
  rec.authenticated = true;
  return confirmPaymentIntent(emu, { owner: rec.owner, request }, rec, {}, { fromCreate: true });
}

/* test helper: a `processing` payment settles (or fails) */
export function settlePaymentIntent(emu, rec, result, request) {
  const pi = rec.obj;
  if (pi.status !== 'processing') {
    throw stateError(`PaymentIntent ${pi.id} has status ${pi.status}, not processing.`, 'payment_intent_unexpected_state');
  }
  const chRec = emu.state.get('charges', pi.latest_charge);
  if (result === 'fail') {
    const d = { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' };
    const ch = chRec.obj;
    ch.status = 'failed';
    ch.failure_code = d.code;
    ch.failure_message = d.message;
    ch.outcome = O.charge({ ...ch, pm: rec.pm.obj, status: 'failed', decline_code: d.decline_code, baseUrl: emu.baseUrl }).outcome;
    ch.receipt_url = null;
    pi.status = 'requires_payment_method';
    pi.processing = null;
    pi.payment_method = null;
    pi.last_payment_error = {
      charge: ch.id,
      code: d.code,
      decline_code: d.decline_code,
      doc_url: 'https://stripe.com/docs/error-codes/card-declined',
      message: d.message,
      payment_method: JSON.parse(JSON.stringify(rec.pm.obj)),
      type: 'card_error',
    };
    emu.emit('charge.failed', ch, { owner: rec.owner, request });
    emu.emit('payment_intent.payment_failed', pi, { owner: rec.owner, request });
    return pi;
  }
  authorizeSucceeded(emu, request, rec, chRec);
  return pi;
}

/* ---- Refunds ------------------------------------------------------------------- */

export function chargeForRefund(emu, ctx, p) {
  let chRec = null;
  if (p.charge !== undefined) {
    const id = P.str(p, 'charge');
    chRec = emu.state.get('charges', id);
    if (!chRec || chRec.owner !== ctx.owner) {
      throw new ApiError(400, { type: 'invalid_request_error', code: 'resource_missing', message: `No such charge: '${id}'`, param: 'charge' });
    }
  }
  if (p.payment_intent !== undefined) {
    const id = P.str(p, 'payment_intent');
    const piRec = emu.state.get('payment_intents', id);
    if (!piRec || piRec.owner !== ctx.owner) {
      throw new ApiError(400, { type: 'invalid_request_error', code: 'resource_missing', message: `No such payment_intent: '${id}'`, param: 'payment_intent' });
    }
    const pi = piRec.obj;
    if (chRec && chRec.obj.payment_intent !== pi.id) {
      throw invalid(`Charge ${chRec.obj.id} does not belong to PaymentIntent ${pi.id}.`, 'charge');
    }
    if (!chRec) {
      const latest = pi.latest_charge && emu.state.get('charges', pi.latest_charge);
      if (!latest || latest.obj.status !== 'succeeded') {
        throw stateError(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, 'charge_not_refundable', 'payment_intent');
      }
      chRec = latest;
    }
  }
  if (!chRec) {
    throw invalid('One of the following params should be provided for this request: payment_intent or charge.', 'charge', 'parameter_missing');
  }
  return chRec;
}

export function createRefund(emu, ctx, p) {
  const chRec = chargeForRefund(emu, ctx, p);
  const amountParam = P.int(p, 'amount', { min: 1 });
  const reason = P.oneOf(p, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer']);
  const md = P.metadata(p);
  const ch = chRec.obj;
  if (ch.status !== 'succeeded' || !ch.captured) {
    throw stateError(
      ch.status === 'succeeded'
        ? `Charge ${ch.id} has not been captured; cancel its PaymentIntent to release the authorization.`
        : `Charge ${ch.id} has a status of ${ch.status} and cannot be refunded.`,
      'charge_not_refundable',
    );
  }
  const dp = chRec.dispute && emu.state.get('disputes', chRec.dispute);
  if (dp && dp.obj.status !== 'won') {
    throw stateError(`Charge ${ch.id} has been charged back; cannot issue a refund.`, 'charge_disputed');
  }
  const refundable = ch.amount_captured - chRec.refunded;
  if (refundable <= 0) throw stateError(`Charge ${ch.id} has already been refunded.`, 'charge_already_refunded');
  const amount = amountParam ?? refundable;
  if (amount > refundable) {
    throw stateError(
      `Refund amount (${formatAmount(ch.currency, amount)}) is greater than unrefunded amount on charge ` +
        `(${formatAmount(ch.currency, refundable)})`,
      'amount_too_large',
      'amount',
    );
  }
  const re = O.refund({
    id: O.newId('re'),
    amount,
    charge: ch.id,
    created: emu.now(),
    currency: ch.currency,
    metadata: P.applyMetadata({}, md),
    payment_intent: ch.payment_intent,
    payment_method: ch.payment_method,
    reason,
  });
  const bt = emu.addBT(chRec.owner, {
    ...emu.settle(chRec.owner, ch.currency, -amount),
    fee: 0,
    description: reason ? `REFUND FOR CHARGE (${reason})` : 'REFUND FOR CHARGE',
    reporting_category: 'refund',
    source: re.id,
    status: 'available',
    type: 'refund',
  });
  emu.debit(chRec.owner, bt.currency, -bt.amount);
  re.balance_transaction = bt.id;
  const pending = !!emu.config.refund_async;
  let willFail = emu.state.failNextRefunds > 0;
  if (willFail) {
    emu.state.failNextRefunds -= 1;
    if (emu.state.failAfterSuccess) willFail = 'after_success';
  }
  /* Stripe's refund-failure card: succeeded first, failed later; and a
     card refund that is succeeded at once can only fail after that */
  if (chRec.refundFail || (willFail && !pending)) willFail = 'after_success';
  if (!pending) re.status = 'succeeded';
  const reRec = emu.state.put('refunds', re, chRec.owner, { willFail, dashboard: !!ctx.dashboard });
  chRec.refunded += amount;
  ch.amount_refunded = ch.amount - ch.amount_captured + chRec.refunded;
  ch.refunded = ch.amount_refunded >= ch.amount;
  emu.emit('refund.created', re, { owner: chRec.owner, request: ctx.request });
  emu.emit('charge.refunded', ch, { owner: chRec.owner, request: ctx.request });
  if (pending || willFail) emu.state.schedule(emu.config.refund_settle_delay_ms, () => settleRefund(emu, reRec, chRec));
  return re;
}

function settleRefund(emu, reRec, chRec) {
  const re = reRec.obj;
  const late = reRec.willFail === 'after_success' && re.status === 'succeeded';
  if ((re.status !== 'pending' && !late) || !emu.state.get('refunds', re.id)) return;
  const owner = reRec.owner;
  const ch = chRec.obj;
  if (reRec.willFail && (reRec.willFail !== 'after_success' || late)) {
    const was = re.status;
    re.status = 'failed';
    re.failure_reason = 'expired_or_canceled_card';
    const bt = emu.addBT(owner, {
      ...emu.settle(owner, re.currency, re.amount),
      fee: 0,
      description: 'REFUND FAILURE',
      reporting_category: 'refund_failure',
      source: re.id,
      status: 'available',
      type: 'refund_failure',
    });
    emu.credit(owner, bt.currency, bt.amount, 'available');
    re.failure_balance_transaction = bt.id;
    const prevCharge = { amount_refunded: ch.amount_refunded, refunded: ch.refunded };
    chRec.refunded -= re.amount;
    ch.amount_refunded = ch.amount - ch.amount_captured + chRec.refunded;
    ch.refunded = ch.amount_refunded >= ch.amount;
    emu.emit('refund.updated', re, { owner, previous: { status: was } });
    emu.emit('charge.refund.updated', re, { owner, previous: { status: was } });
    emu.emit('refund.failed', re, { owner });
    emu.emit('charge.updated', ch, { owner, previous: prevCharge });
    return;
  }
  re.status = 'succeeded';
  re.destination_details = {
    card: {
      reference: O.randomId(23).replace(/[^0-9]/g, '4'),
      reference_status: 'available',
      reference_type: 'acquirer_reference_number',
      type: 'refund',
    },
    type: 'card',
  };
  emu.emit('refund.updated', re, { owner, previous: { status: 'pending' } });
  emu.emit('charge.refund.updated', re, { owner, previous: { status: 'pending' } });
  if (reRec.willFail === 'after_success') {
    emu.state.schedule(emu.config.refund_settle_delay_ms, () => settleRefund(emu, reRec, chRec));
  }
}

export function updateRefund(emu, ctx, rec, p) {
  const md = P.metadata(p);
  const re = rec.obj;
  if (md === undefined) return re;
  const previous = { metadata: { ...re.metadata } };
  re.metadata = P.applyMetadata(re.metadata || {}, md);
  emu.emit('refund.updated', re, { owner: rec.owner, previous, request: ctx.request });
  return re;
}

export function updateCharge(emu, ctx, rec, p) {
  const ch = rec.obj;
  const md = P.metadata(p);
  const previous = {};
  if (md !== undefined) {
    previous.metadata = { ...ch.metadata };
    ch.metadata = P.applyMetadata(ch.metadata, md);
  }
  for (const k of ['description', 'receipt_email', 'transfer_group']) {
    const v = P.nullableStr(p, k);
    if (v !== undefined) {
      previous[k] = ch[k];
      ch[k] = v;
    }
  }
  if (Object.keys(previous).length) emu.emit('charge.updated', ch, { owner: rec.owner, previous, request: ctx.request });
  return ch;
}

/* ---- Disputes --------------------------------------------------------------------- */

export function openDispute(emu, chRec, { amount, reason, network_reason_code } = {}, request) {
  const ch = chRec.obj;
  if (ch.status !== 'succeeded' || !ch.captured) throw invalid(`Charge ${ch.id} is not a captured, successful charge.`, 'charge');
  if (chRec.dispute) throw invalid(`Charge ${ch.id} already has a dispute (${chRec.dispute}).`, 'charge');
  const max = ch.amount_captured - chRec.refunded;
  const amt = amount === undefined || amount === null || amount === '' ? max : Number(amount);
  if (!Number.isInteger(amt) || amt < 1 || amt > max) {
    throw invalid(`Dispute amount must be an integer between 1 and ${max}.`, 'amount');
  }
  const dp = O.dispute({
    id: O.newId('dp'),
    amount: amt,
    charge: ch.id,
    created: emu.now(),
    currency: ch.currency,
    payment_intent: ch.payment_intent,
    reason: reason || 'fraudulent',
    brand: ch.payment_method_details.card.brand,
    network_reason_code: network_reason_code || '10.4',
  });
  const owner = chRec.owner;
  const dpRec = emu.state.put('disputes', dp, owner, {});
  chRec.dispute = dp.id;
  ch.disputed = true;
  emu.emit('charge.dispute.created', dp, { owner, request });
  const st = emu.settle(owner, ch.currency, -amt); // the fee: in the settlement currency
  const fee = disputeFee(st.currency);
  const bt = emu.addBT(owner, {
    ...st,
    fee,
    fee_details: [{ amount: fee, application: null, currency: st.currency, description: 'Dispute fee', type: 'stripe_fee' }],
    description: `Chargeback withdrawal for ${ch.id}`,
    reporting_category: 'dispute',
    source: dp.id,
    status: 'available',
    type: 'adjustment',
  });
  emu.debit(owner, bt.currency, -bt.amount + fee);
  dp.balance_transactions.push(JSON.parse(JSON.stringify(bt)));
  emu.emit('charge.dispute.funds_withdrawn', dp, { owner, request });
  return dpRec;
}

export function closeDispute(emu, dpRec, outcome, request) {
  const dp = dpRec.obj;
  if (!OPEN_DISPUTE.includes(dp.status)) {
    throw stateError(`This dispute is already closed (status ${dp.status}).`, 'dispute_already_closed');
  }
  if (!['won', 'lost', 'warning_closed'].includes(outcome)) {
    throw invalid('outcome must be one of won, lost, warning_closed', 'outcome');
  }
  const owner = dpRec.owner;
  dp.status = outcome;
  if (outcome === 'won') {
    const bt = emu.addBT(owner, {
      ...emu.settle(owner, dp.currency, dp.amount),
      fee: 0,
      description: `Chargeback reversal for ${dp.charge}`,
      reporting_category: 'dispute_reversal',
      source: dp.id,
      status: 'available',
      type: 'adjustment',
    });
    emu.credit(owner, bt.currency, bt.amount, 'available');
    dp.balance_transactions.push(JSON.parse(JSON.stringify(bt)));
    emu.emit('charge.dispute.funds_reinstated', dp, { owner, request });
  }
  emu.emit('charge.dispute.closed', dp, { owner, request });
  return dp;
}

export function updateDispute(emu, ctx, rec, p) {
  const dp = rec.obj;
  const md = P.metadata(p);
  const submit = P.bool(p, 'submit');
  const previous = {};
  if (md !== undefined) {
    previous.metadata = { ...dp.metadata };
    dp.metadata = P.applyMetadata(dp.metadata, md);
  }
  if (p.evidence !== undefined) {
    if (typeof p.evidence !== 'object') throw invalid('Invalid hash', 'evidence');
    for (const [k, v] of Object.entries(p.evidence)) {
      if (!(k in dp.evidence) || typeof v !== 'string') throw invalid(`Received unknown parameter: evidence[${k}]`, `evidence[${k}]`, 'parameter_unknown');
    }
    if (!OPEN_DISPUTE.includes(dp.status)) throw stateError('This dispute is already closed.', 'dispute_already_closed');
    previous.evidence = JSON.parse(JSON.stringify(dp.evidence));
    Object.assign(dp.evidence, p.evidence);
    dp.evidence_details.has_evidence = true;
  }
  if (submit) {
    if (dp.status !== 'needs_response' && dp.status !== 'warning_needs_response') {
      throw stateError('This dispute cannot be submitted in its current state.', 'dispute_already_closed');
    }
    previous.status = dp.status;
    dp.status = dp.status === 'needs_response' ? 'under_review' : 'warning_under_review';
    dp.evidence_details.submission_count += 1;
    dp.evidence_details.submission_method = 'manual';
  }
  if (Object.keys(previous).length) emu.emit('charge.dispute.updated', dp, { owner: rec.owner, previous, request: ctx.request });
  return dp;
}

