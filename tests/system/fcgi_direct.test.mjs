/*
 * fcgi_direct.test.mjs - tallyd's pools spoken to directly over FastCGI
 * (lib/fcgi.mjs), bypassing nginx: what a misbehaving front end or a
 * local attacker could send.  A normal request works (and exercises the
 * client: 4-byte parameter lengths, a body over several FCGI_STDIN
 * records); a CONTENT_LENGTH that lies either way is 400 invalid_length;
 * a declared length over max_body_bytes is 413 before any body is read;
 * a 50 MiB body with no CONTENT_LENGTH is 413; garbage on the socket
 * kills nothing.  After each, the pool still answers and no worker died.
 * Last, the request_timeout watchdog (2 s here): a body that never comes
 * costs the worker (killed and replaced), and a request whose FastCGI
 * header never completes must not pin a worker either.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';

import { fcgiHttp, fcgiRaw, record, FCGI } from './lib/fcgi.mjs';
import { sleep, startStack, waitFor } from './lib/stack.mjs';

const MAX_BODY = 1 << 20; /* tally.conf default max_body_bytes */

let stack;
let pids;

before(async () => {
  stack = await startStack({ name: 'fcgi', conf: { tally: { request_timeout: 2 } } });
  pids = { api: stack.workerPids('api'), admin: stack.workerPids('admin') };
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  await stack?.stop();
});

const api = () => stack.socket('api');
const admin = () => stack.socket('admin');

/* each test: distinct client addresses so login throttling never interferes */
let addr = 10;
const nextAddr = () => `192.0.2.${addr++}`;

function loginBody() {
  return JSON.stringify({ username: 'nobody-here', password: 'not-the-password' });
}

/* assertPoolsIntact - both pools answer and their workers are the same processes */
async function assertPoolsIntact(what) {
  for (const [pool, sock] of [['api', api()], ['admin', admin()]]) {
    const res = await fcgiHttp(sock, 'GET', '/api/v1/health/live');
    assert.equal(res.status, 200, `${what}: the ${pool} pool still answers`);
  }
  const health = await fcgiHttp(api(), 'GET', '/api/v1/health');
  assert.equal(health.status, 200, `${what}: health 200`);
  assert.deepEqual(stack.workerPids('api'), pids.api, `${what}: no api worker died`);
  assert.deepEqual(stack.workerPids('admin'), pids.admin, `${what}: no admin worker died`);
}

test('a normal GET /api/v1/health over FastCGI', async () => {
  const res = await fcgiHttp(api(), 'GET', '/api/v1/health', { requestId: 'fcgi-direct-test-0001' });
  assert.equal(res.complete, true, 'FCGI_END_REQUEST received');
  assert.equal(res.appStatus, 0, 'application status 0');
  assert.equal(res.status, 200, 'health status');
  assert.equal(res.json?.db, 'ok', 'db ok');
  assert.match(res.headers['content-type'], /^application\/json/, 'Content-Type');
  assert.equal(res.headers['x-request-id'], 'fcgi-direct-test-0001', 'a well-formed REQUEST_ID is kept');
  assert.equal(Number(res.headers['content-length']), res.body.length, 'Content-Length matches the body');
});

test('a malformed REQUEST_ID is replaced by a fresh one', async () => {
  const res = await fcgiHttp(api(), 'GET', '/api/v1/nope', { requestId: 'bad id\r\nX-Evil: 1' });
  assert.equal(res.status, 404, 'unknown path');
  const rid = res.headers['x-request-id'];
  assert.match(rid ?? '', /^[A-Za-z0-9_-]{8,64}$/, 'a well-formed request id');
  assert.equal(res.json?.error?.request_id, rid, 'the envelope carries the same id');
  assert.equal(res.headers['x-evil'], undefined, 'no injected header');
});

