/*
 * connect.mjs - connected accounts, onboarding, transfers, reversals, payouts.
 *
 * Owns: Account objects (created on the platform, capabilities requested at
 * creation become `inactive`, then `active` at onboarding), AccountLinks,
 * Transfers (platform available balance -> connected account available
 * balance), TransferReversals (back) and the test-only failed payout.
 *
 * Stripe behaviour emulated:
 *   - a transfer needs the destination to have an active `transfers`
 *     capability (400 insufficient_capabilities_for_transfer otherwise) and
 *     the platform's available balance in that currency to cover it (400
 *     balance_insufficient), unless source_transaction names a charge, in
 *     which case the funds come from that charge (pending or not), up to its
 *     captured, unrefunded, not yet transferred amount;
 *   - account.updated and payout.* events of connected accounts carry
 *     `account` and go to the Connect webhook endpoints;
 *   - transfer.created / transfer.reversed / transfer.updated are platform events;
 *   - a transfer lands on the destination as a payment: destination_payment
 *     (py_) and a balance transaction of type `payment` (reporting_category
 *     charge, source py_) listed with Stripe-Account; a reversal takes it
 *     back as a payment refund: destination_payment_refund (pyr_) and a
 *     balance transaction of type `payment_refund` (reporting_category
 *     refund, source pyr_, negative). The py_/pyr_ objects themselves are
 *     not retrievable (README, "Decisions").
 *
 * Invariant: transfers and reversals keep platform + destination balances
 * summing to the same total (no fees on transfers).
 */

import { PLATFORM } from './state.mjs';
import * as O from './objects.mjs';
import { ApiError, invalid, stateError } from './errors.mjs';
import * as P from './params.mjs';

const COUNTRY_CURRENCY = {
  US: 'usd', GB: 'gbp', CA: 'cad', AU: 'aud', NZ: 'nzd', JP: 'jpy', CH: 'chf', SE: 'sek', NO: 'nok', DK: 'dkk',
  PL: 'pln', CZ: 'czk', HU: 'huf', SG: 'sgd', HK: 'hkd', MX: 'mxn', BR: 'brl', IN: 'inr',
};

export function createAccount(emu, ctx, p) {
  const controller = p.controller;
  const type = P.oneOf(p, 'type', ['express', 'custom', 'standard']) || (controller ? 'express' : undefined);
  if (!type) throw invalid('Missing required param: type.', 'type', 'parameter_missing');
  const country = (P.str(p, 'country') || 'US').toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw invalid(`Invalid country: ${country}`, 'country');
  const email = P.str(p, 'email');
  const md = P.metadata(p);
  const business_type = P.oneOf(p, 'business_type', ['company', 'government_entity', 'individual', 'non_profit']);
  const default_currency = p.default_currency !== undefined ? P.currency(p, 'default_currency') : COUNTRY_CURRENCY[country] || 'eur';
  const capabilities = {};
  if (p.capabilities !== undefined) {
    if (typeof p.capabilities !== 'object' || Array.isArray(p.capabilities)) throw invalid('Invalid hash', 'capabilities');
    for (const [name, v] of Object.entries(p.capabilities)) {
      if (!/^[a-z0-9_]+$/.test(name)) throw invalid(`Invalid capability: ${name}`, `capabilities[${name}]`);
      if (v && typeof v === 'object' && v.requested === 'true') capabilities[name] = 'inactive';
    }
  }
  const acct = O.account({
    id: O.newId('acct'),
    type,
    country,
    email,
    metadata: P.applyMetadata({}, md),
    business_type,
    business_name: p.business_profile && typeof p.business_profile === 'object' ? p.business_profile.name : undefined,
    default_currency,
    capabilities,
    created: emu.now(),
  });
  emu.state.put('accounts', acct, PLATFORM, { links: [] });
  return acct;
}

export function updateAccount(emu, ctx, rec, p) {
  const acct = rec.obj;
  const previous = {};
  const md = P.metadata(p);
  if (md !== undefined) {
    previous.metadata = { ...acct.metadata };
    acct.metadata = P.applyMetadata(acct.metadata || {}, md);
  }
  const email = P.nullableStr(p, 'email');
  if (email !== undefined) {
    previous.email = acct.email;
    acct.email = email;
  }
  if (p.capabilities !== undefined) {
    const before = { ...acct.capabilities };
    for (const [name, v] of Object.entries(p.capabilities || {})) {
      if (v && typeof v === 'object' && v.requested === 'true' && !acct.capabilities[name]) {
        acct.capabilities[name] = acct.details_submitted ? 'active' : 'inactive';
      }
    }
    previous.capabilities = before;
  }
  if (Object.keys(previous).length) {
    emu.emit('account.updated', acct, { owner: PLATFORM, account: acct.id, previous, request: ctx.request });
  }
  return acct;
}

