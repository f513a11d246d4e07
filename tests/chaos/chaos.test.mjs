/*
 * chaos.test.mjs - crash anywhere (issue 14): a mixed workload on the
 * real stack (a MariaDB of its own, the sanitizer build of tallyd with
 * its jobs, nginx, the Stripe emulator; tests/system/lib) while, at
 * random points, tallyd's workers, its master and its job processes are
 * killed with SIGKILL, MariaDB is restarted, and the emulator's faults
 * are armed on Stripe's paths (error_500_after_work: done but answered
 * 500; drop_after: done, the socket destroyed; hang_after: done, the
 * answer held past tallyd's timeout).
 *
 * A run is CHAOS_OPS operations (default 25) drawn from a seeded PRNG:
 *   buy_api      checkout, paid at the emulator, completed by the API
 *   buy_webhook  the same, completed by the webhooks alone
 *   refund_admin a partial refund by a finance admin
 *   refund_dash  a Dashboard refund at the emulator
 *   dispute      a dispute opened, sometimes closed won or lost
 *   payout       `tallyctl payouts run` (the payouts job runs too)
 *   advance      an advance to the talent (admin API)
 * and before each, with probability CHAOS_FAULT_PCT (default 35), one
 * fault.  Answers during a run may fail (that is the point).  The
 * schedule is drawn from the seed alone (schedule(): the same draws per
 * step whatever happens; refunds and disputes pick among the run's own
 * payments), and the operations are sequential, so that a seed replays
 * the same schedule on a fresh stack.
 * After each run (faults cleared, tallyd and MariaDB up again):
 *   - every queue drains (tests/torture/lib.mjs converge), nothing dead;
 *   - `tallyctl check` and the ledger's invariants hold (assertLedger);
 *   - the emulator's money equals Tally's, per payment and per currency,
 *     and every transfer is exactly one payout or advance
 *     (moneyProblems);
 *   - the sanitizers said nothing.
 *
 *   CHAOS_RUNS (default 20; ./dev soak: 1000), CHAOS_SEED (the first
 *   run's seed; run i uses seed + i: a failing run prints its seed, and
 *   CHAOS_SEED=<it> CHAOS_RUNS=1 with the same CHAOS_OPS and
 *   CHAOS_FAULT_PCT replays its schedule).
 * Prints "chaos: run I seed S: OPS ops, F faults (kinds)" per run and
 * "chaos figures: R runs, seeds A..B, F faults" at the end.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  adminCall, assertLedger, converge, deadRows, quietMoneyProblems, randomString, sanitizerReports, setupWorld, sleep,
  tallyctlEnv, tortureConf,
} from '../torture/lib.mjs';
import { checkout, complete, confirmPi, fastBuyer, server } from '../system/lib/checkout_helpers.mjs';
import { alive, childrenOf, listeningInodes, socketInodes } from '../system/lib/proc.mjs';
import { POOLS, startStack, waitFor } from '../system/lib/stack.mjs';

const RUNS = Number(process.env.CHAOS_RUNS || 20);
const OPS = Number(process.env.CHAOS_OPS || 25);
const FAULT_PCT = Number(process.env.CHAOS_FAULT_PCT || 35);
const SEED0 = Number(process.env.CHAOS_SEED || (Date.now() % 1000000007));

let stack;
let world;
const payments = [];		/* {pay, charge, amount} bought so far */
const tally = { faults: 0, kinds: {} };

/* mulberry32 - a small seeded PRNG: () => [0, 1) */
function mulberry32(a) {
  return () => {
    a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

before(async () => {
  console.log(`chaos: seed ${SEED0} (replay: CHAOS_SEED=${SEED0} CHAOS_RUNS=${RUNS} CHAOS_OPS=${OPS} ` +
    `CHAOS_FAULT_PCT=${FAULT_PCT})`);
  stack = await startStack({
    name: 'chaos', stripe: true, privateDb: true,
    conf: tortureConf({
      'job.checkouts': { interval: 1 }, 'job.webhooks': { interval: 1 }, 'job.refunds': { interval: 1 },
      'job.payouts': { interval: 2 },
      stripe: { timeout_ms: 2000, max_retries: 1 },
    }),
  });
  world = await setupWorld(stack);
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) await assertLedger(stack);
  } finally {
    await stack?.stop();
  }
});

/* jobPids - tallyd's job processes (the master's children that serve no pool) */
function jobPids() {
  const m = stack.masterPid();
  if (!m || !alive(m)) return [];
  const workers = new Set(POOLS.flatMap((p) => stack.workerPids(p)));
  return childrenOf(m).filter((p) => !workers.has(p));
}

/* the master's children when it was last seen alive (its orphans-to-be) */
let lastKids = [];