test('4-byte parameter lengths and a body over several FCGI_STDIN records', async () => {
  /* an Authorization value over 127 bytes: its length takes 4 bytes */
  const longToken = `${'a'.repeat(200)}.${'b'.repeat(200)}.${'c'.repeat(200)}`;
  const me = await fcgiHttp(api(), 'GET', '/api/v1/me', { headers: { Authorization: `Bearer ${longToken}` } });
  assert.equal(me.status, 401, 'a long bogus token is read whole and refused');
  assert.equal(me.json?.error?.type, 'authentication_error', 'authentication_error');

  /* 200 KiB of JSON (whitespace padding): four STDIN records, reassembled */
  const body = loginBody().replace('{', `{${' '.repeat(200 * 1024)}`);
  const res = await fcgiHttp(admin(), 'POST', '/admin/api/v1/login', { body, headers: { 'Content-Type': 'application/json' }, remoteAddr: nextAddr() });
  assert.equal(res.status, 401, 'the whole body parsed: an unknown user is 401');
  await assertPoolsIntact('after the long request');
});

test('CONTENT_LENGTH larger than the body: 400 invalid_length', async () => {
  const body = loginBody();
  const res = await fcgiHttp(admin(), 'POST', '/admin/api/v1/login', {
    body, contentLength: body.length + 10, headers: { 'Content-Type': 'application/json' }, remoteAddr: nextAddr(),
  });
  assert.equal(res.status, 400, 'status');
  assert.equal(res.json?.error?.code, 'invalid_length', 'code');
  await assertPoolsIntact('after a long CONTENT_LENGTH');
});

test('CONTENT_LENGTH smaller than the body: 400 invalid_length', async () => {
  const body = loginBody();
  const res = await fcgiHttp(admin(), 'POST', '/admin/api/v1/login', {
    body, contentLength: 5, headers: { 'Content-Type': 'application/json' }, remoteAddr: nextAddr(),
  });
  assert.equal(res.status, 400, 'status');
  assert.equal(res.json?.error?.code, 'invalid_length', 'code');
  await assertPoolsIntact('after a short CONTENT_LENGTH');
});

test('CONTENT_LENGTH that is not a number: 400 invalid_length', async () => {
  for (const cl of ['-1', '12abc', '99999999999999999999999']) {
    const res = await fcgiHttp(admin(), 'POST', '/admin/api/v1/login', {
      body: loginBody(), contentLength: cl, headers: { 'Content-Type': 'application/json' }, remoteAddr: nextAddr(),
    });
    assert.equal(res.status, 400, `CONTENT_LENGTH ${cl}: status`);
    assert.equal(res.json?.error?.code, 'invalid_length', `CONTENT_LENGTH ${cl}: code`);
  }
  await assertPoolsIntact('after bad CONTENT_LENGTHs');
});

test('CONTENT_LENGTH over max_body_bytes: 413 before reading the body', async () => {
  /* no FCGI_STDIN at all: a worker that waited for the body would time out */
  const t0 = performance.now();
  const res = await fcgiHttp(admin(), 'POST', '/admin/api/v1/login', {
    noStdin: true, contentLength: 10 * MAX_BODY, headers: { 'Content-Type': 'application/json' },
    remoteAddr: nextAddr(), timeoutMs: 8000,
  });
  const ms = performance.now() - t0;
  assert.equal(res.timedOut, false, 'answered without waiting for the body');
  assert.equal(res.status, 413, 'status');
  assert.equal(res.json?.error?.code, 'body_too_large', 'code');
  assert.ok(ms < 3000, `answered in ${Math.round(ms)} ms, without reading`);
  await assertPoolsIntact('after a declared 10 MiB body');
});

test('a 50 MiB body without CONTENT_LENGTH: 413', async () => {
  const res = await fcgiHttp(admin(), 'POST', '/admin/api/v1/login', {
    bodySize: 50 * MAX_BODY, contentLength: null, headers: { 'Content-Type': 'application/json' },
    remoteAddr: nextAddr(), timeoutMs: 30000,
  });
  assert.equal(res.timedOut, false, 'the exchange ended');
  assert.equal(res.status, 413, `status (socket error: ${res.socketError}, sent ${res.bytesSent} bytes)`);
  assert.equal(res.json?.error?.code, 'body_too_large', 'code');
  await assertPoolsIntact('after a 50 MiB body');
});