export function completeOnboarding(emu, rec, request) {
  const acct = rec.obj;
  const previous = {
    business_type: acct.business_type,
    capabilities: { ...acct.capabilities },
    charges_enabled: acct.charges_enabled,
    details_submitted: acct.details_submitted,
    payouts_enabled: acct.payouts_enabled,
    requirements: JSON.parse(JSON.stringify(acct.requirements)),
    tos_acceptance: { ...acct.tos_acceptance },
  };
  for (const name of Object.keys(acct.capabilities)) acct.capabilities[name] = 'active';
  acct.business_type = acct.business_type || 'individual';
  acct.charges_enabled = true;
  acct.payouts_enabled = true;
  acct.details_submitted = true;
  acct.requirements = O.requirements([]);
  acct.tos_acceptance = { date: emu.now(), ip: '127.0.0.1', user_agent: 'stripe-emulator' };
  emu.emit('account.updated', acct, { owner: PLATFORM, account: acct.id, previous, request });
  return acct;
}

export function createAccountLink(emu, ctx, p) {
  const id = P.str(p, 'account', { required: true });
  const type = P.oneOf(p, 'type', ['account_onboarding', 'account_update'], { required: true });
  const refresh_url = P.str(p, 'refresh_url');
  const return_url = P.str(p, 'return_url');
  for (const [k, v] of [['refresh_url', refresh_url], ['return_url', return_url]]) {
    if (v !== undefined) {
      try {
        new URL(v);
      } catch {
        throw invalid(`Not a valid URL`, k, 'url_invalid');
      }
    }
  }
  const rec = emu.state.get('accounts', id);
  if (!rec) {
    throw new ApiError(400, { type: 'invalid_request_error', code: 'resource_missing', message: `No such account: '${id}'`, param: 'account' });
  }
  if (type === 'account_update' && rec.obj.type !== 'custom') {
    throw invalid('You cannot create `account_update` type Account Links for Express or Standard accounts.', 'type');
  }
  const token = O.randomId(20);
  const created = emu.now();
  rec.links.push({ token, refresh_url, return_url, expires_at: created + 300 });
  return {
    object: 'account_link',
    created,
    expires_at: created + 300,
    url: `${emu.baseUrl}/__emu/onboarding/${id}?link=${token}`,
  };
}

function destinationRec(emu, id) {
  const rec = id && emu.state.get('accounts', id);
  if (!rec) {
    throw new ApiError(400, { type: 'invalid_request_error', code: 'resource_missing', message: `No such destination: '${id}'`, param: 'destination' });
  }
  return rec;
}

