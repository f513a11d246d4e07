/*
 * objects.mjs - the shapes of Stripe objects (API version 2026-10-28.endive).
 *
 * Owns: pure builders that return fresh JSON objects with every field the
 * stripe-node 23.1.0 type definitions declare as required (and no field they
 * do not declare), plus the table of test PaymentMethods and test card numbers.
 * The test suite type-checks recorded responses against those definitions
 * with `tsc --strict`, so a field added here that the SDK does not know fails
 * the suite.
 *
 * Invariants: builders never touch state; callers store the result and then
 * mutate it in place (state transitions live in payments.mjs / connect.mjs).
 * Every object has id/object/created(unix seconds)/livemode:false and, where
 * the type has it, metadata {}.
 */

import { randomBytes } from 'node:crypto';

export const API_VERSION = '2026-10-28.endive';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomId(len = 24) {
  const bytes = randomBytes(len);
  let s = '';
  for (let i = 0; i < len; i++) s += ALPHABET[bytes[i] % ALPHABET.length];
  return s;
}

export function newId(prefix) {
  return `${prefix}_1${randomId(23)}`;
}

/* ---- test payment methods ------------------------------------------------ */

/*
 * outcome: 'success' | 'decline' | 'authenticate' | 'processing'
 * bypassPending: the funds land in the available balance at once (Stripe's
 * 4000000000000077 test card).
 */
