#!/usr/bin/env node
/*
 * server.mjs - entry point of the Stripe emulator (node:http, no framework).
 *
 *   node tests/stripe-emulator/server.mjs --port 12111 [--host 127.0.0.1]
 *        [--api-key sk_test_x ...] [--webhook URL=whsec_S ...]
 *        [--connect-webhook URL=whsec_S ...] [--log FILE]
 *        [--retry-base-ms N] [--retry-scale F] [--max-attempts N]
 *
 * Prints exactly one line, "stripe-emulator listening on http://HOST:PORT",
 * once listening (port 0 picks a free port); SIGTERM/SIGINT close it cleanly.
 *
 * Owns: the HTTP pipeline of a /v1 request, in Stripe's order:
 *   CORS preflight -> body/query parsing -> authentication (secret key,
 *   or publishable key + client_secret on Stripe.js routes) -> Stripe-Account
 *   -> route -> injected fault -> idempotency (replay / 409 / 400 mismatch)
 *   -> the endpoint -> store the answer under the key -> answer,
 * with Request-Id, Stripe-Version (echoed if sent, else the pinned version),
 * Idempotency-Key/Original-Request and CORS headers on every answer, and the
 * request log / connection statistics the control API exposes.
 *
 * Invariants: an answer refused before the endpoint ran (401, 404 route,
 * validation 400, 409, 429, dropped socket) stores nothing under the
 * Idempotency-Key; an answer produced by the endpoint (success, 402, state
 * 400, 500) is stored and replayed byte for byte for 24 h.
 */

import http from 'node:http';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Emulator } from './lib/emulator.mjs';
import { PLATFORM } from './lib/state.mjs';
import { parseForm, canonical, FormError } from './lib/forms.mjs';
import { ApiError, authError, apiError500, rateLimit, idempotencyInUse, maskKey, invalid } from './lib/errors.mjs';
import { match, unrecognized, publishableRefused } from './lib/api.mjs';
import { matchControl } from './lib/control.mjs';
import { API_VERSION, randomId } from './lib/objects.mjs';

const MAX_BODY = 1 << 20;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(invalid('Request body too large.', undefined));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers':
    'Request-Id, Stripe-Manage-Version, Stripe-Should-Retry, Idempotent-Replayed, Original-Request, X-Stripe-External-Auth-Required, X-Stripe-Privileged-Session-Required',
  'Access-Control-Max-Age': '300',
};

