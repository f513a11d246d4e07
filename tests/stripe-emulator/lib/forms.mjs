/*
 * forms.mjs - Stripe's application/x-www-form-urlencoded dialect.
 *
 * Owns: turning a request body or query string into nested plain objects and
 * arrays (parseForm) and the reverse (encodeForm, used by tests and logs).
 *
 * The dialect is the one Stripe's SDKs speak:
 *   metadata[checkout_id]=chk_1        -> { metadata: { checkout_id: 'chk_1' } }
 *   expand[]=a&expand[]=b              -> { expand: ['a', 'b'] }
 *   expand[0]=a&expand[1]=b            -> { expand: ['a', 'b'] }   (SDK style)
 *   items[0][price]=p&items[0][qty]=2  -> { items: [{ price: 'p', qty: '2' }] }
 *   '+' is a space, %XX is UTF-8 percent-encoding, brackets may be encoded.
 *
 * Invariants:
 *   - every leaf is a string (types are checked by the endpoint, as Stripe
 *     does: "Invalid integer: abc");
 *   - a container becomes an array only when addressed with [] or a numeric
 *     index, except below a key named "metadata" (metadata[0]=x is a hash);
 *   - the same scalar key given twice keeps the last value;
 *   - mixing a scalar and a hash at one key (a=1&a[b]=2) is a FormError, as
 *     Stripe answers "Invalid hash" / "Invalid array".
 */

export class FormError extends Error {
  constructor(message, param) {
    super(message);
    this.param = param;
  }
}

function decode(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new FormError(`Invalid URL encoding: ${s}`);
  }
}

/* 'a[b][][3]' -> ['a', 'b', '', '3'] */
export function splitKey(key) {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const parts = [key.slice(0, open)];
  let rest = key.slice(open);
  while (rest.length) {
    if (rest[0] !== '[') {
      // trailing garbage after a bracket group: Stripe treats the whole as a name
      parts[parts.length - 1] += rest;
      break;
    }
    const close = rest.indexOf(']');
    if (close < 0) {
      parts[parts.length - 1] += rest;
      break;
    }
    parts.push(rest.slice(1, close));
    rest = rest.slice(close + 1);
  }
  return parts;
}

const ARRAY = Symbol('array'); // marks containers that are arrays in the making

function isIndex(seg) {
  return seg === '' || /^\d+$/.test(seg);
}

function assign(root, path, value, fullKey) {
  let node = root;
  for (let i = 0; i < path.length; i++) {
    let seg = path[i];
    const last = i === path.length - 1;
    if (node[ARRAY] && seg === '') {
      seg = String(node[ARRAY].next++);
    } else if (node[ARRAY] && /^\d+$/.test(seg)) {
      node[ARRAY].next = Math.max(node[ARRAY].next, Number(seg) + 1);
    }
    if (last) {
      if (Object.prototype.hasOwnProperty.call(node, seg) && typeof node[seg] === 'object') {
        throw new FormError(`Invalid hash: ${fullKey} is given both as a value and as a hash`, path[0]);
      }
      node[seg] = value;
      return;
    }
    const nextSeg = path[i + 1];
    const underMetadata = path.slice(0, i + 1).includes('metadata');
    if (!Object.prototype.hasOwnProperty.call(node, seg)) {
      const child = {};
      if (isIndex(nextSeg) && !underMetadata) child[ARRAY] = { next: 0 };
      node[seg] = child;
    } else if (typeof node[seg] !== 'object') {
      throw new FormError(`Invalid hash: ${fullKey} is given both as a value and as a hash`, path[0]);
    }
    node = node[seg];
  }
}

function finalize(node) {
  if (node === null || typeof node !== 'object') return node;
  if (node[ARRAY]) {
    const keys = Object.keys(node);
    if (keys.every((k) => /^\d+$/.test(k))) {
      return keys
        .map(Number)
        .sort((a, b) => a - b)
        .map((k) => finalize(node[String(k)]));
    }
  }
  const out = {};
  for (const k of Object.keys(node)) out[k] = finalize(node[k]);
  return out;
}

/* Parse a form body or query string (without the leading '?'). */
export function parseForm(str) {
  const root = {};
  if (!str) return root;
  for (const part of String(str).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    const value = decode(eq < 0 ? '' : part.slice(eq + 1));
    if (!key) continue;
    assign(root, splitKey(key), value, key);
  }
  return finalize(root);
}

function enc(s) {
  return encodeURIComponent(s).replace(/%5B/g, '[').replace(/%5D/g, ']');
}

/* Encode nested data the way stripe-node does (indexed arrays). */
export function encodeForm(data, { arrayStyle = 'indices' } = {}) {
  const pairs = [];
  const walk = (key, value) => {
    if (value === undefined) return;
    if (value === null || typeof value !== 'object') {
      pairs.push(`${enc(key)}=${enc(value === null ? '' : String(value))}`);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(arrayStyle === 'brackets' ? `${key}[]` : `${key}[${i}]`, v));
    } else {
      for (const k of Object.keys(value)) walk(`${key}[${k}]`, value[k]);
    }
  };
  for (const k of Object.keys(data || {})) walk(k, data[k]);
  return pairs.join('&');
}

/* Deterministic JSON (sorted keys) used to compare idempotent requests. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
