/*
 * metrics.test.mjs - GET /metrics (core/metrics.c, fcgi/routes_ops.c,
 * nginx's location) on the real stack, scraped by a real Prometheus
 * (Debian's prometheus package):
 *   - the exposition is Prometheus' text format; without the [metrics]
 *     token 401, from an address nginx does not allow 403 (JSON);
 *   - counters live in the master's shared memory: requests served by
 *     four api workers add up to exactly what was sent, and survive a
 *     worker killed with SIGKILL; the kill shows in
 *     tally_worker_deaths_total and the replacement in
 *     tally_worker_starts_total;
 *   - a Stripe call is counted by endpoint (ids replaced by {id}); the
 *     webhook lag is observed once per event stored;
 *   - queue depths read from the database (webhook events by status,
 *     effects not finished, audit rows not chained);
 *   - the "check" job publishes the ledger check (violations, last run)
 *     and logs each violation as an ALERT; the payouts job its runs;
 *   - Prometheus scrapes it with the bearer token; its HTTP API answers
 *     the request counter and a histogram quantile of the latency.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  assertLedger, newBuyer, okCheckout, paymentConf, richProduct,
} from './lib/checkout_helpers.mjs';
import { spawnTracked, sleep, waitFor } from './lib/proc.mjs';
import { freePort, randomString, req, startStack } from './lib/stack.mjs';

const TOKEN = randomString(32);
const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => fs.existsSync(p));
let stack;

before(async () => {
  stack = await startStack({
    name: 'metrics', stripe: true, conf: paymentConf({
      metrics: { token: TOKEN }, 'job.check': { interval: 1 }, 'job.payouts': { interval: 1 },
    }),
  });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) await assertLedger(stack);
  } finally {
    await stack?.stop();
  }
});

const auth = { Authorization: `Bearer ${TOKEN}` };

/* scrape - the exposition as {text, value(series)} */
async function scrape() {
  const r = await req(stack, 'GET', '/metrics', { headers: auth });
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = r.body;
  return {
    text,
    value(series) {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line ? Number(line.slice(series.length + 1)) : 0;
    },
  };
}

const HEALTH = 'tally_http_requests_total{pool="api",route="/api/v1/health",code="200"}';

