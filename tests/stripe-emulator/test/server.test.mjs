/*
 * server.test.mjs - the process and the connection layer: keep-alive (100 SDK
 * calls over one agent = one TCP connection, and the counter is proven right
 * by opening fresh connections), the startup line, SIGTERM, --api-key,
 * --log, binding to 127.0.0.1, bad options, reset semantics and the
 * requests log / objects dump of the control API.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startEmulator, SERVER, KEY } from '../testlib/harness.mjs';
import { parseArgs } from '../server.mjs';

function freshConnectionGet(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, agent: false, headers: { Authorization: `Bearer ${KEY}`, Connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

test('keep-alive: 100 SDK calls over one agent use one connection', async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const stripe = emu.stripe({ config: { httpAgent: agent } });
  assert.equal(await freshConnectionGet(emu.port, '/v1/balance'), 200);
  assert.equal((await emu.ctl('GET', '/__emu/stats')).api_connections, 1, 'counted without a prior reset');
  await emu.ctl('DELETE', '/__emu/stats');
  for (let i = 0; i < 50; i++) {
    const pi = await stripe.paymentIntents.create({ amount: 1000 + i, currency: 'usd' });
    await stripe.paymentIntents.retrieve(pi.id);
  }
  let stats = await emu.ctl('GET', '/__emu/stats');
  assert.equal(stats.api_requests, 100);
  assert.equal(stats.api_connections, 1, JSON.stringify(stats));
  // prove the counter counts: three more /v1 calls on brand-new connections
  for (let i = 0; i < 3; i++) assert.equal(await freshConnectionGet(emu.port, '/v1/balance'), 200);
  stats = await emu.ctl('GET', '/__emu/stats');
  assert.equal(stats.api_connections, 4);
  assert.equal(stats.api_requests, 103);
  assert.ok(stats.connections_opened >= 4);
  assert.ok(stats.requests >= 103);
  agent.destroy();
  // the SDK's own default agent keeps connections alive too
  const plain = emu.stripe();
  for (let i = 0; i < 20; i++) await plain.balance.retrieve();
  stats = await emu.ctl('GET', '/__emu/stats');
  assert.equal(stats.api_connections, 5, JSON.stringify(stats));
});

test('process: startup line, SIGTERM, --api-key, --log, default host', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stripe-emu-log-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const logFile = path.join(dir, 'requests.log');
  const emu = await startEmulator(['--api-key', 'sk_test_only_this', '--log', logFile]);
  assert.match(emu.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const other = await emu.api('GET', '/v1/balance', {}, { key: 'sk_test_another' });
  assert.equal(other.status, 401);
  const ok = await emu.api('GET', '/v1/balance', {}, { key: 'sk_test_only_this' });
  assert.equal(ok.status, 200);
  const code = await emu.stop();
  assert.equal(code, 0);
  const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.method, l.path, l.status]), [['GET', '/v1/balance', 401], ['GET', '/v1/balance', 200]]);
  const bad = spawnSync(process.execPath, [SERVER, '--bogus'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown option --bogus/);
});

test('command line parsing', () => {
  const o = parseArgs([
    '--port', '0', '--api-key', 'sk_test_a', 'sk_test_b', '--api-key=sk_test_c',
    '--webhook', 'http://127.0.0.1:8080/webhooks/stripe?x=1=whsec_abc',
    '--connect-webhook=http://127.0.0.1:8080/webhooks/stripe/connect=whsec_def',
    '--log', '/tmp/x.log', '--retry-base-ms', '50', '--max-attempts', '3',
  ]);
  assert.equal(o.port, 0);
  assert.equal(o.host, '127.0.0.1');
  assert.deepEqual(o.apiKeys, ['sk_test_a', 'sk_test_b', 'sk_test_c']);
  assert.deepEqual(o.webhooks, [{ url: 'http://127.0.0.1:8080/webhooks/stripe?x=1', secret: 'whsec_abc' }]);
  assert.deepEqual(o.connectWebhooks, [{ url: 'http://127.0.0.1:8080/webhooks/stripe/connect', secret: 'whsec_def' }]);
  assert.deepEqual(o.webhookSettings, { retry_base_ms: 50, max_attempts: 3 });
  assert.equal(o.log, '/tmp/x.log');
  assert.throws(() => parseArgs(['--port', '70000']), /0\.\.65535/);
  assert.throws(() => parseArgs(['--webhook', 'nourl']), /URL=whsec_SECRET/);
});

test('control API: reset, requests log, objects dump, health', async (t) => {
  const emu = await startEmulator(['--webhook', 'http://127.0.0.1:9/x=whsec_keep']);
  t.after(() => emu.stop());
  assert.deepEqual(await emu.ctl('GET', '/__emu/health'), { ok: true, api_version: '2026-10-28.endive' });
  await emu.ctl('POST', '/__emu/webhooks/config', { pause: true }); // the endpoint is unreachable anyway
  const r = await emu.api('POST', '/v1/payment_intents', { amount: 1000, currency: 'usd', metadata: { a: 'b' } }, { headers: { 'Idempotency-Key': 'log-1' } });
  const log = (await emu.ctl('GET', '/__emu/requests')).requests;
  assert.equal(log.length, 1);
  assert.equal(log[0].method, 'POST');
  assert.equal(log[0].path, '/v1/payment_intents');
  assert.equal(log[0].idempotency_key, 'log-1');
  assert.deepEqual(log[0].params, { amount: '1000', currency: 'usd', metadata: { a: 'b' } });
  assert.equal(log[0].status, 200);
  assert.equal(log[0].replayed, false);
  assert.equal(log[0].request_id, r.headers.get('request-id'));
  const objs = await emu.ctl('GET', '/__emu/objects/payment_intents');
  assert.equal(objs.count, 1);
  assert.equal(objs.data[0].id, r.json.id);
  assert.equal((await emu.ctl('GET', '/__emu/objects/events')).count, 1);
  await assert.rejects(emu.ctl('GET', '/__emu/objects/widgets'), /400/);
  /* one object forgotten, as deleting test data does: reads answer 404 */
  const other = await emu.api('POST', '/v1/payment_intents', { amount: 500, currency: 'usd' });
  assert.deepEqual(await emu.ctl('DELETE', `/__emu/objects/payment_intents/${other.json.id}`),
    { kind: 'payment_intents', id: other.json.id, deleted: true });
  const gone = await emu.api('GET', `/v1/payment_intents/${other.json.id}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.json.error.code, 'resource_missing');
  assert.equal((await emu.api('POST', `/v1/payment_intents/${other.json.id}/cancel`, {})).status, 404);
  assert.equal((await emu.ctl('DELETE', `/__emu/objects/payment_intents/${other.json.id}`)).deleted, false);
  await emu.ctl('DELETE', '/__emu/requests');
  assert.equal((await emu.ctl('GET', '/__emu/requests')).requests.length, 0);
  await emu.ctl('POST', '/__emu/clock', { advance_seconds: 100 });
  await emu.ctl('POST', '/__emu/reset');
  assert.equal((await emu.ctl('GET', '/__emu/objects/payment_intents')).count, 0);
  assert.equal((await emu.ctl('GET', '/__emu/clock')).offset_seconds, 0);
  assert.equal((await emu.ctl('GET', '/__emu/webhooks/config')).endpoints.length, 1, 'reset keeps endpoints');
  assert.equal((await emu.ctl('GET', '/__emu/webhooks/config')).pause, false, 'reset clears delivery modes');
  const replay = await emu.api('POST', '/v1/payment_intents', { amount: 1000, currency: 'usd', metadata: { a: 'b' } }, { headers: { 'Idempotency-Key': 'log-1' } });
  assert.equal(replay.headers.get('idempotent-replayed'), null, 'reset drops idempotency keys');
  await emu.ctl('POST', '/__emu/reset', { all: true });
  assert.equal((await emu.ctl('GET', '/__emu/webhooks/config')).endpoints.length, 0);
  await assert.rejects(emu.ctl('GET', '/__emu/nope'), /404/);
});