export function createTransfer(emu, ctx, p) {
  const amount = P.int(p, 'amount', { required: true, min: 1 });
  const cur = P.currency(p, 'currency');
  const destination = P.str(p, 'destination', { required: true });
  const transfer_group = P.str(p, 'transfer_group');
  const description = P.str(p, 'description');
  const md = P.metadata(p);
  const sourceId = P.str(p, 'source_transaction');
  const acctRec = destinationRec(emu, destination);
  let srcRec = null;
  if (sourceId !== undefined) {
    srcRec = emu.state.get('charges', sourceId);
    if (!srcRec || srcRec.owner !== ctx.owner) {
      throw new ApiError(400, { type: 'invalid_request_error', code: 'resource_missing', message: `No such charge: '${sourceId}'`, param: 'source_transaction' });
    }
    if (srcRec.obj.currency !== cur) {
      throw invalid(
        `The currency of source_transaction's balance transaction (${srcRec.obj.currency}) must be the same as the transfer currency (${cur}).`,
        'currency',
      );
    }
  }
  if (ctx.owner !== PLATFORM) {
    throw stateError('Transfers can only be created by the platform account.', 'platform_account_required');
  }
  const caps = acctRec.obj.capabilities || {};
  if (caps.transfers !== 'active' && caps.crypto_transfers !== 'active' && caps.legacy_payments !== 'active') {
    throw stateError(
      'Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments',
      'insufficient_capabilities_for_transfer',
      'destination',
    );
  }
  if (srcRec) {
    const ch = srcRec.obj;
    if (ch.status !== 'succeeded' || !ch.captured) {
      throw stateError(`The source_transaction ${ch.id} is not a successful, captured charge.`, 'invalid_source_transaction', 'source_transaction');
    }
    const left = ch.amount_captured - srcRec.refunded - srcRec.transferred;
    if (amount > left) {
      throw stateError(
        `Transfer amount (${amount}) exceeds the amount still available on the source transaction ${ch.id} (${left}).`,
        'amount_too_large',
        'amount',
      );
    }
  } else {
    const bal = emu.state.balance(PLATFORM, cur);
    if (bal.available < amount) {
      throw stateError(
        'You have insufficient available funds in your Stripe account. Try adding funds directly to your available ' +
          'balance by creating Charges using the 4000000000000077 test card. See: https://stripe.com/docs/testing#available-balance',
        'balance_insufficient',
      );
    }
  }
  const tr = O.transfer({
    id: O.newId('tr'),
    amount,
    currency: cur,
    created: emu.now(),
    description,
    destination,
    metadata: P.applyMetadata({}, md),
    source_transaction: srcRec ? srcRec.obj.id : null,
    transfer_group,
  });
  const bt = emu.addBT(PLATFORM, {
    amount: -amount,
    currency: cur,
    fee: 0,
    description: description || null,
    reporting_category: 'transfer',
    source: tr.id,
    status: 'available',
    type: 'transfer',
  });
  tr.balance_transaction = bt.id;
  /* the destination's side: a payment (py_) in its balance, as on Stripe */
  tr.destination_payment = O.newId('py');
  emu.addBT(destination, {
    amount,
    currency: cur,
    fee: 0,
    description: null,
    reporting_category: 'charge',
    source: tr.destination_payment,
    status: 'available',
    type: 'payment',
  });
  if (srcRec) {
    srcRec.transferred += amount;
    const b = emu.state.balance(PLATFORM, cur);
    // funds come out of the charge's money: pending first if it is still pending
    const fromPending = Math.min(Math.max(b.pending, 0), amount);
    b.pending -= fromPending;
    b.available -= amount - fromPending;
  } else {
    emu.state.balance(PLATFORM, cur).available -= amount;
  }
  emu.credit(destination, cur, amount, 'available');
  emu.state.put('transfers', tr, PLATFORM, {});
  emu.emit('transfer.created', tr, { owner: PLATFORM, request: ctx.request });
  return tr;
}

export function updateTransfer(emu, ctx, rec, p) {
  const tr = rec.obj;
  const previous = {};
  const md = P.metadata(p);
  if (md !== undefined) {
    previous.metadata = { ...tr.metadata };
    tr.metadata = P.applyMetadata(tr.metadata, md);
  }
  const description = P.nullableStr(p, 'description');
  if (description !== undefined) {
    previous.description = tr.description;
    tr.description = description;
  }
  if (Object.keys(previous).length) emu.emit('transfer.updated', tr, { owner: PLATFORM, previous, request: ctx.request });
  return tr;
}

