/*
 * pool.test.mjs - tallyd's master keeping its pools alive (DESIGN §1):
 * - kill -9 of an api worker under load: replaced within 1 s, and at
 *   most the one request it was serving fails (a 502 JSON from nginx);
 * - a crash loop: a worker killed right after each respawn makes the
 *   master back off, and say so in the log; the pool comes back;
 * - max_requests: workers recycle under load with no failed request;
 * - a connection a worker has accepted is answered even if SIGTERM comes
 *   before its request (SIGTERM arrives through a signalfd, so it never
 *   interrupts libfcgi's wait for the request);
 * - SIGHUP under load: new workers (and a new count) with no failed
 *   request; a bad configuration is refused and the old workers serve on;
 *   a new socket path is bound and the old one removed;
 * - SIGTERM under load: in-flight requests complete (nothing truncated;
 *   new ones get nginx's 502), exit 0, sockets removed; an idle master
 *   exits within 1 s; a request stuck past shutdown_timeout (a Stripe call
 *   that hangs) has its worker killed, and the master still exits 0;
 * - a request that outlives nginx's fastcgi_read_timeout: nginx's JSON
 *   504 (upstream_timeout, with the request id); the worker finishes, and
 *   the same Idempotency-Key then returns what it made.
 * Load goes through nginx, each loop from its own loopback address (nginx
 * limits 100 r/s per client address; real traffic has many clients).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
  encodeParams, fcgiHttp, FCGI, record,
} from './lib/fcgi.mjs';
import { startLoad } from './lib/load.mjs';
import { run } from './lib/proc.mjs';
import { BIN, POOLS, req, sleep, startStack, waitFor } from './lib/stack.mjs';
import {
  checkout, makeProduct, newBuyer, paymentConf,
} from './lib/checkout_helpers.mjs';

/* live - the request of the load loops; loop 'w' comes from 127.0.0.(10+w) */
function live(stack) {
  return (i, w) => req(stack, 'GET', '/api/v1/health/live', { from: `127.0.0.${10 + w}`, timeoutMs: 10000 });
}

/* summary - a short description of a load result for assertion messages */
function summary(r) {
  return `${r.total} requests, statuses ${JSON.stringify(r.statuses)}, errors ${JSON.stringify(r.errors.slice(0, 5))}`;
}

/* assertNoFailure - every request of load 'r' got its answer */
function assertNoFailure(r, what) {
  assert.equal(r.failures.length, 0, `no failed request ${what} (${summary(r)})`);
}

/* stackHooks - a stack per describe block */
function stackHooks(opts) {
  const h = { stack: null };
  before(async () => { h.stack = await startStack(opts); });
  afterEach((t) => h.stack?.noteTest(t));
  after(async () => { await h.stack?.stop(); });
  return h;
}