export const TEST_PAYMENT_METHODS = {
  pm_card_visa: { brand: 'visa', last4: '4242', funding: 'credit', outcome: 'success' },
  pm_card_visa_debit: { brand: 'visa', last4: '5556', funding: 'debit', outcome: 'success' },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444', funding: 'credit', outcome: 'success' },
  pm_card_amex: { brand: 'amex', last4: '8431', funding: 'credit', outcome: 'success' },
  pm_card_bypassPending: { brand: 'visa', last4: '0077', funding: 'credit', outcome: 'success', bypassPending: true },
  // Stripe's 4000000000005126: the charge succeeds; a refund of it is succeeded at creation, then fails
  pm_card_refundFail: { brand: 'visa', last4: '5126', funding: 'credit', outcome: 'success', refundFail: true },
  pm_card_chargeDeclined: {
    brand: 'visa', last4: '0002', funding: 'credit', outcome: 'decline',
    code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: 'visa', last4: '9995', funding: 'credit', outcome: 'decline',
    code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.',
  },
  pm_card_chargeDeclinedFraudulent: {
    brand: 'visa', last4: '0019', funding: 'credit', outcome: 'decline',
    code: 'card_declined', decline_code: 'fraudulent', message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedLostCard: {
    brand: 'visa', last4: '9987', funding: 'credit', outcome: 'decline',
    code: 'card_declined', decline_code: 'lost_card', message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedExpiredCard: {
    brand: 'visa', last4: '0069', funding: 'credit', outcome: 'decline',
    code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.', param: 'exp_month',
  },
  pm_card_chargeDeclinedIncorrectCvc: {
    brand: 'visa', last4: '0127', funding: 'credit', outcome: 'decline',
    code: 'incorrect_cvc', decline_code: 'incorrect_cvc', message: "Your card's security code is incorrect.", param: 'cvc',
  },
  pm_card_chargeDeclinedProcessingError: {
    brand: 'visa', last4: '0119', funding: 'credit', outcome: 'decline',
    code: 'processing_error', decline_code: 'processing_error',
    message: 'An error occurred while processing your card. Try again in a little bit.',
  },
  pm_card_authenticationRequired: { brand: 'visa', last4: '3184', funding: 'credit', outcome: 'authenticate' },
  pm_card_threeDSecureRequired: { brand: 'visa', last4: '3220', funding: 'credit', outcome: 'authenticate' },
  // emulator-only: the payment stays `processing` until POST /__emu/payment_intents/{id}/settle
  pm_card_processing: { brand: 'visa', last4: '1881', funding: 'credit', outcome: 'processing' },
};

/* card numbers accepted in payment_method_data[card][number] (Stripe.js-like pages) */
export const TEST_CARD_NUMBERS = {
  '4242424242424242': 'pm_card_visa',
  '4000056655665556': 'pm_card_visa_debit',
  '5555555555554444': 'pm_card_mastercard',
  '378282246310005': 'pm_card_amex',
  '4000000000000077': 'pm_card_bypassPending',
  '4000000000005126': 'pm_card_refundFail',
  '4000000000000002': 'pm_card_chargeDeclined',
  '4000000000009995': 'pm_card_chargeDeclinedInsufficientFunds',
  '4100000000000019': 'pm_card_chargeDeclinedFraudulent',
  '4000000000009987': 'pm_card_chargeDeclinedLostCard',
  '4000000000000069': 'pm_card_chargeDeclinedExpiredCard',
  '4000000000000127': 'pm_card_chargeDeclinedIncorrectCvc',
  '4000000000000119': 'pm_card_chargeDeclinedProcessingError',
  '4000002760003184': 'pm_card_authenticationRequired',
  '4000000000003220': 'pm_card_threeDSecureRequired',
  '4000000000001881': 'pm_card_processing',
};

export function nullAddress() {
  return { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };
}

export function paymentMethod(id, spec, created) {
  return {
    id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: { address: nullAddress(), email: null, name: null, phone: null, tax_id: null },
    card: {
      brand: spec.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'unchecked' },
      country: 'US',
      display_brand: spec.brand === 'amex' ? 'american_express' : spec.brand,
      exp_month: 12,
      exp_year: 2034,
      fingerprint: `fp${spec.last4}${spec.brand.slice(0, 4)}Emu`,
      funding: spec.funding,
      generated_from: null,
      last4: spec.last4,
      networks: { available: [spec.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created,
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: 'card',
  };
}

/* ---- payments ------------------------------------------------------------ */

export function paymentIntent(fields) {
  return {
    id: fields.id,
    object: 'payment_intent',
    allowed_payment_method_types: fields.allowed_payment_method_types ?? null,
    amount: fields.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: fields.application_fee_amount ?? null,
    automatic_payment_methods: fields.automatic_payment_methods ?? null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: fields.capture_method,
    client_secret: `${fields.id}_secret_${randomId(25)}`,
    confirmation_method: fields.confirmation_method || 'automatic',
    created: fields.created,
    currency: fields.currency,
    customer: fields.customer ?? null,
    customer_account: null,
    description: fields.description ?? null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: fields.metadata || {},
    next_action: null,
    on_behalf_of: fields.on_behalf_of ?? null,
    payment_method: null,
    payment_method_configuration_details: fields.automatic_payment_methods
      ? { id: 'pmc_1EmulatorDefaultConfig0', parent: null }
      : null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: fields.payment_method_types,
    payment_record: null,
    processing: null,
    receipt_email: fields.receipt_email ?? null,
    review: null,
    setup_future_usage: fields.setup_future_usage ?? null,
    shipping: null,
    source: null,
    statement_descriptor: fields.statement_descriptor ?? null,
    statement_descriptor_suffix: fields.statement_descriptor_suffix ?? null,
    status: fields.status,
    transfer_data: fields.transfer_data ?? null,
    transfer_group: fields.transfer_group ?? null,
  };
}

export function charge(fields) {
  const pm = fields.pm; // the PaymentMethod object
  const declined = fields.status === 'failed';
  return {
    id: fields.id,
    object: 'charge',
    amount: fields.amount,
    amount_captured: 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: fields.application_fee_amount ?? null,
    balance_transaction: null,
    billing_details: JSON.parse(JSON.stringify(pm.billing_details)),
    calculated_statement_descriptor: fields.statement_descriptor || 'STRIPE EMULATOR',
    captured: false,
    created: fields.created,
    currency: fields.currency,
    customer: fields.customer ?? null,
    description: fields.description ?? null,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: declined ? fields.failure_code : null,
    failure_message: declined ? fields.failure_message : null,
    fraud_details: {},
    livemode: false,
    metadata: { ...(fields.metadata || {}) },
    on_behalf_of: fields.on_behalf_of ?? null,
    outcome: declined
      ? {
          advice_code: fields.decline_code === 'generic_decline' ? null : 'do_not_try_again',
          network_advice_code: null,
          network_decline_code: '05',
          network_status: 'declined_by_network',
          reason: fields.decline_code || null,
          risk_level: 'normal',
          risk_score: 41,
          seller_message: 'The bank did not return any further details with this decline.',
          type: 'issuer_declined',
        }
      : {
          advice_code: null,
          network_advice_code: null,
          network_decline_code: null,
          network_status: 'approved_by_network',
          reason: null,
          risk_level: 'normal',
          risk_score: 32,
          seller_message: 'Payment complete.',
          type: 'authorized',
        },
    paid: false,
    payment_intent: fields.payment_intent,
    payment_method: pm.id,
    payment_method_details: {
      card: {
        amount_authorized: declined ? null : fields.amount,
        authorization_code: declined ? null : '123456',
        brand: pm.card.brand,
        checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
        country: pm.card.country,
        electronic_commerce_indicator: declined ? null : fields.three_d_secure ? '05' : '07',
        exp_month: pm.card.exp_month,
        exp_year: pm.card.exp_year,
        extended_authorization: { status: 'disabled' },
        fingerprint: pm.card.fingerprint,
        funding: pm.card.funding,
        incremental_authorization: { status: 'unavailable' },
        installments: null,
        last4: pm.card.last4,
        mandate: null,
        multicapture: { status: 'unavailable' },
        network: pm.card.brand,
        network_token: { used: false },
        network_transaction_id: declined ? null : `${randomId(15).replace(/[^0-9]/g, '7')}`,
        overcapture: { maximum_amount_capturable: fields.amount, status: 'unavailable' },
        regulated_status: 'unregulated',
        three_d_secure: fields.three_d_secure
          ? {
              authentication_flow: 'challenge',
              electronic_commerce_indicator: '05',
              exemption_indicator: null,
              result: 'authenticated',
              result_reason: null,
              transaction_id: `${randomId(8)}-${randomId(4)}`,
              version: '2.2.0',
            }
          : null,
        transaction_link_id: null,
        wallet: null,
      },
      type: 'card',
    },
    receipt_email: fields.receipt_email ?? null,
    receipt_number: null,
    receipt_url: declined ? null : `${fields.baseUrl}/__emu/receipts/${fields.id}`,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: fields.statement_descriptor ?? null,
    statement_descriptor_suffix: fields.statement_descriptor_suffix ?? null,
    status: fields.status,
    transfer_data: fields.transfer_data
      ? { amount: fields.transfer_data.amount ?? null, destination: fields.transfer_data.destination }
      : null,
    transfer_group: fields.transfer_group ?? null,
  };
}

export function balanceTransaction(fields) {
  const fee = fields.fee || 0;
  return {
    id: fields.id,
    object: 'balance_transaction',
    amount: fields.amount,
    available_on: fields.available_on ?? fields.created,
    balance_type: 'payments',
    created: fields.created,
    currency: fields.currency,
    description: fields.description ?? null,
    exchange_rate: fields.exchange_rate ?? null,
    fee,
    fee_details: fields.fee_details || (fee
      ? [{ amount: fee, application: null, currency: fields.currency, description: 'Stripe processing fees', type: 'stripe_fee' }]
      : []),
    net: fields.amount - fee,
    reporting_category: fields.reporting_category,
    source: fields.source,
    status: fields.status,
    type: fields.type,
  };
}

export function refund(fields) {
  return {
    id: fields.id,
    object: 'refund',
    amount: fields.amount,
    balance_transaction: null,
    charge: fields.charge,
    created: fields.created,
    currency: fields.currency,
    customer: null,
    customer_account: null,
    destination_details: {
      card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' },
      type: 'card',
    },
    metadata: fields.metadata || {},
    payment_intent: fields.payment_intent ?? null,
    payment_method: fields.payment_method ?? null,
    reason: fields.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'pending',
    transfer_reversal: null,
  };
}

export function dispute(fields) {
  return {
    id: fields.id,
    object: 'dispute',
    amount: fields.amount,
    balance_transactions: [],
    charge: fields.charge,
    created: fields.created,
    currency: fields.currency,
    enhanced_eligibility_types: [],
    evidence: {
      access_activity_log: null,
      billing_address: null,
      cancellation_policy: null,
      cancellation_policy_disclosure: null,
      cancellation_rebuttal: null,
      customer_communication: null,
      customer_email_address: null,
      customer_name: null,
      customer_purchase_ip: null,
      customer_signature: null,
      duplicate_charge_documentation: null,
      duplicate_charge_explanation: null,
      duplicate_charge_id: null,
      enhanced_evidence: {},
      product_description: null,
      receipt: null,
      refund_policy: null,
      refund_policy_disclosure: null,
      refund_refusal_explanation: null,
      service_date: null,
      service_documentation: null,
      shipping_address: null,
      shipping_carrier: null,
      shipping_date: null,
      shipping_documentation: null,
      shipping_tracking_number: null,
      uncategorized_file: null,
      uncategorized_text: null,
    },
    evidence_details: {
      due_by: fields.created + 7 * 86400,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: 'not_submitted',
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    network_reason_code: fields.network_reason_code,
    payment_intent: fields.payment_intent ?? null,
    payment_method_details: {
      card: {
        brand: fields.brand,
        case_type: 'chargeback',
        network: fields.brand,
        network_reason_code: fields.network_reason_code,
      },
      type: 'card',
    },
    reason: fields.reason,
    status: 'needs_response',
  };
}

/* ---- connect ------------------------------------------------------------- */

export const ONBOARDING_REQUIREMENTS = [
  'business_profile.mcc',
  'business_profile.url',
  'business_type',
  'external_account',
  'individual.dob.day',
  'individual.dob.month',
  'individual.dob.year',
  'individual.email',
  'individual.first_name',
  'individual.last_name',
  'tos_acceptance.date',
  'tos_acceptance.ip',
];

export function requirements(due) {
  return {
    alternatives: [],
    current_deadline: null,
    currently_due: [...due],
    disabled_reason: due.length ? 'requirements.past_due' : null,
    errors: [],
    eventually_due: [...due],
    past_due: [...due],
    pending_verification: [],
  };
}

export function account(fields) {
  const type = fields.type || 'express';
  const custom = type === 'custom';
  return {
    id: fields.id,
    object: 'account',
    business_profile: {
      annual_revenue: null,
      estimated_worker_count: null,
      mcc: null,
      minority_owned_business_designation: null,
      name: fields.business_name ?? null,
      product_description: null,
      specified_commercial_transactions_act_url: null,
      support_address: null,
      support_email: null,
      support_phone: null,
      support_url: null,
      url: null,
    },
    business_type: fields.business_type ?? null,
    capabilities: fields.capabilities || {},
    charges_enabled: false,
    controller: {
      fees: { payer: 'application' },
      is_controller: true,
      losses: { payments: 'application' },
      requirement_collection: custom ? 'application' : 'stripe',
      stripe_dashboard: { type: custom ? 'none' : type },
      type: 'application',
    },
    country: fields.country || 'US',
    created: fields.created,
    default_currency: fields.default_currency || 'usd',
    details_submitted: false,
    email: fields.email ?? null,
    external_accounts: { object: 'list', data: [], has_more: false, url: `/v1/accounts/${fields.id}/external_accounts` },
    future_requirements: requirements([]),
    metadata: fields.metadata || {},
    payouts_enabled: false,
    requirements: requirements(ONBOARDING_REQUIREMENTS),
    tos_acceptance: { date: null, ip: null, user_agent: null },
    type,
  };
}

export function transfer(fields) {
  return {
    id: fields.id,
    object: 'transfer',
    amount: fields.amount,
    amount_reversed: 0,
    balance_transaction: fields.balance_transaction ?? null,
    created: fields.created,
    currency: fields.currency,
    description: fields.description ?? null,
    destination: fields.destination,
    destination_payment: fields.destination_payment ?? null,
    livemode: false,
    metadata: fields.metadata || {},
    reversals: { object: 'list', data: [], has_more: false, url: `/v1/transfers/${fields.id}/reversals` },
    reversed: false,
    source_transaction: fields.source_transaction ?? null,
    source_type: 'card',
    transfer_group: fields.transfer_group ?? null,
  };
}

export function transferReversal(fields) {
  return {
    id: fields.id,
    object: 'transfer_reversal',
    amount: fields.amount,
    balance_transaction: fields.balance_transaction ?? null,
    created: fields.created,
    currency: fields.currency,
    destination_payment_refund: null,
    metadata: fields.metadata || {},
    source_refund: null,
    transfer: fields.transfer,
  };
}

export function payout(fields) {
  return {
    id: fields.id,
    object: 'payout',
    amount: fields.amount,
    application_fee: null,
    application_fee_amount: null,
    arrival_date: fields.created + 2 * 86400,
    automatic: true,
    balance_transaction: null,
    created: fields.created,
    currency: fields.currency,
    description: 'STRIPE PAYOUT',
    destination: fields.destination,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    livemode: false,
    metadata: {},
    method: 'standard',
    original_payout: null,
    payout_method: null,
    reconciliation_status: 'not_applicable',
    reversed_by: null,
    source_type: 'card',
    statement_descriptor: null,
    status: 'pending',
    trace_id: null,
    type: 'bank_account',
  };
}

export function emptyList(url) {
  return { object: 'list', data: [], has_more: false, url };
}
