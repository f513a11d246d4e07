/*
 * params.mjs - checking request parameters the way Stripe reports problems.
 *
 * Owns: typed readers over a parsed form (int, bool, string, enum, metadata,
 * currency, amount limits) and the allow-list check that turns an unexpected
 * top-level parameter into Stripe's 400 parameter_unknown.
 *
 * Invariant: every error raised here is a validation error (400, not stored
 * under the idempotency key): it happens before the endpoint does any work.
 */

import { invalid, missing, unknownParam } from './errors.mjs';
import { isCurrency, currencies, minimum, decimals, MAX_AMOUNT, formatAmount } from './currencies.mjs';

export function allow(params, names) {
  for (const k of Object.keys(params)) {
    if (k === 'expand') continue;
    if (!names.includes(k)) throw unknownParam(k);
  }
}

export function has(params, name) {
  return params[name] !== undefined;
}

export function str(params, name, { required = false, max = 5000 } = {}) {
  const v = params[name];
  if (v === undefined) {
    if (required) throw missing(name);
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(`Invalid string: ${JSON.stringify(v)}`, name, 'parameter_invalid_string');
  if (v.length > max) throw invalid(`Invalid string: ${v.slice(0, 20)}...; must be at most ${max} characters`, name);
  return v;
}

/* '' means "unset" for nullable strings (Stripe's Emptyable) */
export function nullableStr(params, name) {
  const v = str(params, name);
  if (v === undefined) return undefined;
  return v === '' ? null : v;
}

export function int(params, name, { required = false, min } = {}) {
  const v = params[name];
  if (v === undefined || v === '') {
    if (required) throw missing(name);
    return undefined;
  }
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) {
    throw invalid(`Invalid integer: ${typeof v === 'string' ? v : JSON.stringify(v)}`, name, 'parameter_invalid_integer');
  }
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw invalid(`Invalid integer: ${v}`, name, 'parameter_invalid_integer');
  if (min !== undefined && n < min) {
    throw invalid(`This value must be greater than or equal to ${min}.`, name, 'parameter_invalid_integer');
  }
  return n;
}

export function bool(params, name) {
  const v = params[name];
  if (v === undefined || v === '') return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalid(`Invalid boolean: ${v}`, name);
}

export function oneOf(params, name, values, { required = false } = {}) {
  const v = str(params, name, { required });
  if (v === undefined) return undefined;
  if (!values.includes(v)) {
    const list = values.length > 1 ? `${values.slice(0, -1).join(', ')}, or ${values[values.length - 1]}` : values[0];
    throw invalid(`Invalid ${name}: must be one of ${list}`, name);
  }
  return v;
}

export function currency(params, name = 'currency', { required = true } = {}) {
  const raw = str(params, name, { required });
  if (raw === undefined) return undefined;
  const c = raw.toLowerCase();
  if (!isCurrency(c)) {
    throw invalid(
      `Invalid currency: ${raw}. Stripe currently supports these currencies: ${currencies().join(', ')}`,
      name,
    );
  }
  return c;
}

/* amount limits for charges: minimum per currency, maximum, three-decimal rule */
export function checkChargeAmount(amount, cur, name = 'amount') {
  if (amount < minimum(cur)) {
    throw invalid(
      `Amount must be at least ${formatAmount(cur, minimum(cur))} ${cur}`,
      name,
      'amount_too_small',
    );
  }
  if (amount > MAX_AMOUNT) {
    throw invalid(
      `Amount must be no more than ${formatAmount(cur, MAX_AMOUNT)} ${cur}`,
      name,
      'amount_too_large',
    );
  }
  if (decimals(cur) === 3 && amount % 10 !== 0) {
    throw invalid(
      `Invalid amount for ${cur}: three-decimal currencies require the last digit of the amount to be 0 ` +
        `(use ${Math.round(amount / 10) * 10} for ${formatAmount(cur, Math.round(amount / 10) * 10)}).`,
      name,
      'invalid_charge_amount',
    );
  }
}

/*
 * metadata: a hash of up to 50 keys (<= 40 chars) with string values
 * (<= 500 chars). For updates, '' as the whole value unsets all keys and ''
 * as a key's value unsets that key (Stripe's semantics).
 */
export function metadata(params, name = 'metadata') {
  const v = params[name];
  if (v === undefined) return undefined;
  if (v === '') return null; // unset everything
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('Invalid hash', name);
  const keys = Object.keys(v);
  if (keys.length > 50) throw invalid('Metadata can have at most 50 keys.', name);
  for (const k of keys) {
    if (k.length > 40) throw invalid(`Metadata key length can't exceed 40 characters.`, `${name}[${k}]`);
    if (typeof v[k] !== 'string') throw invalid(`Invalid metadata value for ${k}: must be a string`, `${name}[${k}]`);
    if (v[k].length > 500) throw invalid(`Metadata values can have up to 500 characters.`, `${name}[${k}]`);
  }
  return v;
}

export function applyMetadata(target, md) {
  if (md === undefined) return target;
  if (md === null) return {};
  const out = { ...target };
  for (const [k, val] of Object.entries(md)) {
    if (val === '') delete out[k];
    else out[k] = val;
  }
  return out;
}

export function expandList(params) {
  const e = params.expand;
  if (e === undefined) return [];
  if (typeof e === 'string') return [e];
  if (!Array.isArray(e)) throw invalid('Invalid array', 'expand');
  return e.map(String);
}