test('text exposition; 401 without the token, 403 from an address nginx does not allow', async () => {
  const m = await scrape();
  assert.match(m.text, /^# TYPE tally_http_requests_total counter$/m);
  assert.match(m.text, /^# TYPE tally_http_request_duration_seconds histogram$/m);
  assert.match(m.text, /^tally_http_request_duration_seconds_bucket\{pool="api",route="\/api\/v1\/health",le="\+Inf"\} \d+$/m);
  assert.match(m.text, /^# TYPE tally_worker_starts_total counter$/m);
  assert.match(m.text, /^tally_worker_starts_total\{pool="api"\} 4$/m, 'four api workers started');
  assert.match(m.text, /^# TYPE tally_webhook_events gauge$/m);
  for (const line of m.text.split('\n').filter((l) => l && !l.startsWith('#'))) {
    assert.match(line, /^[a-z_]+(\{[^}]*\})? -?\d+(\.\d+)?$/, `a sample line: ${line}`);
  }
  const none = await req(stack, 'GET', '/metrics');
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, 'unauthorized');
  const wrong = await req(stack, 'GET', '/metrics', { headers: { Authorization: `Bearer ${TOKEN}x` } });
  assert.equal(wrong.status, 401);
  const far = await req(stack, 'GET', '/metrics', { headers: auth, from: '127.0.0.9' });
  assert.equal(far.status, 403);
  assert.equal(far.json.error.code, 'forbidden');
});

test('counters summed across workers, kept when a worker is killed; a Stripe call counted by endpoint', async () => {
  const before0 = (await scrape()).value(HEALTH);
  const N = 60;
  for (let i = 0; i < N; i += 10) {
    await Promise.all(Array.from({ length: 10 }, () => req(stack, 'GET', '/api/v1/health')));
  }
  const m1 = await scrape();
  assert.equal(m1.value(HEALTH) - before0, N, 'every request of every worker counted once');
  assert.equal(m1.value('tally_http_request_duration_seconds_count{pool="api",route="/api/v1/health"}'),
    m1.value(HEALTH), 'one observation per request');

  const victim = stack.workerPids('api')[0];
  process.kill(victim, 'SIGKILL');
  await waitFor(() => !stack.workerPids('api').includes(victim) && stack.workerPids('api').length === 4,
    { timeoutMs: 10000, what: 'the worker replaced' });
  const m2 = await scrape();
  assert.equal(m2.value(HEALTH), m1.value(HEALTH), 'nothing counted is lost with the worker');
  assert.equal(m2.value('tally_worker_deaths_total{pool="api"}'), 1);
  assert.equal(m2.value('tally_worker_starts_total{pool="api"}'), 5);

  const { product, slug } = await richProduct(stack);
  const b = await newBuyer(stack);
  await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  const m3 = await scrape();
  assert.ok(m3.value('tally_stripe_requests_total{method="POST",endpoint="/v1/payment_intents",code="200"}') >= 1,
    m3.text.split('\n').filter((l) => l.includes('stripe')).join('\n'));
  assert.ok(m3.value('tally_stripe_request_duration_seconds_count{method="POST",endpoint="/v1/payment_intents"}') >= 1);
  /* its payment_intent.created, delivered: the webhook lag observed once per event stored */
  await stack.emu('POST', '/__emu/webhooks/flush', {});
  /* (the lag is observed before the event is stored, the delivery counted once it is answered) */
  const lag = await waitFor(async () => {
    const m = await scrape();
    const stored = Number((await stack.sql('SELECT COUNT(*) FROM webhook_events WHERE endpoint = ' +
      '\'platform\''))[0][0]);
    const answered = m.value('tally_webhook_deliveries_total{endpoint="platform",status="ignored"}') +
      m.value('tally_webhook_deliveries_total{endpoint="platform",status="processed"}');
    return stored >= 1 && m.value('tally_webhook_lag_seconds_count{endpoint="platform"}') === stored &&
      answered === stored && m;
  }, { what: 'each stored event: its lag observed once, its delivery counted' });
  assert.match(lag.text, /^tally_effects_unfinished\{kind="refund"\} 0$/m);
  assert.match(lag.text, /^tally_audit_unchained \d+$/m);
});

test('the check job publishes the ledger check (violations, last run); the payouts job its runs', async () => {
  const VIOL = 'tally_ledger_check_violations';
  const clean = await waitFor(async () => {
    const m = await scrape();
    return m.value('tally_ledger_check_last_run_seconds') > 0 && m;
  }, { what: 'a first check run' });
  assert.equal(clean.value(VIOL), 0);
  assert.ok(Math.abs(clean.value('tally_ledger_check_last_run_seconds') - Date.now() / 1000) < 30);
  /* an email "sent" without sent_at breaks the invariant outbox_sent_at */
  await stack.sql('INSERT INTO outbox (id, dedupe_key, kind, to_addr, subject, body, state) VALUES ' +
    '(\'msg_metricstest\', \'metrics-test\', \'test\', \'a@example.test\', \'s\', \'b\', \'sent\')');
  try {
    await waitFor(async () => (await scrape()).value(VIOL) === 1, { what: 'the violation counted' });
    await stack.waitForLog((l) => l.level === 'alert' && /ledger invariant is violated/.test(l.msg) &&
      l.check === 'outbox_sent_at', { what: 'the ALERT line' });
  } finally {
    await stack.sql('DELETE FROM outbox WHERE id = \'msg_metricstest\'');
  }
  await waitFor(async () => (await scrape()).value(VIOL) === 0, { what: 'clean again' });
  /* the payouts job's runs, from its own process */
  const pr = await waitFor(async () => {
    const m = await scrape();
    return m.value('tally_payout_runs_total{result="ok"}') >= 1 && m;
  }, { what: 'a payouts run counted' });
  assert.match(pr.text, /^tally_payouts_total\{outcome="paid"\} 0$/m);
});

test('a real Prometheus scrapes it: the counter and a histogram quantile through its HTTP API',
  { skip: PROMETHEUS ? false : 'prometheus is not installed (./dev deps installs it)' }, async () => {
    const port = await freePort();
    const dir = path.join(stack.dir, 'prometheus');
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: tally',
      '    metrics_path: /metrics',
      '    authorization:',
      '      type: Bearer',
      `      credentials: ${TOKEN}`,
      '    static_configs:',
      `      - targets: ['127.0.0.1:${stack.port}']`,
      '',
    ].join('\n'));
    const prom = spawnTracked(PROMETHEUS, [
      `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ], { out: path.join(stack.dir, 'log', 'prometheus.out'), err: path.join(stack.dir, 'log', 'prometheus.out') });
    try {
      const api = async (query) => {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`);
        const j = await r.json();
        assert.equal(j.status, 'success', JSON.stringify(j));
        return j.data.result;
      };
      await waitFor(async () => {
        if (prom.exitCode !== null) throw new Error(fs.readFileSync(path.join(stack.dir, 'log', 'prometheus.out'), 'utf8'));
        try { return (await fetch(`http://127.0.0.1:${port}/-/ready`)).status === 200; } catch { return false; }
      }, { timeoutMs: 30000, interval: 200, what: 'Prometheus ready' });
      await waitFor(async () => (await api('up{job="tally"}'))[0]?.value[1] === '1',
        { timeoutMs: 30000, interval: 500, what: 'Prometheus to scrape Tally (up == 1)' });
      const sent = (await scrape()).value(HEALTH);
      /* a load over a few scrapes */
      for (let i = 0; i < 8; i++) {
        await Promise.all(Array.from({ length: 10 }, () => req(stack, 'GET', '/api/v1/health')));
        await sleep(400);
      }
      const total = sent + 80;
      await waitFor(async () => {
        const r = await api('sum(tally_http_requests_total{pool="api",route="/api/v1/health",code="200"})');
        return r.length === 1 && Number(r[0].value[1]) >= total;
      }, { timeoutMs: 20000, interval: 500, what: `Prometheus to see ${total} health requests` });
      const q = await api('histogram_quantile(0.9, sum by (le) (rate(tally_http_request_duration_seconds_bucket' +
        '{pool="api",route="/api/v1/health"}[30s])))');
      assert.equal(q.length, 1, JSON.stringify(q));
      const p90 = Number(q[0].value[1]);
      assert.ok(Number.isFinite(p90) && p90 > 0 && p90 <= 10, `p90 latency ${q[0].value[1]} s`);
      const starts = await api('sum(tally_worker_starts_total)');
      assert.ok(Number(starts[0].value[1]) >= 8, 'worker starts of every pool');
    } finally {
      prom.kill('SIGTERM');
      /* the child is unref'd: the timer keeps the loop alive meanwhile */
      const timer = setTimeout(() => prom.kill('SIGKILL'), 10000);
      await prom.exited;
      clearTimeout(timer);
    }
  });