/* up - tallyd and MariaDB running again after whatever a fault did */
async function up() {
  if (!(await stack.sql('SELECT 1').then(() => true, () => false))) await stack.startDb();
  const m = stack.masterPid();
  if (!m || !alive(m)) {
    await stack.stopTallyd().catch(() => {});
    /* the children are told to stop when their master dies
       (PR_SET_PDEATHSIG); one finishing a request may take a while: after
       10 s it is killed, as a crash would have it */
    await waitFor(() => lastKids.every((p) => !alive(p)), { timeoutMs: 10000, what: 'orphans gone' })
      .catch(() => { for (const p of lastKids) if (alive(p)) process.kill(p, 'SIGKILL'); });
    await waitFor(() => lastKids.every((p) => !alive(p)), { timeoutMs: 5000, what: 'orphans killed' });
    /* a child forked after lastKids was read (a respawn racing the kill)
       is an orphan too: wait until nothing listens on the pools' sockets,
       then kill what still does, as systemd's KillMode=control-group
       would */
    const paths = POOLS.map((p) => stack.socket(p));
    const listening = () => listeningInodes(paths).size > 0;
    await waitFor(() => !listening(), { timeoutMs: 10000, what: 'late orphans gone' }).catch(() => {
      const inodes = new Set(listeningInodes(paths).keys());
      for (const name of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
        if ([...socketInodes(Number(name))].some((i) => inodes.has(i))) process.kill(Number(name), 'SIGKILL');
      }
    });
    await waitFor(() => !listening(), { timeoutMs: 5000, what: 'late orphans killed' });
    await stack.startTallyd();
  }
}

/* fault - the fault of draws 'f' (four numbers in [0, 1)) */
async function fault(f, log) {
  const kinds = ['kill_worker', 'kill_master', 'kill_job', 'db_restart', 'error_500_after_work', 'drop_after',
    'hang_after'];
  const k = kinds[Math.floor(f[0] * kinds.length)];
  tally.faults++;
  tally.kinds[k] = (tally.kinds[k] ?? 0) + 1;
  log.push(k);
  if (k === 'kill_worker') {
    const pool = POOLS[Math.floor(f[1] * POOLS.length)];
    const pids = stack.workerPids(pool);
    if (pids.length) process.kill(pids[Math.floor(f[2] * pids.length)], 'SIGKILL');
  } else if (k === 'kill_master') {
    const m = stack.masterPid();
    lastKids = m && alive(m) ? childrenOf(m) : [];
    if (m && alive(m)) process.kill(m, 'SIGKILL');
    await up();
  } else if (k === 'kill_job') {
    const pids = jobPids();
    if (pids.length) process.kill(pids[Math.floor(f[1] * pids.length)], 'SIGKILL');
  } else if (k === 'db_restart') {
    await stack.stopDb();
    await sleep(Math.floor(f[1] * 500));
    await stack.startDb();
  } else {
    const paths = ['^/v1/payment_intents$', '^/v1/payment_intents/[^/]+$', '^/v1/refunds$', '^/v1/transfers$',
      '^/v1/transfers/[^/]+/reversals$'];
    const p = paths[Math.floor(f[1] * paths.length)];
    await stack.emu('POST', '/__emu/faults', { path: p, mode: k, count: 1, ...(k === 'hang_after' ? { seconds: 3 } : {}) });
  }
}

/* quietly - an operation whose failure during chaos is expected */
async function quietly(fn) {
  try {
    return await fn();
  } catch {
    return null;
  }
}

/* buy - a checkout paid at the emulator; completed by the API when 'api';
   its id goes to 'chks' (the run's checkouts) */
async function buy(api, chks) {
  const b = fastBuyer(stack);
  const key = `chaos-${randomString(10)}`;
  let c = null;
  for (let i = 0; i < 4 && !c; i++) {
    const r = await quietly(() => checkout(stack, b, { product_id: world.product.id }, { idem: `${key}-${i}` }));
    if (r?.status === 200) c = r.json;
    else await sleep(300);
  }
  if (!c) return;
  chks.push(c.id);
  const p = await quietly(() => confirmPi(stack, c.payment_intent_id));
  if (p?.status !== 200 || p.json?.status !== 'succeeded') return;
  if (api) {
    for (let i = 0; i < 4; i++) {
      const r = await quietly(() => complete(stack, b, c.id, { idem: `${key}-p` }));
      if (r?.status === 200) {
        payments.push({ pay: r.json.id, charge: r.json.charge_id, amount: r.json.amount_cent });
        return;
      }
      await sleep(300);
    }
  }
}

/*
 * pickPayment - one of the run's payments (of its own checkouts, in the
 * order they were made: a replay picks the same), by draw 'x'
 */
async function pickPayment(x, chks) {
  if (!chks.length) return null;
  const list = chks.map((c) => `'${c}'`).join(', ');
  const rows = await quietly(() => stack.sql('SELECT id, amount_cent - refunded_cent - disputed_cent, ' +
    `IFNULL(charge_id, '') FROM payments WHERE checkout_id IN (${list}) ORDER BY FIELD(checkout_id, ${list})`));
  if (!rows?.length) return null;
  const [id, left, charge] = rows[Math.floor(x * rows.length)];
  return { id, left: Number(left), charge };
}