describe('worker deaths', () => {
  const h = stackHooks({ name: 'pool-kill', conf: { api: { workers: 4 }, webhook: { workers: 1 } } });

  test('kill -9 of an api worker under load: replaced within 1 s, at most one failed request', async (t) => {
    const { stack } = h;
    const before4 = stack.workerPids('api');
    assert.equal(before4.length, 4, 'four api workers');
    const load = startLoad({ concurrency: 16, durationMs: 3000, maxMs: 10000, fn: live(stack) });
    await sleep(1000);
    const victim = before4[1];
    const t0 = performance.now();
    process.kill(victim, 'SIGKILL');
    const after4 = await waitFor(() => {
      const now = stack.workerPids('api');
      return now.length === 4 && !now.includes(victim) ? now : null;
    }, { timeoutMs: 2000, interval: 10, what: 'a replacement api worker' });
    const replacedMs = performance.now() - t0;
    const r = await load.done;
    t.diagnostic(`${summary(r)}; replaced in ${Math.round(replacedMs)} ms`);

    assert.ok(replacedMs < 1000, `replacement appeared in ${Math.round(replacedMs)} ms (< 1000)`);
    const fresh = after4.filter((p) => !before4.includes(p));
    assert.equal(fresh.length, 1, 'exactly one new worker');
    assert.ok(r.total > 100, `the load ran (${summary(r)})`);
    assert.ok(r.failures.length <= 1, `at most one failed request (${summary(r)})`);
    for (const f of r.failures) {
      assert.equal(f.status, 502, `the failed request is nginx's 502 (${summary(r)})`);
      assert.equal(f.res.json?.error?.code, 'upstream_unavailable', 'in the JSON envelope');
    }
    const line = await stack.waitForLog((l) => l.proc === 'master' && l.child === 'api' &&
      /child died/.test(l.msg) && /signal 9/.test(l.status ?? '') && l.child_pid === String(victim),
    { what: 'the master logging the death of the killed pid' });
    assert.equal(line.pid, stack.masterPid(), 'the line\'s pid is the master\'s');
    assert.ok(line, 'the death is logged with its cause');
  });

  test('a crash loop makes the master back off, and the pool comes back', async (t) => {
    const { stack } = h;
    const sock = stack.socket('webhook');
    let [pid] = stack.workerPids('webhook');
    assert.ok(pid, 'one webhook worker');
    const waits = [];
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      const killed = pid;
      /* the next one, killed as soon as it appears (well within 1 s of its start) */
      [pid] = await waitFor(() => {
        const now = stack.workerPids('webhook');
        return now.length === 1 && now[0] !== killed ? now : null;
      }, { timeoutMs: 8000, interval: 5, what: `webhook worker respawn ${i}` });
      waits.push(Math.round(performance.now() - t0));
    }
    t.diagnostic(`respawn waits ${waits} ms`);
    const backoffLines = stack.logLines().filter((l) => l.proc === 'master' && l.child === 'webhook' &&
      l.msg === 'child died; respawning with backoff');
    assert.ok(backoffLines.length >= 4, `"respawning with backoff" logged for the fast deaths (got ${backoffLines.length}; respawn waits ${waits} ms)`);
    /* the backoff doubles from 0.1 s: the later respawns wait longer than the first ones */
    assert.ok(waits[5] >= 600, `the 5th fast death waits for the backoff (waits ${waits} ms)`);
    assert.ok(waits[5] > waits[1], `the backoff grows (waits ${waits} ms)`);

    /* the survivor serves */
    const res = await waitFor(async () => {
      const r = await fcgiHttp(sock, 'GET', '/api/v1/health/live', { timeoutMs: 3000 });
      return r.status === 200 ? r : null;
    }, { timeoutMs: 8000, interval: 100, what: 'the webhook pool to answer again' });
    assert.equal(res.status, 200, 'the webhook pool answers after the crash loop');
    assert.equal(stack.workerPids('webhook').length, 1, 'one webhook worker again');
    assert.equal(stack.workerPids('api').length, 4, 'the api pool was not affected');
  });
});

/*
 * A worker that has accepted a connection whose request has not arrived
 * yet (nginx connects, then writes) must still answer it when SIGTERM
 * comes: libfcgi's accept path waits for the first bytes in poll(), which
 * a signal handler would interrupt (SA_RESTART never restarts poll) --
 * and the connection would be closed unanswered.  Here the gap is made
 * wide: connect, wait, SIGTERM, write.
 */
describe('SIGTERM and accepted connections', () => {
  const h = stackHooks({ name: 'pool-accept', conf: { webhook: { workers: 1 } } });

  test('a connection accepted before SIGTERM is still answered', async () => {
    const { stack } = h;
    const [worker] = stack.workerPids('webhook');
    const c = net.connect(stack.socket('webhook'));
    const got = [];
    let closedEarly = false;
    c.on('data', (d) => got.push(d));
    c.on('error', () => {});
    await new Promise((resolve) => c.once('connect', resolve));
    c.once('close', () => { closedEarly = true; });
    try {
      await sleep(150);        /* the only webhook worker has accepted it by now */
      process.kill(worker, 'SIGTERM');
      await sleep(250);
      const begin = Buffer.alloc(8);
      begin.writeUInt16BE(FCGI.RESPONDER, 0);
      if (!c.destroyed) {
        c.write(Buffer.concat([record(FCGI.BEGIN_REQUEST, 1, begin),
          record(FCGI.PARAMS, 1, encodeParams({ REQUEST_METHOD: 'GET', DOCUMENT_URI: '/api/v1/health/live' })),
          record(FCGI.PARAMS, 1), record(FCGI.STDIN, 1)]));
      }
      await waitFor(() => closedEarly || got.length > 0, { timeoutMs: 3000, what: 'an answer or a close' }).catch(() => {});
      await sleep(100);
      const text = Buffer.concat(got).toString('latin1');
      assert.ok(!(closedEarly && got.length === 0), 'the connection was closed without an answer');
      assert.match(text, /Status: 200/, 'the request is answered by the worker that accepted it');
    } finally {
      c.destroy();
    }
  });
});

