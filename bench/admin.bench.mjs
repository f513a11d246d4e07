/*
 * admin.bench.mjs - the admin panel's reads with 1 000 000 payments
 * (issue 12): p50/p99 through nginx of
 *   first    GET /admin/api/v1/payments?limit=25
 *   deep     the same from a cursor 900 000 payments deep
 *   filtered ?currency=eur&status=disputed (10 000 of them), and
 *            ?payee=<one of 2 000 payees> (a semi-join over shares)
 *   search   ?q=pi_… (a unique index)
 *   daily90  GET /admin/api/v1/reports/daily, 90 days (about 650 000
 *            payments and 1.9 million ledger rows in the range)
 *   top90    GET /admin/api/v1/reports/top, the same 90 days (2 000
 *            payees earning every day), and top7, the last 7 days
 *
 * Run it on the test harness's stack (its own MariaDB, nginx, tallyd),
 * with the optimised build:
 *
 *     ./dev build
 *     TALLY_BIN=$PWD/build TALLY_TEST_FILES=bench/admin.bench.mjs \
 *         ./tests/run system
 *
 * The generator (seed()) writes the payments and their three ledger rows
 * (payee, platform, Stripe fee) with INSERT … SELECT over MariaDB's
 * sequence engine, 50 000 payments a statement: ids time-ordered like
 * Tally's, one payment every 12 s back from now (about 139 days), 10 %
 * in eur, 1 % disputed (all in eur), 2 000 payees.  It takes a few
 * minutes.
 *
 * Before measuring, the reports job rolls the closed days up (as
 * `[job.reports]` does in production) and sets today's mark; its horizon
 * is HORIZON s (default 3900: 65 minutes, the most an hourly job with
 * the default 300 s horizon leaves after its mark, about 325 payments
 * and 1 000 ledger rows that each request reads), and nginx's
 * per-address limit of
 * the admin API is lifted in this stack's copy of tally.conf (wrk sends
 * from one address).
 *
 * Load: wrk when it is installed (`wrk -t2 -c8 -d10s --latency`, with the
 * session cookie; WRK_C=2 for one connection per admin worker; WRK_C=2,8
 * runs both, one after the other, on the same data), else a
 * paced node client: LOOPS loops, each from its
 * own 127.0.0.x address (nginx limits 100 requests a second per client
 * address) at RATE requests a second, 2 s of warm-up then DURATION s
 * measured; the latency of every request is kept and the percentiles
 * are exact.  Either way the requests go through nginx to the admin pool
 * (2 workers).  Results: one line per point, and bench/admin-results.txt
 * when WRITE=1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { run } from '../tests/system/lib/proc.mjs';
import { randomString, startStack } from '../tests/system/lib/stack.mjs';

const N = Number(process.env.PAYMENTS || 1000000);
const CHUNK = 50000;
const LOOPS = Number(process.env.LOOPS || 4);
const RATE = Number(process.env.RATE || 25);
const DURATION = Number(process.env.DURATION || 10);
/* HORIZON=none: no [job.reports] section (a build before the mark, which knows no horizon) */
const HORIZON = process.env.HORIZON === 'none' ? null : Number(process.env.HORIZON || 3900);

let stack;
let cookie;

before(async () => {
  stack = await startStack({
    name: 'admin-bench',
    conf: {
      ratelimit: { admin_per_second: 100000, admin_burst: 100000 }, admin: { workers: 2 },
      /* the job runs when the bench says; its mark HORIZON s back: the ledger rows a request reads after it */
      ...(HORIZON === null ? {} : { 'job.reports': { interval: 604800, horizon: HORIZON } }),
    },
  });
  const pw = `bench-${randomString(16)}`;
  await stack.createAdmin('bench', 'viewer', pw);
  const s = await stack.adminLogin('bench', pw);
  assert.equal(s.status, 200);
  cookie = `tally_session=${s.cookie}`;
});

after(async () => { await stack?.stop(); });

/* sql - one statement on the stack's database, no time limit to speak of */
async function sql(q) {
  const r = await run('mariadb', [`--socket=${stack.db.socket}`, `-u${stack.db.admin}`, '-N', '-B', stack.db.name,
    '-e', q], { timeoutMs: 1800000 });
  if (r.code !== 0) throw new Error(`SQL failed (${q.slice(0, 120)}): ${r.stderr}`);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
}

