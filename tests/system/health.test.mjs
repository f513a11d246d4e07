/*
 * health.test.mjs - GET /api/v1/health and /api/v1/health/live through
 * nginx, and health across a MariaDB restart: 503 "db":"down" while it
 * is down, 200 again by itself once it is back, with the same master and
 * the same workers (the workers reconnect; nobody restarts tallyd); and
 * a tallyd started while MariaDB is down, which serves once it is up.
 * The stack has a private mariadbd so the test may stop it.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { req, startStack, waitFor } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ name: 'health', privateDb: true });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  await stack?.stop();
});

test('GET /api/v1/health answers 200 with the database up', async () => {
  const res = await req(stack, 'GET', '/api/v1/health');
  assert.equal(res.status, 200, 'health status');
  assert.match(res.headers.get('content-type'), /^application\/json/, 'content type');
  assert.equal(res.json.status, 'ok', 'status field');
  assert.equal(res.json.db, 'ok', 'db field');
  assert.equal(typeof res.json.version, 'string', 'version is a string');
  assert.ok(res.json.version.length > 0, 'version is not empty');
  assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/, 'X-Request-Id is nginx\'s request id');
});

test('GET /api/v1/health/live answers 200', async () => {
  const res = await req(stack, 'GET', '/api/v1/health/live');
  assert.equal(res.status, 200, 'liveness status');
  assert.equal(res.json.status, 'ok', 'liveness body');
  assert.ok(res.headers.get('x-request-id'), 'X-Request-Id present');
});

test('health follows MariaDB down and back up without a tallyd restart', async () => {
  const master = stack.masterPid();
  const workers = stack.workerPids('api');
  assert.equal(workers.length, 4, 'four api workers before');

  await stack.stopDb();
  const down = await waitFor(async () => {
    const r = await req(stack, 'GET', '/api/v1/health');
    return r.status === 503 ? r : null;
  }, { timeoutMs: 5000, interval: 100, what: 'health to answer 503 with MariaDB stopped' });
  assert.equal(down.json?.db, 'down', 'db field while MariaDB is down');
  assert.equal(down.json?.status, 'degraded', 'status field while MariaDB is down');

  /* every worker answers 503 (none hangs, none dies): more requests than workers */
  for (let i = 0; i < 8; i++) {
    const r = await req(stack, 'GET', '/api/v1/health');
    assert.equal(r.status, 503, `health request ${i} while MariaDB is down`);
  }
  const live = await req(stack, 'GET', '/api/v1/health/live');
  assert.equal(live.status, 200, 'liveness does not depend on the database');

  await stack.startDb();
  const t0 = Date.now();
  await waitFor(async () => (await req(stack, 'GET', '/api/v1/health')).status === 200,
    { timeoutMs: 15000, interval: 200, what: 'health to answer 200 after MariaDB restarted' });
  const recoveredMs = Date.now() - t0;
  /* and every worker has reconnected: several requests in a row */
  for (let i = 0; i < 8; i++) {
    const r = await req(stack, 'GET', '/api/v1/health');
    assert.equal(r.status, 200, `health request ${i} after recovery (recovered after ${recoveredMs} ms)`);
    assert.equal(r.json.db, 'ok', 'db field after recovery');
  }
  assert.equal(stack.masterPid(), master, 'same master');
  assert.deepEqual(stack.workerPids('api'), workers, 'same api workers (none restarted)');
});

test('tallyd started while MariaDB is down serves once it is up', async () => {
  const st = await stack.stopTallyd();
  assert.equal(st.code, 0, 'tallyd stopped');
  await stack.stopDb();
  await stack.startTallyd();
  assert.equal(stack.workerPids('api').length, 4, 'the workers start without the database');
  const down = await req(stack, 'GET', '/api/v1/health');
  assert.equal(down.status, 503, 'health 503 without the database');
  assert.equal(down.json?.db, 'down', 'db down');
  assert.ok(stack.logLines().some((l) => /database not reachable at start/.test(l.msg)), 'the workers say so');
  const workers = stack.workerPids('api');
  await stack.startDb();
  await waitFor(async () => (await req(stack, 'GET', '/api/v1/health')).status === 200,
    { timeoutMs: 15000, interval: 200, what: 'health 200 once MariaDB is up' });
  assert.deepEqual(stack.workerPids('api'), workers, 'the same workers');
});