describe('max_requests', () => {
  const h = stackHooks({ name: 'pool-recycle', conf: { api: { workers: 2, max_requests: 50 } } });

  test('workers recycle under load with no failed request', async (t) => {
    const { stack } = h;
    const first = stack.workerPids('api');
    assert.equal(first.length, 2, 'two api workers');
    const r = await startLoad({ concurrency: 8, count: 600, maxMs: 30000, fn: live(stack) }).done;
    t.diagnostic(summary(r));
    assert.equal(r.total, 600, `600 requests issued (${summary(r)})`);
    assert.equal(r.failures.length, 0, `no failed request (${summary(r)})`);
    const now = await waitFor(() => {
      const p = stack.workerPids('api');
      return p.length === 2 ? p : null;
    }, { timeoutMs: 3000, what: 'two api workers after the load' });
    for (const p of first) assert.ok(!now.includes(p), `worker ${p} was recycled`);
    const recycled = stack.logLines().filter((l) => l.proc === 'api' && l.msg === 'recycling after max_requests');
    assert.ok(recycled.length >= 10, `about 600/50 recycles logged (got ${recycled.length})`);
    const deaths = stack.logLines().filter((l) => l.proc === 'master' && /child died/.test(l.msg));
    assert.equal(deaths.length, 0, 'a recycle is not logged as a death');
  });
});