const pad = (col, n = 13) => `LPAD(${col}, ${n}, '0')`;

/* seed - N payments, 3 ledger rows each, 2 000 payees (see the top) */
async function seed() {
  const t0 = Date.now();
  await sql("INSERT INTO accounts (id, kind, display_name) SELECT CONCAT('acc_bench', " + pad('seq', 5) +
    "), 'talent', CONCAT('Bench payee ', seq) FROM seq_1_to_2000");
  for (let lo = 1; lo <= N; lo += CHUNK) {
    const hi = Math.min(N, lo + CHUNK - 1);
    await sql('SET SESSION foreign_key_checks = 0, unique_checks = 0; ' +
      'INSERT INTO payments (id, purpose, pi_id, charge_id, amount_cent, currency, stripe_fee_estimate_cent, ' +
      'fee_bearer_account_id, status, completed_via, created_at) ' +
      `SELECT CONCAT('pay_bench', ${pad('seq')}), 'seed', CONCAT('pi_bench', ${pad('seq')}), ` +
      `CONCAT('ch_bench', ${pad('seq')}), 1300 + (seq * 7919) % 50000, IF(seq % 10 = 0, 'eur', 'usd'), 100, ` +
      `CONCAT('acc_bench', ${pad('seq % 2000 + 1', 5)}), IF(seq % 100 = 0, 'disputed', 'succeeded'), 'seed', ` +
      `NOW(3) - INTERVAL ((${N} - seq) * 12) SECOND FROM seq_${lo}_to_${hi}; ` +
      'INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, currency, status, created_at) ' +
      "SELECT p.id, IF(r.seq = 1, p.fee_bearer_account_id, IF(r.seq = 2, 'acc_platform', 'acc_stripe_fee')), " +
      "ELT(r.seq, 'TALENT', 'PLATFORM', 'STRIPE_FEE'), 'split', " +
      'IF(r.seq = 1, p.amount_cent - 300, IF(r.seq = 2, 200, 100)), p.currency, \'pending\', p.created_at ' +
      `FROM payments p JOIN seq_1_to_3 r WHERE p.id BETWEEN CONCAT('pay_bench', ${pad(lo)}) AND ` +
      `CONCAT('pay_bench', ${pad(hi)})`);
  }
  await sql('ANALYZE TABLE payments, shares, accounts');
  return (Date.now() - t0) / 1000;
}

/* paced - LOOPS loops of GET 'p' at RATE/s each; latencies in ms */
async function paced(p, seconds) {
  const lat = [];
  const statuses = {};
  const end = Date.now() + seconds * 1000;
  const loop = async (i) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const from = `127.0.0.${20 + i}`;
    let next = Date.now();
    while (Date.now() < end) {
      const t = process.hrtime.bigint();
      const status = await new Promise((resolve, reject) => {
        const r = http.request({ host: '127.0.0.1', port: stack.port, path: p, agent, localAddress: from,
          headers: { Cookie: cookie } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
        r.on('error', reject);
        r.end();
      });
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      statuses[status] = (statuses[status] ?? 0) + 1;
      next += 1000 / RATE;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => { setTimeout(r, wait); });
    }
    agent.destroy();
  };
  await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i)));
  return { lat, statuses };
}