test('a body one byte over max_body_bytes is 413, exactly max is read', async () => {
  const over = await fcgiHttp(admin(), 'POST', '/admin/api/v1/login', {
    bodySize: MAX_BODY + 1, headers: { 'Content-Type': 'application/json' }, remoteAddr: nextAddr(),
  });
  assert.equal(over.status, 413, 'max + 1 bytes, undeclared: 413');
  /* exactly the limit: read, then refused as JSON (x is not JSON), not as too large */
  const exact = await fcgiHttp(admin(), 'POST', '/admin/api/v1/login', {
    bodySize: MAX_BODY, contentLength: MAX_BODY, headers: { 'Content-Type': 'application/json' },
    remoteAddr: nextAddr(),
  });
  assert.equal(exact.status, 400, 'exactly max_body_bytes is accepted for parsing');
  assert.equal(exact.json?.error?.code, 'invalid_json', 'and refused as JSON');
  await assertPoolsIntact('after bodies at the limit');
});

test('garbage on the socket kills nothing', async () => {
  const garbage = [
    crypto.randomBytes(4096),
    Buffer.from('GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n'),
    /* a record of an unknown type, then a BEGIN_REQUEST with a wrong version */
    Buffer.concat([record(99, 1, Buffer.from('hello')),
      Buffer.from([9, FCGI.BEGIN_REQUEST, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])]),
    /* half a header */
    Buffer.from([1, 1, 0]),
    /* params without a BEGIN_REQUEST */
    record(FCGI.PARAMS, 1, Buffer.from([3, 3, 65, 66, 67, 68, 69, 70])),
  ];
  for (const [i, g] of garbage.entries()) {
    for (const sock of [api(), admin()]) {
      const r = await fcgiRaw(sock, g, { timeoutMs: 3000 });
      assert.ok(r.closedByPeer || r.socketError, `garbage ${i}: the worker dropped the connection`);
    }
  }
  await assertPoolsIntact('after garbage');
});

test('a body that never comes: request_timeout kills the worker, which is replaced', async () => {
  const victimPool = stack.workerPids('admin');
  const t0 = performance.now();
  const res = await fcgiHttp(admin(), 'POST', '/admin/api/v1/login', {
    noStdin: true, contentLength: 10, headers: { 'Content-Type': 'application/json' },
    remoteAddr: nextAddr(), timeoutMs: 10000,
  });
  const ms = performance.now() - t0;
  assert.equal(res.timedOut, false, 'the worker gave up on its own');
  assert.ok(ms >= 1500 && ms < 5000, `cut off after about request_timeout = 2 s (${Math.round(ms)} ms)`);
  assert.equal(res.complete, false, 'no answer to a request whose body never came');
  const line = await stack.waitForLog((l) => l.proc === 'master' && l.child === 'admin' &&
    /request timeout/.test(l.status ?? ''), { what: 'the request-timeout death logged' });
  assert.ok(line, 'the death is logged as a request timeout');
  const now = await waitFor(() => {
    const p = stack.workerPids('admin');
    return p.length === victimPool.length ? p : null;
  }, { timeoutMs: 5000, what: 'the admin pool at strength again' });
  assert.equal(now.filter((p) => !victimPool.includes(p)).length, 1, 'one worker replaced');
  pids.admin = now;
  await assertPoolsIntact('after a request timeout');
});

test('a FastCGI header that never completes does not pin a worker past request_timeout', async () => {
  /* one stalled connection per admin worker: half a record header, then silence */
  const stalls = pids.admin.map(() => {
    const c = net.connect(admin());
    c.on('error', () => {});
    c.write(Buffer.from([FCGI.VERSION, FCGI.BEGIN_REQUEST, 0]));
    return c;
  });
  try {
    await sleep(200);
    const res = await fcgiHttp(admin(), 'GET', '/api/v1/health/live', { timeoutMs: 4500 });
    assert.equal(res.timedOut, false, 'the admin pool answers within request_timeout + 2.5 s');
    assert.equal(res.status, 200, 'health/live on the admin pool');
  } finally {
    for (const c of stalls) c.destroy();
  }
});