describe('reload and stop', () => {
  /* kdf_log2_n 16: a failed admin login takes ~0.5 s, a slow request to be in flight at SIGTERM */
  const h = stackHooks({ name: 'pool-reload', conf: { api: { workers: 2 }, admin_auth: { kdf_log2_n: 16 } } });

  test('SIGHUP under load: all new api workers, 2 -> 3, no failed request', async (t) => {
    const { stack } = h;
    const master = stack.masterPid();
    const old = stack.workerPids('api');
    const oldAdmin = stack.workerPids('admin');
    assert.equal(old.length, 2, 'two api workers before');
    const load = startLoad({ concurrency: 8, durationMs: 15000, maxMs: 20000, fn: live(stack) });
    await sleep(500);
    stack.rewriteConf({ api: { workers: 3 } });
    stack.reload();
    const now = await waitFor(() => {
      const p = stack.workerPids('api');
      return p.length === 3 && p.every((x) => !old.includes(x)) ? p : null;
    }, { timeoutMs: 10000, interval: 20, what: 'three new api workers after SIGHUP' });
    await sleep(500);
    const r = await load.stop();
    t.diagnostic(summary(r));
    assert.equal(now.length, 3, 'three api workers');
    assertNoFailure(r, 'during the reload');
    assert.equal(stack.masterPid(), master, 'same master');
    const admins = stack.workerPids('admin');
    assert.equal(admins.length, 2, 'two admin workers');
    assert.ok(admins.every((x) => !oldAdmin.includes(x)), 'the admin pool was rolled too');
    assert.ok(stack.logLines().some((l) => l.proc === 'master' && /configuration reloaded/.test(l.msg)),
      'the reload is logged');
  });

  test('a bad configuration on SIGHUP is refused; the old workers serve on', async () => {
    const { stack } = h;
    const good = stack.confText();
    const workers = Object.fromEntries(POOLS.map((p) => [p, stack.workerPids(p)]));
    stack.writeConfText(good.replace(/\[api\]\n((?:.*\n)*?)workers = 3/, '[api]\n$1workers = 0'));
    assert.match(stack.confText(), /workers = 0/, 'the bad value is written');
    stack.reload();
    const line = await stack.waitForLog((l) => l.proc === 'master' && /reload refused/.test(l.msg),
      { what: '"reload refused" in the log' });
    assert.match(JSON.stringify(line), /workers/, 'the log says which key is wrong');
    await sleep(300);
    for (const p of POOLS) assert.deepEqual(stack.workerPids(p), workers[p], `same ${p} workers`);
    const res = await req(stack, 'GET', '/api/v1/health');
    assert.equal(res.status, 200, 'health 200 after the refused reload');
    const check = await run(path.join(BIN, 'fcgi', 'tallyd'), ['-t', '-c', stack.conf]);
    assert.equal(check.code, 1, 'tallyd -t refuses the file too');
    assert.match(check.stderr, /\[api\] workers/, `and names the key (${check.stderr.trim()})`);
    stack.writeConfText(good);
  });

  test('SIGHUP with a new socket path: bound anew, the old one removed once drained', async () => {
    const { stack } = h;
    const oldPath = stack.socket('api');
    const newPath = path.join(stack.dir, 'run', 'api-b.sock');
    const move = async (to, from) => {
      stack.rewriteConf({ api: { socket: to } });
      stack.reload();
      return waitFor(() => fs.existsSync(to) && !fs.existsSync(from) && stack.workerPids('api').length === 3,
        { timeoutMs: 10000, what: `the api pool on ${path.basename(to)} only` });
    };
    await move(newPath, oldPath);
    const res = await fcgiHttp(newPath, 'GET', '/api/v1/health');
    assert.equal(res.status, 200, 'the pool answers on its new socket');
    const gone = await req(stack, 'GET', '/api/v1/health');
    assert.equal(gone.status, 502, 'nginx, still pointed at the old path, gets nothing');
    await move(oldPath, newPath);
    const back = await req(stack, 'GET', '/api/v1/health');
    assert.equal(back.status, 200, 'back on the old path, through nginx');
  });

  test('SIGTERM under load: in-flight requests complete, exit 0, sockets removed', async (t) => {
    const { stack } = h;
    const load = startLoad({
      concurrency: 8, durationMs: 15000, maxMs: 20000, fn: live(stack), keep: 'all',
    });
    await sleep(500);
    /* two slow requests (one per admin worker), in flight when SIGTERM comes */
    const slow = [0, 1].map(async (i) => {
      const r = await req(stack, 'POST', '/admin/api/v1/login', {
        json: { username: `nobody-${i}`, password: 'not-the-password' }, from: `127.0.0.${60 + i}`,
      });
      return { ...r, at: performance.now() };
    });
    await sleep(150);
    const termAt = performance.now();
    const st = await stack.stopTallyd({ signal: 'SIGTERM', timeoutMs: 15000 });
    const slowRes = await Promise.all(slow);
    await sleep(300);
    const r = await load.stop();
    t.diagnostic(summary(r));
    const timeout = Number(stack.confObj.tally.shutdown_timeout) * 1000;
    assert.equal(st.code, 0, `exit status 0 (got ${JSON.stringify(st)})`);
    assert.ok(st.ms < timeout, `exited in ${Math.round(st.ms)} ms, within shutdown_timeout`);
    for (const p of POOLS) assert.equal(fs.existsSync(stack.socket(p)), false, `${p} socket removed`);
    for (const [i, x] of slowRes.entries()) {
      assert.ok(x.at > termAt, `slow login ${i} was still in flight at SIGTERM`);
      assert.equal(x.status, 401, `slow login ${i} in flight at SIGTERM completed (got ${x.status} ${x.body})`);
      assert.equal(x.json?.error?.type, 'authentication_error', `slow login ${i}: a whole answer`);
    }
    assert.equal(r.errors.length, 0, `no request broken off (${summary(r)})`);
    const bad = r.results.filter((x) => !(x.status === 200 && x.res.json?.status === 'ok') &&
      !(x.status === 502 && x.res.json?.error?.code === 'upstream_unavailable'));
    assert.equal(bad.length, 0, `every answer is a whole 200 or nginx's 502 (${summary(r)})`);
    assert.ok((r.statuses[200] ?? 0) > 50, `requests were served until the stop (${summary(r)})`);
    assert.ok((r.statuses[502] ?? 0) > 0, `requests after the stop get 502 (${summary(r)})`);
    assert.ok(stack.logLines().some((l) => l.proc === 'master' && l.msg === 'stopped'), '"stopped" logged');
  });

  test('an idle master exits within 1 s of SIGTERM', async () => {
    const { stack } = h;
    await stack.startTallyd();
    await waitFor(async () => (await req(stack, 'GET', '/api/v1/health')).status === 200,
      { timeoutMs: 10000, what: 'tallyd to serve again' });
    await sleep(200);
    const st = await stack.stopTallyd({ signal: 'SIGTERM', timeoutMs: 10000 });
    assert.equal(st.code, 0, 'exit status 0');
    assert.ok(st.ms < 1000, `exited ${Math.round(st.ms)} ms after SIGTERM (< 1000)`);
  });
});