export function createReversal(emu, ctx, trRec, p) {
  const tr = trRec.obj;
  const amountParam = P.int(p, 'amount', { min: 1 });
  const md = P.metadata(p);
  P.str(p, 'description'); // accepted and validated, not kept (TransferReversal has no description)
  const left = tr.amount - tr.amount_reversed;
  if (left <= 0) throw stateError(`Transfer ${tr.id} has already been fully reversed.`, 'transfer_already_reversed');
  const amount = amountParam ?? left;
  if (amount > left) {
    throw stateError(
      `Transfer reversal amount (${amount}) is greater than the amount remaining on the transfer (${left}).`,
      'amount_too_large',
      'amount',
    );
  }
  const dest = emu.state.balance(tr.destination, tr.currency);
  if (dest.available < amount) {
    throw stateError(
      `Insufficient funds in the connected account ${tr.destination} to reverse this transfer.`,
      'balance_insufficient',
    );
  }
  const trr = O.transferReversal({
    id: O.newId('trr'),
    amount,
    created: emu.now(),
    currency: tr.currency,
    metadata: P.applyMetadata({}, md),
    transfer: tr.id,
  });
  const bt = emu.addBT(PLATFORM, {
    amount,
    currency: tr.currency,
    fee: 0,
    description: `REFUND FOR TRANSFER ${tr.id}`,
    reporting_category: 'transfer_reversal',
    source: trr.id,
    status: 'available',
    type: 'transfer_refund',
  });
  trr.balance_transaction = bt.id;
  /* the destination's side: a refund (pyr_) of its payment */
  trr.destination_payment_refund = O.newId('pyr');
  emu.addBT(tr.destination, {
    amount: -amount,
    currency: tr.currency,
    fee: 0,
    description: null,
    reporting_category: 'refund',
    source: trr.destination_payment_refund,
    status: 'available',
    type: 'payment_refund',
  });
  dest.available -= amount;
  emu.credit(PLATFORM, tr.currency, amount, 'available');
  emu.state.put('transfer_reversals', trr, PLATFORM, {});
  tr.amount_reversed += amount;
  tr.reversed = tr.amount_reversed >= tr.amount;
  refreshReversals(emu, trRec);
  emu.emit('transfer.reversed', tr, { owner: PLATFORM, request: ctx.request });
  return trr;
}

/* the transfer embeds its 10 newest reversals, like Stripe */
export function refreshReversals(emu, trRec) {
  const all = emu.state
    .list('transfer_reversals', PLATFORM)
    .filter((r) => r.obj.transfer === trRec.obj.id)
    .map((r) => JSON.parse(JSON.stringify(r.obj)));
  trRec.obj.reversals = {
    object: 'list',
    data: all.slice(0, 10),
    has_more: all.length > 10,
    url: `/v1/transfers/${trRec.obj.id}/reversals`,
  };
}

export function updateReversal(emu, ctx, trRec, rrec, p) {
  const md = P.metadata(p);
  if (md !== undefined) {
    rrec.obj.metadata = P.applyMetadata(rrec.obj.metadata || {}, md);
    refreshReversals(emu, trRec);
  }
  return rrec.obj;
}

/* test helper: the account's bank rejects a payout */
export function failPayout(emu, acctRec, { amount, currency, failure_code } = {}, request) {
  const acct = acctRec.obj;
  const owner = acct.id;
  const cur = currency || acct.default_currency || 'usd';
  const bal = emu.state.balance(owner, cur);
  const amt = amount !== undefined && amount !== null && amount !== '' ? Number(amount) : bal.available > 0 ? bal.available : 1000;
  if (!Number.isInteger(amt) || amt < 1) throw invalid('amount must be a positive integer', 'amount');
  const po = O.payout({
    id: O.newId('po'),
    amount: amt,
    currency: cur,
    created: emu.now(),
    destination: `ba_1${O.randomId(23)}`,
  });
  const bt = emu.addBT(owner, {
    amount: -amt,
    currency: cur,
    fee: 0,
    description: 'STRIPE PAYOUT',
    reporting_category: 'payout',
    source: po.id,
    status: 'available',
    type: 'payout',
  });
  emu.debit(owner, cur, amt);
  po.balance_transaction = bt.id;
  const poRec = emu.state.put('payouts', po, owner, {});
  emu.emit('payout.created', po, { owner, request });
  const codes = {
    account_closed: 'The bank account has been closed.',
    no_account: 'The bank account details on file are probably incorrect. No bank account could be located with those details.',
    insufficient_funds: 'Your Stripe account has insufficient funds to cover the payout.',
    could_not_process: 'The bank could not process this payout.',
    invalid_account_number: 'The routing number seems correct, but the account number is invalid.',
  };
  const code = failure_code && codes[failure_code] ? failure_code : 'account_closed';
  const fbt = emu.addBT(owner, {
    amount: amt,
    currency: cur,
    fee: 0,
    description: 'STRIPE PAYOUT FAILURE',
    reporting_category: 'payout_reversal',
    source: po.id,
    status: 'available',
    type: 'payout_failure',
  });
  emu.credit(owner, cur, amt, 'available');
  po.status = 'failed';
  po.failure_code = code;
  po.failure_message = codes[code];
  po.failure_balance_transaction = fbt.id;
  emu.emit('payout.failed', po, { owner, request });
  return poRec.obj;
}