function pct(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/* wrk - the point by wrk when installed: {p50, p99, rps} or null */
async function wrk(p, c) {
  const which = await run('sh', ['-c', 'command -v wrk'], {});
  if (which.code !== 0) return null;
  const r = await run('wrk', [`-t${Math.min(2, Number(c))}`, `-c${c}`, '-d10s', '--latency', '-H', `Cookie: ${cookie}`,
    `${stack.url}${p}`], { timeoutMs: 60000 });
  const ms = (v) => (v.endsWith('us') ? parseFloat(v) / 1000 : v.endsWith('ms') ? parseFloat(v) : parseFloat(v) * 1000);
  const p50 = /^\s+50%\s+(\S+)/m.exec(r.stdout)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(r.stdout)?.[1];
  const rps = /Requests\/sec:\s+(\S+)/.exec(r.stdout)?.[1];
  assert.doesNotMatch(r.stdout, /Non-2xx/, r.stdout);
  assert.ok(p50 && p99 && rps, r.stdout + r.stderr);
  const errors = /Socket errors:.*/.exec(r.stdout)?.[0] ?? '';
  return { p50: ms(p50), p99: ms(p99), rps: Number(rps), errors, raw: r.stdout };
}

test(`admin reads with ${N} payments`, { timeout: 3600000 }, async () => {
  /* the harness's MariaDB has a 256 MiB buffer pool: room for the data set */
  await sql(`SET GLOBAL innodb_buffer_pool_size = ${process.env.BUFFER_POOL || 2147483648}`);
  const seconds = await seed();
  /* the reports job rolls the closed days up (60 older days a run) */
  const t1 = Date.now();
  for (let k = 0; k < Math.ceil(N * 12 / 86400 / 60) + 1; k++) {
    const r = await stack.tallyctl('job', 'run', 'reports');
    assert.equal(r.code, 0, r.stderr);
  }
  const rollup = (Date.now() - t1) / 1000;
  /* wrk comes from one address: lift nginx's per-address limit for the admin API */
  const conf = path.join(stack.dir, 'nginx', 'tally.conf');
  fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(/limit_req zone=tally_api[^;]*;/g, ''));
  process.kill(stack.nginx.pid, 'SIGHUP');
  await new Promise((r) => { setTimeout(r, 1500); });
  const counts = await sql("SELECT (SELECT COUNT(*) FROM payments), (SELECT COUNT(*) FROM shares)");
  const day = (ago) => new Date(Date.now() - ago * 86400000).toISOString().slice(0, 10);
  const deep = `pay_bench${String(Math.round(N / 10)).padStart(13, '0')}`;
  const points = [
    ['first', '/admin/api/v1/payments?limit=25'],
    ['deep', `/admin/api/v1/payments?limit=25&starting_after=${deep}`],
    ['filtered', '/admin/api/v1/payments?limit=25&currency=eur&status=disputed'],
    ['payee', '/admin/api/v1/payments?limit=25&payee=acc_bench00042'],
    ['search', `/admin/api/v1/payments?q=pi_bench${String(4242).padStart(13, '0')}`],
    ['daily90', `/admin/api/v1/reports/daily?currency=usd&from=${day(89)}&to=${day(0)}`],
    ['top90', `/admin/api/v1/reports/top?currency=usd&from=${day(89)}&to=${day(0)}`],
    ['top7', `/admin/api/v1/reports/top?currency=usd&from=${day(6)}&to=${day(0)}`],
  ];
  const lines = [`payments ${counts[0][0]}, ledger rows ${counts[0][1]}, generated in ${seconds.toFixed(0)} s, ` +
    `rolled up in ${rollup.toFixed(0)} s`];
  if (process.env.TIMINGS === '1') {
    /* each statement of the reads alone: the mean of 200 runs in one mariadb session (mariadb's own work,
       no nginx, no tallyd) */
    const f = day(89);
    const t = day(0);
    const tomorrow = day(-1);
    const [[upto]] = await sql("SELECT DATE_FORMAT(upto, '%Y-%m-%d %H:%i:%s') FROM report_today WHERE currency = 'usd'");
    /* one aligned 64-day block inside the 90 days (day numbers since 1970 a multiple of 64) */
    const b64 = new Date(Math.ceil((Math.floor(Date.now() / 86400000) - 89) / 64) * 64 * 86400000).toISOString()
      .slice(0, 10);
    const blocks = `(level = 6 AND start_day = '${b64}')`;
    const roles = "('TALENT', 'AGENT', 'AMBASSADOR', 'HOST_PARTNER')";
    for (const [name, q] of [
      ['days', `SELECT DATEDIFF(day, '${f}'), gross_cent, payments FROM report_days WHERE currency = 'usd' AND day ` +
        `BETWEEN '${f}' AND '${t}' AND day < UTC_DATE()`],
      ['mark', `SELECT upto, gross_cent, FIND_IN_SET('90', periods) > 0 FROM report_today WHERE currency = 'usd' AND ` +
        `day = '${t}'`],
      ['tail payments', `SELECT DATEDIFF(created_at, '${t}'), SUM(amount_cent), COUNT(*) FROM payments WHERE ` +
        `currency = 'usd' AND created_at >= '${upto}' AND created_at < '${tomorrow}' GROUP BY 1`],
      ['tail platform', `SELECT DATEDIFF(created_at, '${t}'), SUM(amount_cent) FROM shares WHERE currency = 'usd' ` +
        `AND created_at >= '${upto}' AND created_at < '${tomorrow}' AND account_id = 'acc_platform' AND role = ` +
        "'PLATFORM' GROUP BY 1"],
      ['today live payments', `SELECT DATEDIFF(created_at, '${t}'), SUM(amount_cent), COUNT(*) FROM payments ` +
        `WHERE currency = 'usd' AND created_at >= '${t}' AND created_at < '${tomorrow}' GROUP BY 1`],
      ['today live platform', `SELECT DATEDIFF(created_at, '${t}'), SUM(amount_cent) FROM shares WHERE currency = ` +
        `'usd' AND created_at >= '${t}' AND created_at < '${tomorrow}' AND account_id = 'acc_platform' AND role = ` +
        "'PLATFORM' GROUP BY 1"],
      ['top90 payees cached', 'SELECT x.id, a.display_name, a.kind, x.g FROM (SELECT id, SUM(g) AS g FROM (SELECT ' +
        "account_id AS id, earned_cent AS g, 0 AS n FROM report_top_payees WHERE currency = 'usd' AND period = 90 " +
        `UNION ALL SELECT account_id, amount_cent, 0 FROM shares WHERE currency = 'usd' AND created_at >= '${upto}' ` +
        `AND created_at < '${tomorrow}' AND role IN ${roles}) t GROUP BY id ORDER BY 2 DESC, 1 LIMIT 5) x JOIN ` +
        'accounts a ON a.id = x.id ORDER BY 4 DESC, 1'],
      ['top90 cache rows only', "SELECT id, SUM(g) FROM (SELECT account_id AS id, earned_cent AS g FROM " +
        "report_top_payees WHERE currency = 'usd' AND period = 90) t GROUP BY id ORDER BY 2 DESC, 1 LIMIT 5"],
      ['one 64-day block', `SELECT account_id, SUM(earned_cent) FROM report_block_payees WHERE currency = 'usd' AND ` +
        `${blocks} GROUP BY account_id ORDER BY 2 DESC LIMIT 5`],
      ['payee (index)', "SELECT DISTINCT payment_id FROM shares WHERE account_id = 'acc_bench00042' AND " +
        "payment_id < '~' ORDER BY payment_id DESC LIMIT 26"],
      ['payee (semi-join)', "SELECT p.id FROM payments p WHERE p.id IN (SELECT payment_id FROM shares WHERE " +
        "account_id = 'acc_bench00042') AND p.id < '~' ORDER BY p.id DESC LIMIT 26"],
    ]) {
      const t0 = process.hrtime.bigint();
      await sql(Array(200).fill(q).join('; '));
      const ms = Number(process.hrtime.bigint() - t0) / 1e6 / 200;
      const plan = (await sql(`EXPLAIN ${q}`)).map((r) => `${r[2]}:${r[5]}:${r[8]}`).join(' ');
      lines.push(`  ${ms.toFixed(2)} ms  ${name}  [${plan}]`);
    }
  }
  for (const [name, p] of process.env.SKIP_LOAD === '1' ? [] : points) {
    const check = await paced(p, 0.2);
    assert.deepEqual(Object.keys(check.statuses), ['200'], `${name}: ${JSON.stringify(check.statuses)}`);
    let done = false;
    for (const c of (process.env.WRK_C || '8').split(',')) {
      const w = await wrk(p, c);
      if (!w) break;
      lines.push(`${name.padEnd(9)} wrk -c${c}: p50 ${w.p50.toFixed(1)} ms  p99 ${w.p99.toFixed(1)} ms  ` +
        `${w.rps} req/s ${w.errors}`);
      done = true;
    }
    if (done) continue;
    await paced(p, 2);
    const { lat, statuses } = await paced(p, DURATION);
    lat.sort((a, b) => a - b);
    assert.deepEqual(Object.keys(statuses), ['200'], `${name}: ${JSON.stringify(statuses)}`);
    lines.push(`${name.padEnd(9)} ${lat.length} req (${LOOPS}x${RATE}/s): p50 ${pct(lat, 0.5).toFixed(1)} ms  ` +
      `p99 ${pct(lat, 0.99).toFixed(1)} ms  max ${lat[lat.length - 1].toFixed(1)} ms`);
  }
  const out = lines.join('\n');
  console.log(out);
  if (process.env.WRITE === '1') fs.writeFileSync(path.join(import.meta.dirname, 'admin-results.txt'), `${out}\n`);
});