function writeJson(res, status, text, headers) {
  if (res.writableEnded || res.destroyed || res.socket?.destroyed) return;
  try {
    res.writeHead(status, {
      ...headers,
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  } catch {
    /* the client went away */
  }
}

const toText = (body) => `${JSON.stringify(body, null, 2)}\n`;

/* ---- authentication ------------------------------------------------------------- */

function credentials(req, params) {
  const h = req.headers.authorization;
  if (h) {
    const m = /^(\w+)\s+(.*)$/.exec(h.trim());
    if (m && m[1].toLowerCase() === 'bearer') return m[2].trim();
    if (m && m[1].toLowerCase() === 'basic') {
      const decoded = Buffer.from(m[2], 'base64').toString('utf8');
      return decoded.split(':')[0];
    }
    return h.trim();
  }
  if (typeof params.key === 'string') return params.key;
  return null;
}

/*
 * authenticate - the caller's key against the emulator's keys (emu.keys,
 * lib/control.mjs "keys"): with no --api-key any sk_test_/rk_test_ key
 * is accepted; a key rolled (POST /__emu/keys/roll) stays valid until
 * its expiry, then is refused like Stripe refuses an expired key.
 */
function authenticate(emu, key) {
  if (!key) {
    throw authError(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    );
  }
  if (/^pk_test_\S+$/.test(key)) return { publishable: true, key };
  const okShape = /^(sk|rk)_test_\S+$/.test(key);
  const known = emu.keys.get(key);
  const allowed = emu.keysOpen || known !== undefined;
  if (!okShape || !allowed) throw authError(`Invalid API Key provided: ${maskKey(key)}`);
  if (known && known.expires_at !== null && known.expires_at <= emu.now()) {
    throw authError(`Expired API Key provided: ${maskKey(key)}`, 'api_key_expired');
  }
  return { publishable: false, key };
}

/* ---- the /v1 pipeline ----------------------------------------------------------------- */

async function handleApi(emu, opts, req, res, url) {
  const started = Date.now();
  const requestId = `req_${randomId(14)}`;
  const method = req.method;
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const headers = {
    ...CORS,
    'Request-Id': requestId,
    'Stripe-Version': req.headers['stripe-version'] || API_VERSION,
    'Cache-Control': 'no-cache, no-store',
  };
  if (method === 'OPTIONS') {
    res.writeHead(200, {
      ...headers,
      'Access-Control-Allow-Methods': 'GET, HEAD, PUT, PATCH, POST, DELETE',
      'Access-Control-Allow-Headers':
        req.headers['access-control-request-headers'] ||
        'Authorization, Content-Type, Idempotency-Key, Stripe-Account, Stripe-Version',
      'Content-Length': 0,
    });
    res.end();
    return;
  }
  emu.stats.api_requests++;
  if (req.socket._emuApiEpoch !== emu.statsEpoch) {
    req.socket._emuApiEpoch = emu.statsEpoch;
    emu.stats.api_connections++;
  }
  const stripeAccount = req.headers['stripe-account'] || null;
  const idemKey = method === 'POST' ? req.headers['idempotency-key'] || null : null;
  if (stripeAccount) headers['Stripe-Account'] = stripeAccount;
  if (idemKey) {
    headers['Idempotency-Key'] = idemKey;
    headers['Original-Request'] = requestId;
  }
  const entry = {
    time: new Date().toISOString(),
    request_id: requestId,
    method,
    path,
    idempotency_key: idemKey,
    stripe_account: stripeAccount,
    params: null,
    status: null,
    replayed: false,
    fault: null,
  };
  const finish = (status, text, extra = {}) => {
    entry.status = status;
    entry.duration_ms = Date.now() - started;
    emu.logRequest(entry);
    writeJson(res, status, text, { ...headers, ...extra });
  };
  const fail = (err) => {
    const e = err instanceof ApiError ? err : apiError500();
    if (!(err instanceof ApiError)) console.error('stripe-emulator: internal error:', err);
    finish(e.status, toText(e.body(requestId)), e.status === 401 ? { ...e.headers, 'WWW-Authenticate': 'Basic realm="Stripe"' } : e.headers);
  };

  let params;
  try {
    const body = await readBody(req);
    params = { ...parseForm(url.search.slice(1)), ...parseForm(body) };
  } catch (err) {
    if (err instanceof FormError) return fail(invalid(err.message, err.param));
    return fail(err);
  }
  entry.params = params;

  let ctx;
  let found;
  try {
    const key = credentials(req, params);
    entry.api_key = key ? maskKey(key) : null;
    const auth = authenticate(emu, key);
    let owner = PLATFORM;
    if (stripeAccount && stripeAccount !== PLATFORM) {
      if (!emu.state.get('accounts', stripeAccount)) {
        throw new ApiError(403, {
          type: 'invalid_request_error',
          code: 'account_invalid',
          message: `The provided key '${maskKey(auth.key)}' does not have access to account '${stripeAccount}' (or that account does not exist). Application access may have been revoked.`,
        });
      }
      owner = stripeAccount;
    }
    found = match(method, path);
    if (!found.route) throw unrecognized(method, path);
    if (auth.publishable && (!found.route.pk || params.client_secret === undefined)) throw publishableRefused();
    if (idemKey && idemKey.length > 255) {
      throw invalid('Invalid Idempotency-Key: it must be at most 255 characters long.', undefined);
    }
    ctx = {
      params,
      path: found.path,
      owner,
      publishable: auth.publishable,
      request: { id: requestId, idempotency_key: idemKey },
    };
  } catch (err) {
    return fail(err);
  }

  /* injected faults that act before anything else */
  const fault = emu.faults.take(method, path);
  if (fault) entry.fault = fault.mode;
  if (fault && fault.mode === 'drop_before') {
    entry.status = null;
    entry.dropped = true;
    emu.logRequest(entry);
    req.socket.destroy();
    return;
  }
  if (fault && (fault.mode === 'error_429' || fault.mode === 'error_409')) {
    const e = fault.mode === 'error_429' ? rateLimit() : idempotencyInUse(idemKey || '(none)');
    const headers = { ...e.headers };
    if (fault.should_retry !== null) headers['Stripe-Should-Retry'] = String(fault.should_retry);
    return finish(fault.status || (fault.mode === 'error_429' ? 429 : 409), toText(e.body(requestId)), headers);
  }

  /* idempotency */
  const scope = emu.idem.scope(PLATFORM, stripeAccount);
  let token = null;
  if (idemKey) {
    let r;
    try {
      r = emu.idem.begin(scope, idemKey, method, path, canonical(params));
    } catch (err) {
      return fail(err);
    }
    if (r.replay) {
      entry.replayed = true;
      return finish(r.replay.status, r.replay.body, {
        ...r.replay.headers,
        'Idempotent-Replayed': 'true',
        'Original-Request': r.replay.requestId,
      });
    }
    token = r.token;
  }

  if (fault && fault.mode === 'hang_before') await emu.faults.hang(fault.seconds);

  let status;
  let text;
  let extra = {};
  let stored = true;
  if (fault && fault.mode === 'error_500_stored') {
    const e = apiError500();
    status = fault.status || 500;
    text = toText(e.body(requestId));
    extra = e.headers;
  } else {
    try {
      const result = found.route.handler(emu, ctx);
      status = 200;
      text = toText(await result);
    } catch (err) {
      const e = err instanceof ApiError ? err : apiError500();
      if (!(err instanceof ApiError)) console.error('stripe-emulator: internal error:', err);
      status = e.status;
      text = toText(e.body(requestId));
      extra = e.headers;
      stored = e.stored;
    }
    if (fault && fault.mode === 'error_500_after_work') {
      const e = apiError500();
      status = fault.status || 500;
      text = toText(e.body(requestId));
      extra = e.headers;
      stored = true;
    }
  }
  if (token) {
    if (stored) emu.idem.finish(scope, idemKey, token, { status, body: text, headers: extra, requestId });
    else emu.idem.abandon(scope, idemKey, token);
  }
  if (fault && fault.mode === 'hang_after') await emu.faults.hang(fault.seconds);
  if (fault && fault.mode === 'drop_after') {
    entry.status = status;
    entry.dropped = true;
    entry.duration_ms = Date.now() - started;
    emu.logRequest(entry);
    req.socket.destroy();
    return;
  }
  finish(status, text, extra);
}

/* ---- the control API ------------------------------------------------------------------------ */

async function handleControl(emu, req, res, url) {
  const path = url.pathname.replace(/\/+$/, '');
  const found = matchControl(req.method, path);
  const send = (status, obj) => writeJson(res, status, toText(obj), { 'Access-Control-Allow-Origin': '*' });
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET, POST, DELETE',
      'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] || 'Content-Type',
    });
    res.end();
    return;
  }
  if (!found.route) {
    return send(404, { error: { type: 'invalid_request_error', message: `Unknown control route ${req.method} ${path}` } });
  }
  try {
    const raw = await readBody(req);
    let body = {};
    const ctype = req.headers['content-type'] || '';
    if (raw.trim()) {
      body = ctype.includes('json') || /^\s*[[{]/.test(raw) ? JSON.parse(raw) : parseForm(raw);
    }
    const result = await found.route.handler(emu, body || {}, found.path, url.searchParams);
    if (result && result.redirect) {
      res.writeHead(303, { Location: result.redirect, 'Content-Length': 0 });
      res.end();
      return;
    }
    if (result && result.html !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(result.html) });
      res.end(result.html);
      return;
    }
    send(200, result);
  } catch (err) {
    if (err instanceof ApiError) return send(err.status, err.body());
    if (err instanceof SyntaxError || err instanceof FormError) {
      return send(400, { error: { type: 'invalid_request_error', message: err.message } });
    }
    console.error('stripe-emulator: control error:', err);
    send(500, { error: { type: 'api_error', message: String(err && err.message) } });
  }
}