describe('a request that outlives shutdown_timeout', () => {
  const h = stackHooks({
    name: 'pool-escalate',
    stripe: true,
    conf: {
      ...paymentConf(),
      tally: { shutdown_timeout: 2 },
      stripe: { timeout_ms: 60000 },
    },
  });

  test('SIGTERM: the stuck worker is killed after shutdown_timeout, the master exits 0, the request gets a JSON 502', async () => {
    const { stack } = h;
    const product = await makeProduct(stack);
    const b = await newBuyer(stack);
    /* the PaymentIntent create hangs at "Stripe" far longer than the timeout */
    await stack.emu('POST', '/__emu/faults', {
      method: 'POST', path: '^/v1/payment_intents$', mode: 'hang_before', seconds: 60,
    });
    const stuck = checkout(stack, b, { product_id: product.id, quantity: 1 }, { timeoutMs: 30000 });
    await waitFor(async () => (await stack.emu('GET', '/__emu/faults')).hung > 0,
      { timeoutMs: 10000, what: 'the checkout to hang at the emulator' });
    const st = await stack.stopTallyd({ signal: 'SIGTERM', timeoutMs: 15000 });
    const r = await stuck;
    await stack.emu('POST', '/__emu/faults/release', {});
    assert.equal(st.code, 0, `exit status 0 (got ${JSON.stringify(st)})`);
    assert.ok(st.ms >= 2000, `waited for the request (${Math.round(st.ms)} ms >= shutdown_timeout)`);
    assert.ok(st.ms < 5000, `then stopped it (${Math.round(st.ms)} ms < shutdown_timeout + 3 s)`);
    assert.ok(stack.logLines().some((l) => l.proc === 'master' && /did not stop in time/.test(l.msg)),
      'the master says it killed the child');
    assert.equal(r.status, 502, `the stuck request's answer (${r.status} ${r.body})`);
    assert.equal(r.json?.error?.code, 'upstream_unavailable', 'as a JSON envelope from nginx');
  });
});

describe('a request that outlives nginx\'s fastcgi_read_timeout', () => {
  const h = stackHooks({
    name: 'pool-504',
    stripe: true,
    nginxReadTimeout: 2,
    conf: { ...paymentConf(), stripe: { timeout_ms: 60000 } },
  });

  test('nginx answers a JSON 504 after its read timeout; the worker finishes later, and the retry returns the checkout', async () => {
    const { stack } = h;
    const product = await makeProduct(stack);
    const b = await newBuyer(stack);
    await stack.emu('POST', '/__emu/faults', {
      method: 'POST', path: '^/v1/payment_intents$', mode: 'hang_before', seconds: 60,
    });
    const key = `k504-${process.pid}-${Date.now()}`;
    const body = { product_id: product.id, quantity: 1 };
    const t0 = performance.now();
    const r = await checkout(stack, b, body, { timeoutMs: 30000, idem: key });
    const ms = performance.now() - t0;
    assert.equal(r.status, 504, `nginx's answer (${r.status} ${r.body})`);
    assert.equal(r.json?.error?.code, 'upstream_timeout', 'as a JSON envelope');
    assert.equal(r.json?.error?.type, 'api_error');
    assert.match(r.json?.error?.request_id ?? '', /^[0-9a-f]{32}$/, 'with the request id');
    assert.equal(r.headers.get('x-request-id'), r.json.error.request_id, 'the same id in the header');
    assert.ok(ms >= 1900 && ms < 10000, `after the read timeout (${Math.round(ms)} ms)`);
    /* the worker was still waiting on "Stripe": let it finish */
    await stack.emu('POST', '/__emu/faults/release', {});
    await waitFor(async () => Number((await stack.sql('SELECT COUNT(*) FROM checkouts WHERE ' +
      `product_id = '${product.id}' AND pi_id IS NOT NULL`))[0][0]) === 1,
    { timeoutMs: 15000, what: 'the checkout to get its PaymentIntent' });
    /* as the envelope says: the same Idempotency-Key returns what the worker made */
    const again = await checkout(stack, b, body, { timeoutMs: 10000, idem: key });
    assert.equal(again.status, 200, `the retry (${again.status} ${again.body})`);
    assert.match(again.json.payment_intent_id, /^pi_/);
  });
});