/* op - the operation of draws 'o' (four numbers in [0, 1)) */
async function op(o4, log, chks) {
  const ops = ['buy_api', 'buy_api', 'buy_webhook', 'refund_admin', 'refund_dash', 'dispute', 'payout', 'advance'];
  const o = ops[Math.floor(o4[0] * ops.length)];
  log.push(o);
  if (o === 'buy_api' || o === 'buy_webhook') return buy(o === 'buy_api', chks);
  if (o === 'payout') return quietly(() => tallyctlEnv(stack, {}, 'payouts', 'run'));
  if (o === 'advance') {
    return quietly(() => adminCall(stack, world.admin, 'POST', '/admin/api/v1/advances',
      { account_id: world.talent.id, amount_cent: 100 + Math.floor(o4[1] * 400), note: 'chaos' },
      { idem: `adv-${randomString(10)}` }));
  }
  const p = await pickPayment(o4[1], chks);
  if (!p || p.left < 200) return null;
  const amount = 100 + Math.floor(o4[2] * Math.min(1000, p.left - 100));
  if (o === 'refund_admin') {
    return quietly(() => adminCall(stack, world.admin, 'POST', `/admin/api/v1/payments/${p.id}/refunds`,
      { amount_cent: amount, reason: 'requested_by_customer' }, { idem: `rf-${randomString(10)}` }));
  }
  if (!p.charge) return null;
  if (o === 'refund_dash') {
    return quietly(() => stack.emu('POST', `/__emu/charges/${p.charge}/dashboard_refund`, { amount }));
  }
  /* a dispute of the whole charge (Stripe's; one per charge) */
  const d = await quietly(() => stack.emu('POST', `/__emu/charges/${p.charge}/dispute`, {}));
  if (d?.id && o4[3] < 0.6) {
    await quietly(() => stack.emu('POST', `/__emu/disputes/${d.id}/close`, { outcome: o4[3] < 0.3 ? 'won' : 'lost' }));
  }
  return null;
}

/*
 * schedule - the run's steps drawn from its seed, each the same nine
 * draws whatever happens (so a seed is the same schedule on any stack):
 * whether a fault comes first, the fault's four, the operation's four
 */
function schedule(seed) {
  const rnd = mulberry32(seed);
  const steps = [];
  for (let i = 0; i < OPS; i++) {
    const d = Array.from({ length: 9 }, () => rnd());
    steps.push({ fault: d[0] * 100 < FAULT_PCT ? d.slice(1, 5) : null, op: d.slice(5, 9) });
  }
  return steps;
}

/* settle - the end of a run: faults cleared, everything up, queues drained, checked */
async function settle(label) {
  await stack.emu('DELETE', '/__emu/faults');
  await stack.emu('POST', '/__emu/faults/release');
  await up();
  await waitFor(async () => (await quietly(() => server(stack, 'GET', '/api/v1/health')))?.status === 200,
    { timeoutMs: 30000, interval: 200, what: 'health after the run' });
  await converge(stack, { rounds: 30 });
  assert.deepEqual(await deadRows(stack), [], `${label}: given up on`);
  assert.deepEqual(await quietMoneyProblems(stack), [], `${label}: the emulator's money != Tally's`);
  await assertLedger(stack);
  assert.deepEqual(sanitizerReports(stack), [], `${label}: sanitizer reports`);
}

for (let run = 0; run < RUNS; run++) {
  const seed = SEED0 + run;
  test(`run ${run} seed ${seed}: crash anywhere, the money and the ledger right`, { timeout: 600000 }, async () => {
    const log = [];
    const chks = [];
    const f0 = tally.faults;
    try {
      for (const st of schedule(seed)) {
        if (st.fault) await fault(st.fault, log);
        await op(st.op, log, chks);
      }
      await settle(`seed ${seed}`);
    } catch (e) {
      e.message = `seed ${seed} (replay: CHAOS_SEED=${seed} CHAOS_RUNS=1 CHAOS_OPS=${OPS} ` +
        `CHAOS_FAULT_PCT=${FAULT_PCT}): ${log.join(' ')}\n${e.message}`;
      throw e;
    }
    console.log(`chaos: run ${run} seed ${seed}: ${OPS} ops, ${tally.faults - f0} faults (${log.join(' ')})`);
  });
}

test('figures', () => {
  console.log(`chaos figures: ${RUNS} runs, seeds ${SEED0}..${SEED0 + RUNS - 1}, ${tally.faults} faults ` +
    `(${Object.entries(tally.kinds).map(([k, v]) => `${k} ${v}`).join(', ')})`);
});
