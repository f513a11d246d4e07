/*
 * harness.mjs - shared helpers for the emulator's node:test suites.
 *
 * Owns: starting the emulator as a child process exactly as a harness would
 * (wait for the "stripe-emulator listening on http://HOST:PORT" line, stop
 * with SIGTERM), a raw HTTP client for /v1 (form-encoded, to see statuses and
 * headers the SDK hides), the control-API client, an SDK factory, and a
 * local webhook receiver that records every delivery (raw body + headers)
 * and can be told to answer non-2xx for the first N deliveries.
 *
 * Lives outside test/ so that `node --test tests/stripe-emulator/test/` does
 * not run it as a test file.
 */

import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import Stripe from 'stripe';
import { encodeForm } from '../lib/forms.mjs';

export const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'server.mjs');
export const KEY = 'sk_test_emulator';

export async function startEmulator(args = []) {
  const proc = spawn(process.execPath, [SERVER, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${stderr}`)), 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /stripe-emulator listening on (http:\/\/\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`emulator exited with ${code}: ${stderr}`)));
  });
  const port = Number(new URL(url).port);
  const emu = {
    url,
    port,
    proc,
    get stderr() {
      return stderr;
    },
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      const done = new Promise((r) => proc.once('exit', (code, sig) => r(code ?? sig)));
      proc.kill('SIGTERM');
      return done;
    },
    ctl: (method, p, body) => ctl(url, method, p, body),
    api: (method, p, params, opts) => api(url, method, p, params, opts),
    stripe: (opts = {}) => sdk(port, opts),
    flush: async () => {
      const r = await ctl(url, 'POST', '/__emu/webhooks/flush', { timeout_ms: 15000 });
      if (!r.flushed) throw new Error(`flush timed out: ${JSON.stringify(r)}`);
      return r;
    },
    /* flush first so no delivery from the previous test is still on the wire */
    reset: async (body = {}) => {
      await ctl(url, 'POST', '/__emu/webhooks/flush', { timeout_ms: 15000 });
      return ctl(url, 'POST', '/__emu/reset', body);
    },
    objects: async (kind) => (await ctl(url, 'GET', `/__emu/objects/${kind}`)).data,
  };
  return emu;
}

export async function ctl(base, method, p, body) {
  const res = await fetch(base + p, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  if (!res.ok) {
    const err = new Error(`${method} ${p} -> ${res.status}: ${text}`);
    err.status = res.status;
    err.body = json;
    throw err;
  }
  return json;
}

/* raw /v1 call: returns {status, headers, json, text} and never throws on HTTP errors */
export async function api(base, method, p, params = {}, { key = KEY, headers = {}, auth = 'bearer' } = {}) {
  const h = { ...headers };
  if (key && auth === 'bearer') h.Authorization = `Bearer ${key}`;
  if (key && auth === 'basic') h.Authorization = `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
  let u = base + p;
  let body;
  const form = encodeForm(params);
  if (method === 'GET' || method === 'DELETE') {
    if (form) u += (u.includes('?') ? '&' : '?') + form;
  } else {
    h['Content-Type'] = 'application/x-www-form-urlencoded';
    body = form;
  }
  const res = await fetch(u, { method, headers: h, body });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, json, text };
}

export function sdk(port, opts = {}) {
  return new Stripe(opts.key || KEY, {
    host: '127.0.0.1',
    port,
    protocol: 'http',
    maxNetworkRetries: 0,
    telemetry: false,
    ...opts.config,
  });
}

/*
 * A webhook receiver: records {headers, body, json, time} per POST.
 * failFirst(n, status) answers `status` to the next n deliveries.
 */
export async function startReceiver() {
  const received = [];
  const waiters = [];
  let failures = 0;
  let failStatus = 500;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json = null;
      try {
        json = JSON.parse(body);
      } catch {
        /* keep raw */
      }
      const entry = { headers: req.headers, body, json, time: Date.now(), answered: 200 };
      if (failures > 0) {
        failures--;
        entry.answered = failStatus;
      }
      received.push(entry);
      res.writeHead(entry.answered, { 'Content-Type': 'application/json' });
      res.end('{"received":true}');
      for (const w of [...waiters]) w();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/webhook`;
  return {
    url,
    received,
    events: () => received.filter((e) => e.answered < 300).map((e) => e.json),
    failFirst(n, status = 500) {
      failures = n;
      failStatus = status;
    },
    clear() {
      received.length = 0;
    },
    async waitFor(pred, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(received)) {
        if (Date.now() > deadline) throw new Error(`receiver: condition not met in ${timeoutMs} ms (${received.length} received)`);
        await new Promise((r) => {
          const t = setTimeout(r, 50);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
        waiters.length = 0;
      }
      return received;
    },
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(r);
    }),
  };
}

/* a PaymentIntent that succeeded with capture_method=automatic (balance transaction at once) */
export async function paidIntent(emu, { amount = 2000, currency = 'usd', pm = 'pm_card_visa', extra = {} } = {}) {
  const r = await emu.api('POST', '/v1/payment_intents', {
    amount,
    currency,
    payment_method: pm,
    confirm: true,
    capture_method: 'automatic',
    payment_method_types: ['card'],
    ...extra,
  });
  if (r.status !== 200) throw new Error(`paidIntent: ${r.status} ${r.text}`);
  return r.json;
}