/* ---- server --------------------------------------------------------------------------------- */

export function createEmulatorServer(opts = {}) {
  const o = {
    apiKeys: opts.apiKeys || [],
    webhooks: opts.webhooks || [],
    connectWebhooks: opts.connectWebhooks || [],
    log: opts.log || null,
    webhookSettings: opts.webhookSettings || {},
  };
  let logStream = null;
  if (o.log) logStream = fs.createWriteStream(o.log, { flags: 'a' });
  const emu = new Emulator({
    webhookSettings: o.webhookSettings,
    log: logStream ? (line) => logStream.write(`${line}\n`) : null,
  });
  /* the secret keys: --api-key, plus the ones rolled by the control API */
  emu.keysOpen = o.apiKeys.length === 0;
  emu.keys = new Map(o.apiKeys.map((k) => [k, { expires_at: null }]));
  for (const w of o.webhooks) emu.webhooks.addEndpoint({ ...w, connect: false });
  for (const w of o.connectWebhooks) emu.webhooks.addEndpoint({ ...w, connect: true });

  const server = http.createServer((req, res) => {
    emu.stats.requests++;
    let url;
    try {
      url = new URL(req.url, 'http://emulator.invalid');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const p = url.pathname;
    const run = p === '/v1' || p.startsWith('/v1/') ? handleApi(emu, o, req, res, url) : p.startsWith('/__emu') ? handleControl(emu, req, res, url) : null;
    if (!run) {
      writeJson(res, 404, toText({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${p}).` } }), {});
      return;
    }
    run.catch((err) => {
      console.error('stripe-emulator: unhandled:', err);
      writeJson(res, 500, toText({ error: { type: 'api_error', message: 'internal emulator error' } }), {});
    });
  });
  server.keepAliveTimeout = 60000;
  server.headersTimeout = 65000;
  server.on('connection', (sock) => {
    emu.stats.connections_opened++;
    sock.on('error', () => {});
  });
  server.on('listening', () => {
    const a = server.address();
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    emu.baseUrl = `http://${host}:${a.port}`;
  });
  server.on('close', () => {
    emu.faults.release();
    emu.state.reset();
    emu.webhooks.clearQueues();
    if (logStream) logStream.end();
  });
  return { server, emu };
}

function parseEndpoint(spec, flag) {
  const i = spec.lastIndexOf('=whsec_') >= 0 ? spec.lastIndexOf('=whsec_') : spec.lastIndexOf('=');
  if (i <= 0) throw new Error(`${flag} expects URL=whsec_SECRET, got '${spec}'`);
  return { url: spec.slice(0, i), secret: spec.slice(i + 1) };
}

export function parseArgs(argv) {
  const opts = { port: 12111, host: '127.0.0.1', apiKeys: [], webhooks: [], connectWebhooks: [], log: null, webhookSettings: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') && a.startsWith('--') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    /* repeatable flags also take several values: --api-key k1 k2 */
    const vals = () => {
      const out = [val()];
      while (inline === undefined && i + 1 < argv.length && !argv[i + 1].startsWith('--')) out.push(argv[++i]);
      return out;
    };
    switch (flag) {
      case '--port': opts.port = Number(val()); break;
      case '--host': opts.host = val(); break;
      case '--api-key': opts.apiKeys.push(...vals()); break;
      case '--webhook': opts.webhooks.push(...vals().map((v) => parseEndpoint(v, flag))); break;
      case '--connect-webhook': opts.connectWebhooks.push(...vals().map((v) => parseEndpoint(v, flag))); break;
      case '--log': opts.log = val(); break;
      case '--retry-base-ms': opts.webhookSettings.retry_base_ms = Number(val()); break;
      case '--retry-scale': opts.webhookSettings.retry_scale = Number(val()); break;
      case '--max-attempts': opts.webhookSettings.max_attempts = Number(val()); break;
      case '--help':
      case '-h':
        opts.help = true;
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port must be 0..65535');
  return opts;
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`stripe-emulator: ${err.message}`);
    process.exit(2);
  }
  if (opts.help) {
    console.log('usage: server.mjs --port N [--host H] [--api-key sk_test_..] [--webhook URL=whsec_..] [--connect-webhook URL=whsec_..] [--log FILE]');
    return;
  }
  const { server } = createEmulatorServer(opts);
  server.on('error', (err) => {
    console.error(`stripe-emulator: ${err.message}`);
    process.exit(1);
  });
  server.listen(opts.port, opts.host, () => {
    const a = server.address();
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    process.stdout.write(`stripe-emulator listening on http://${host}:${a.port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
