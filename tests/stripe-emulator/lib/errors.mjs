/*
 * errors.mjs - Stripe's error envelope and the errors the emulator raises.
 *
 * Owns: the ApiError class thrown by endpoint code and turned into
 *   {"error": {type, code, decline_code, message, param, doc_url, ...}}
 * with Stripe's HTTP statuses.
 *
 * Invariant - what the idempotency layer stores (docs.stripe.com/idempotency:
 * "We save results only after the execution of an endpoint begins. If
 * incoming parameters fail validation, or the request conflicts with another
 * that's executing concurrently, we don't save"):
 *   - `stored: false` (the default for 400 validation errors built with
 *     invalid()/missing()/notFound()) means the request was refused before
 *     any work: nothing is saved and a corrected retry with the same key runs;
 *   - `stored: true` (stateError(), card errors, 500s) means the endpoint ran
 *     and its answer is saved and replayed for 24 h like a success.
 * Fields that are null are left out of the envelope, as Stripe does.
 */

export class ApiError extends Error {
  constructor(status, fields, { stored = false, headers = {} } = {}) {
    super(fields.message);
    this.status = status;
    this.fields = fields;
    this.stored = stored;
    this.headers = headers;
  }

  body(requestId) {
    const e = {};
    const f = this.fields;
    for (const k of ['charge', 'code', 'decline_code']) if (f[k] != null) e[k] = f[k];
    if (f.code) e.doc_url = f.doc_url || `https://stripe.com/docs/error-codes/${f.code.replace(/_/g, '-')}`;
    if (f.message != null) e.message = f.message;
    for (const k of ['param', 'payment_intent', 'payment_method', 'payment_method_type']) {
      if (f[k] != null) e[k] = f[k];
    }
    if (requestId && this.status !== 401) {
      e.request_log_url = `https://dashboard.stripe.com/test/logs/${requestId}?t=${Math.floor(Date.now() / 1000)}`;
    }
    e.type = f.type;
    return { error: e };
  }
}

/* 400: a parameter is invalid (refused before work, not stored). */
export function invalid(message, param, code) {
  return new ApiError(400, { type: 'invalid_request_error', message, param, code });
}

export function missing(param) {
  return new ApiError(400, {
    type: 'invalid_request_error',
    code: 'parameter_missing',
    message: `Missing required param: ${param}.`,
    param,
  });
}

export function unknownParam(param) {
  return new ApiError(400, {
    type: 'invalid_request_error',
    code: 'parameter_unknown',
    message: `Received unknown parameter: ${param}`,
    param,
  });
}

export function notFound(noun, id, param = 'id') {
  return new ApiError(404, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    message: `No such ${noun}: '${id}'`,
    param,
  });
}

/* 400 raised while the endpoint runs (state conflicts): stored and replayed. */
export function stateError(message, code, param) {
  return new ApiError(400, { type: 'invalid_request_error', message, code, param }, { stored: true });
}

export function apiError500(message) {
  return new ApiError(
    500,
    {
      type: 'api_error',
      message:
        message ||
        'An unknown error occurred while processing your request. Please retry; if the problem persists, contact Stripe support.',
    },
    { stored: true, headers: { 'Stripe-Should-Retry': 'false' } },
  );
}

export function rateLimit() {
  return new ApiError(
    429,
    {
      type: 'invalid_request_error',
      code: 'rate_limit',
      message:
        'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
    },
    { headers: { 'Stripe-Should-Retry': 'true' } },
  );
}

export function idempotencyInUse(key) {
  return new ApiError(
    409,
    {
      type: 'invalid_request_error',
      code: 'idempotency_key_in_use',
      message:
        'There is currently another in-progress request using this Stripe-Account, Idempotency-Key, and API key ' +
        `(that probably means you submitted twice, and the other request is still going through): ${key}. ` +
        'Please try again later.',
    },
    { headers: { 'Stripe-Should-Retry': 'true' } },
  );
}

export function authError(message, code) {
  return new ApiError(401, { type: 'invalid_request_error', message, code });
}

export function maskKey(key) {
  if (!key) return '';
  const m = /^(sk|pk|rk)_(test|live)_/.exec(key);
  const prefix = m ? m[0] : '';
  const tail = key.slice(-4);
  return `${prefix}${'*'.repeat(Math.max(0, key.length - prefix.length - 4))}${tail}`;
}
