/*
 * lib.mjs - what the torture runner (tests/torture) and the chaos harness
 * (tests/chaos) share on top of the system test library
 * (tests/system/lib): one stack with the Stripe emulator, one worker per
 * pool, payouts at once (no hold, a low threshold), a finance admin, an
 * onboarded talent whose product every scenario buys; the clean-answer
 * rule; the convergence (every queue drained, by the jobs run with
 * tallyctl); the money compared between the emulator and Tally's rows.
 *
 *   tortureConf(over)              the stack's configuration
 *   setupWorld(stack)              {admin, talent, product}
 *   setFaults(stack, spec)         TALLY_FAULTS_FILE rewritten, every
 *                                  worker replaced (they read it at start)
 *   clean(res)                     a 2xx, or Tally's JSON error envelope
 *   adminCall(stack, s, m, p, json, {idem})
 *   tallyctlEnv(stack, env, ...args)  tallyctl with extra environment
 *   converge(stack)                drain: webhooks delivered, jobs run
 *                                  until nothing is left to finish
 *   moneyProblems(stack)           the emulator's money against Tally's
 *   quietMoneyProblems(stack)      the same, over a moment nothing moved
 *   sanitizerReports(stack)        ASan/UBSan reports of tallyd so far
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  assertLedger, esc, makeAccount, makeProduct, paymentConf, server, sql1, sqlNum, until,
} from '../system/lib/checkout_helpers.mjs';
import { run } from '../system/lib/proc.mjs';
import {
  BIN, POOLS, randomString, req, sleep, waitFor,
} from '../system/lib/stack.mjs';

export { assertLedger, sleep, randomString };

/* the stack's configuration: one worker per pool (the Nth call of a pool
   is then one process's), payouts of every payable row at once */
export function tortureConf(over = {}) {
  return paymentConf({
    api: { workers: 1 }, webhook: { workers: 1 }, admin: { workers: 1 },
    payouts: { hold_days: 0, retry_base: 1, lease: 2 },
    'currency.usd': { payout_threshold_cent: 100, refund_support_limit_cent: 1000000 },
    ...over,
  });
}

/*
 * setFaults - the faults of the next workers: the file tallyd's
 * TALLY_FAULTS_FILE names (torture and chaos stacks start tallyd with
 * it) gets 'spec', then each worker is told to stop (SIGTERM: a clean
 * exit, replaced at once by the master) and its successor awaited
 */
export async function setFaults(stack, spec) {
  fs.writeFileSync(stack.opts.tallydEnv.TALLY_FAULTS_FILE, `${spec}\n`);
  for (const pool of POOLS) {
    const old = stack.workerPids(pool);
    for (const pid of old) process.kill(pid, 'SIGTERM');
    await waitFor(() => {
      const now = stack.workerPids(pool);
      return now.length === old.length && now.every((p) => !old.includes(p));
    }, { timeoutMs: 15000, interval: 20, what: `new ${pool} workers` });
  }
}

/* setupWorld - a finance admin and a product of an onboarded talent */
export async function setupWorld(stack) {
  const pw = `fin-${randomString(16)}`;
  await stack.createAdmin('finance1', 'finance', pw);
  const admin = await stack.adminLogin('finance1', pw);
  assert.equal(admin.status, 200, 'finance login');
  const talent = await makeAccount(stack, 'talent', { email: `t-${randomString(6).toLowerCase()}@example.test` });
  const c = await server(stack, 'POST', `/api/v1/accounts/${talent.id}/connect`);
  assert.equal(c.status, 200, c.body);
  await stack.emu('POST', `/__emu/accounts/${c.json.connect_account_id}/complete_onboarding`);
  await until(async () => (await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(talent.id)}`)) === '1',
    'payouts_enabled after onboarding');
  const product = await makeProduct(stack, { seller_account_id: talent.id, price_cent: 4000 });
  return { admin, talent, product };
}

/*
 * clean - the answer is a 2xx, or Tally's error envelope (JSON with
 * error.type and error.code) with a 4xx or 5xx status: never nginx's
 * 502/504 page of a dead worker, never a timeout, never a reset
 */
export function clean(res) {
  if (res.status >= 200 && res.status < 300) return true;
  return res.status >= 400 && typeof res.json?.error?.type === 'string' &&
    typeof res.json?.error?.code === 'string';
}

/* adminCall - a call as admin session 's' (CSRF token, optional key) */
export function adminCall(stack, s, method, p, json, { idem } = {}) {
  const headers = { Cookie: `tally_session=${s.cookie}`, 'X-CSRF-Token': s.csrf };
  if (idem) headers['Idempotency-Key'] = idem;
  return req(stack, method, p, { headers, json, timeoutMs: 30000 });
}

/* tallyctlEnv - `tallyctl -c CONF ARGS` with 'env' added: {code, signal, stdout, stderr} */
export function tallyctlEnv(stack, env, ...args) {
  return run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, ...args],
    { env: { ...process.env, ...env }, timeoutMs: 120000 });
}

/* unfinished - what is left to finish: {what: count}, only the non-zero */
async function unfinished(stack) {
  const q = {
    webhooks: "SELECT COUNT(*) FROM webhook_events WHERE status IN ('received', 'failed')",
    checkouts: "SELECT COUNT(*) FROM checkouts WHERE pi_state IN ('to_create', 'unknown') AND pi_dead_at IS NULL",
    refunds: "SELECT COUNT(*) FROM refunds WHERE state IN ('to_create', 'unknown', 'pending') AND dead_at IS NULL",
    payouts: "SELECT COUNT(*) FROM payouts WHERE state IN ('to_transfer', 'unknown') AND dead_at IS NULL",
    advances: "SELECT COUNT(*) FROM advances WHERE state IN ('to_transfer', 'unknown') AND dead_at IS NULL",
  };
  const out = {};
  for (const [k, sql] of Object.entries(q)) {
    const n = await sqlNum(stack, sql);
    if (n) out[k] = n;
  }
  return out;
}

/* dead - effects and events given up on (a harness failure: money stuck) */
export async function deadRows(stack) {
  const q = {
    webhooks: "SELECT id FROM webhook_events WHERE status = 'dead'",
    checkouts: 'SELECT id FROM checkouts WHERE pi_dead_at IS NOT NULL',
    refunds: 'SELECT id FROM refunds WHERE dead_at IS NOT NULL',
    payouts: 'SELECT id FROM payouts WHERE dead_at IS NOT NULL',
    advances: 'SELECT id FROM advances WHERE dead_at IS NOT NULL',
  };
  const out = [];
  for (const [k, sql] of Object.entries(q)) for (const [id] of await stack.sql(sql)) out.push(`${k} ${id} dead`);
  return out;
}

/*
 * due - make every retry due now (the harness's time travel: the jobs'
 * backoffs and the webhook's 60 s before a received event is retried are
 * minutes the run has not got); nothing else runs while it converges
 */
async function due(stack) {
  await stack.sql("UPDATE webhook_events SET next_attempt_at = NOW(3) WHERE status IN ('received', 'failed')");
  await stack.sql('UPDATE checkouts SET pi_next_attempt_at = NOW(3), pi_lease_until = NOW(3) ' +
    "WHERE pi_state IN ('to_create', 'unknown') AND pi_dead_at IS NULL");
  for (const t of ['refunds', 'payouts', 'advances', 'transfer_reversals']) {
    await stack.sql(`UPDATE ${t} SET next_attempt_at = NOW(3)${t === 'transfer_reversals' ? '' : ', lease_until = NOW(3)'} ` +
      'WHERE dead_at IS NULL');
  }
}

/*
 * converge - every queue drains: the emulator delivered every event, and
 * the jobs (run by tallyctl, no fault) finished what was left unknown;
 * throws with what is left after 'rounds'
 */
export async function converge(stack, { rounds = 20 } = {}) {
  let left = {};
  for (let i = 0; i < rounds; i++) {
    await stack.emu('POST', '/__emu/webhooks/flush', { timeout_ms: 20000 });
    await stack.emu('POST', '/__emu/balance/release', {});
    if (i === 0 && Object.keys(await unfinished(stack)).length === 0) return;
    await due(stack);
    for (const job of ['webhooks', 'checkouts', 'refunds']) {
      const r = await tallyctlEnv(stack, { TALLY_FAULTS: '' }, 'job', 'run', job);
      assert.ok(r.signal === null, `tallyctl job run ${job} died: ${r.signal}\n${r.stderr}`);
    }
    const p = await tallyctlEnv(stack, { TALLY_FAULTS: '' }, 'payouts', 'run');
    assert.ok(p.signal === null, `tallyctl payouts run died: ${p.signal}\n${p.stderr}`);
    left = await unfinished(stack);
    if (Object.keys(left).length === 0) return;
    await sleep(300 + i * 200);
  }
  throw new Error(`queues did not drain: ${JSON.stringify(left)}`);
}

/*
 * moneyProblems - the emulator's money against Tally's rows, per
 * currency (an empty list when they agree):
 *  - each succeeded PaymentIntent of a checkout is one payment of its
 *    amount, and no checkout has two succeeded PaymentIntents;
 *  - refunds: the emulator's succeeded refunds of each payment's charge
 *    sum to Tally's refunded_cent, one Tally refund per Stripe refund;
 *  - disputes: the emulator's lost/withdrawn amounts equal disputed_cent;
 *  - payouts and advances: every transfer is exactly one paid payout or
 *    transferred advance of its amount and destination; Tally paid none
 *    without its transfer; reversals: the emulator's reversed amounts of
 *    Tally's transfers equal Tally's reversed amounts;
 *  - per currency: the emulator's charges - refunds - disputes of
 *    Tally's payments = Σ (amount - refunded - disputed) of the payments
 *    (= Σ of their share rows, which assertLedger checks); transfers -
 *    reversals = Tally's paid payouts - their reversals + transferred
 *    advances.  (Stripe's fees are compared by the fee rows' own checks
 *    in tallyctl check, not here.)
 */
export async function moneyProblems(stack) {
  const problems = [];
  const objs = async (kind) => (await stack.emu('GET', `/__emu/objects/${kind}`)).data;
  const pis = (await objs('payment_intents')).filter((p) => p.status === 'succeeded');
  const pays = new Map((await stack.sql('SELECT pi_id, id, amount_cent, currency, refunded_cent, disputed_cent, ' +
    "IFNULL(checkout_id, '') FROM payments")).map((r) => [r[0], r]));
  const perChk = new Map();
  for (const pi of pis) {
    const chk = pi.metadata?.checkout_id;
    if (chk) perChk.set(chk, (perChk.get(chk) ?? 0) + 1);
    const p = pays.get(pi.id);
    if (!p) {
      /* an advance's or seed's PaymentIntent is not a payment; a checkout's must be */
      if (chk) problems.push(`succeeded PaymentIntent ${pi.id} of ${chk} has no payment`);
      continue;
    }
    if (Number(p[2]) !== pi.amount_received || p[3] !== pi.currency) {
      problems.push(`payment ${p[1]} ${p[2]} ${p[3]} != PaymentIntent ${pi.id} ${pi.amount_received} ${pi.currency}`);
    }
  }
  for (const [chk, n] of perChk) if (n > 1) problems.push(`checkout ${chk}: ${n} succeeded PaymentIntents (money taken twice)`);

  const charges = await objs('charges');
  const chargeOf = new Map(charges.map((c) => [c.payment_intent, c]));
  const refunds = (await objs('refunds')).filter((r) => r.status === 'succeeded');
  const refundedBy = new Map();
  for (const r of refunds) refundedBy.set(r.charge, (refundedBy.get(r.charge) ?? 0) + r.amount);
  const disputes = await objs('disputes');
  const disputedBy = new Map();
  for (const d of disputes) {
    /* withdrawn when it opens, reinstated if won: its balance transactions
       (in the charge's currency: no settlement currency is set) */
    const w = -(d.balance_transactions ?? []).reduce((a, bt) => a + bt.amount, 0);
    disputedBy.set(d.charge, (disputedBy.get(d.charge) ?? 0) + w);
  }
  for (const [piId, p] of pays) {
    const ch = chargeOf.get(piId);
    if (!ch) continue;
    const want = refundedBy.get(ch.id) ?? 0;
    if (Number(p[4]) !== want) problems.push(`payment ${p[1]}: refunded_cent ${p[4]} != Stripe's refunds ${want}`);
    const dwant = disputedBy.get(ch.id) ?? 0;
    if (Number(p[5]) !== dwant) problems.push(`payment ${p[1]}: disputed_cent ${p[5]} != Stripe's disputes ${dwant}`);
  }
  const tallyRefunds = await sqlNum(stack, "SELECT COUNT(*) FROM refunds WHERE state = 'succeeded'");
  if (tallyRefunds !== refunds.length) {
    problems.push(`Tally has ${tallyRefunds} succeeded refunds, Stripe ${refunds.length}`);
  }

  /* transfers: payouts and advances */
  const transfers = await objs('transfers');
  const outs = new Map();
  for (const [id, amount, acct, tr, state, cur] of await stack.sql('SELECT id, amount_cent, connect_account_id, ' +
    "IFNULL(stripe_transfer_id, ''), state, currency FROM payouts")) {
    outs.set(id, { amount: Number(amount), acct, tr, done: state === 'paid', cur, what: `payout ${id} (${state})` });
  }
  const adv = await stack.sql("SELECT id, granted_cent, connect_account_id, IFNULL(stripe_transfer_id, ''), state, " +
    'currency FROM advances');
  for (const [id, amount, acct, tr, state, cur] of adv) {
    outs.set(id, { amount: Number(amount), acct, tr, done: state === 'transferred', cur, what: `advance ${id} (${state})` });
  }
  const seen = new Map();
  for (const t of transfers) {
    const id = t.metadata?.tally_id;
    const o = id && outs.get(id);
    if (!o) { problems.push(`transfer ${t.id} of ${t.amount} is no payout or advance of Tally (${id})`); continue; }
    seen.set(id, (seen.get(id) ?? 0) + 1);
    if (!o.done) problems.push(`${o.what} has Stripe transfer ${t.id}`);
    if (t.amount !== o.amount || t.destination !== o.acct || t.currency !== o.cur || t.id !== o.tr) {
      problems.push(`${o.what} ${o.amount} ${o.acct} ${o.tr} != transfer ${t.id} ${t.amount} ${t.destination}`);
    }
  }
  for (const [id, o] of outs) {
    const n = seen.get(id) ?? 0;
    if (o.done && n !== 1) problems.push(`${o.what}: ${n} transfers (money moved ${n} times)`);
  }
  /* per currency: what Stripe holds of the payments = what Tally's
     payments hold; what left by transfers = what Tally paid out */
  const held = new Map();
  const add = (m, cur, v) => m.set(cur, (m.get(cur) ?? 0) + v);
  for (const ch of charges) {
    if (ch.status !== 'succeeded' || !pays.has(ch.payment_intent)) continue;
    add(held, ch.currency, ch.amount - (refundedBy.get(ch.id) ?? 0) - (disputedBy.get(ch.id) ?? 0));
  }
  const tallyHeld = new Map();
  for (const [cur, v] of await stack.sql('SELECT currency, SUM(amount_cent - refunded_cent - disputed_cent) ' +
    'FROM payments GROUP BY currency')) add(tallyHeld, cur, Number(v));
  for (const cur of new Set([...held.keys(), ...tallyHeld.keys()])) {
    if ((held.get(cur) ?? 0) !== (tallyHeld.get(cur) ?? 0)) {
      problems.push(`${cur}: Stripe holds ${held.get(cur) ?? 0} of the payments, Tally ${tallyHeld.get(cur) ?? 0}`);
    }
  }
  const out = new Map();
  for (const t of transfers) add(out, t.currency, t.amount - (t.amount_reversed ?? 0));
  const paidOut = new Map();
  for (const [cur, v] of await stack.sql("SELECT currency, SUM(amount_cent - reversed_cent) FROM payouts WHERE state = 'paid' " +
    'GROUP BY currency')) add(paidOut, cur, Number(v));
  for (const [cur, v] of await stack.sql("SELECT currency, SUM(granted_cent - reversed_cent) FROM advances " +
    "WHERE state = 'transferred' " +
    'GROUP BY currency')) add(paidOut, cur, Number(v));
  for (const cur of new Set([...out.keys(), ...paidOut.keys()])) {
    if ((out.get(cur) ?? 0) !== (paidOut.get(cur) ?? 0)) {
      problems.push(`${cur}: transfers - reversals ${out.get(cur) ?? 0} != Tally paid out ${paidOut.get(cur) ?? 0}`);
    }
  }
  return problems;
}

/* fingerprint - what moneyProblems reads, in brief: equal twice = quiet */
async function fingerprint(stack) {
  const n = async (kind) => (await stack.emu('GET', `/__emu/objects/${kind}`)).data
    .map((o) => `${o.id}:${o.status ?? ''}:${o.amount_reversed ?? ''}`).join(',');
  const emu = await Promise.all(['payment_intents', 'refunds', 'disputes', 'transfers'].map(n));
  const db = await stack.sql('SELECT (SELECT COUNT(*) FROM payments), (SELECT SUM(refunded_cent + disputed_cent) ' +
    "FROM payments), (SELECT GROUP_CONCAT(id, state) FROM payouts), (SELECT GROUP_CONCAT(id, state) FROM advances), " +
    "(SELECT GROUP_CONCAT(id, state) FROM refunds)");
  return JSON.stringify([emu, db]);
}

/*
 * quietMoneyProblems - moneyProblems over a quiet moment: tallyd's jobs
 * keep running (a payout run may start between reading the emulator and
 * reading the database), so the comparison counts only when nothing
 * either side reads changed while it ran; tried up to 'tries' times
 */
export async function quietMoneyProblems(stack, tries = 10) {
  let last = [];
  for (let i = 0; i < tries; i++) {
    const before = await fingerprint(stack);
    last = await moneyProblems(stack);
    if (before === await fingerprint(stack)) return last;
    await sleep(500);
  }
  return [...last, `no quiet moment in ${tries} tries (something keeps moving money)`];
}

/*
 * sanitizerReports - ASan/UBSan reports of tallyd: the files of
 * ASAN_OPTIONS' log_path (tests/run) and tallyd's standard error
 */
export function sanitizerReports(stack) {
  const out = [];
  const tmp = process.env.TALLY_TEST_TMP;
  if (tmp) {
    for (const f of fs.readdirSync(tmp)) if (f.startsWith('asan.')) out.push(path.join(tmp, f));
  }
  let err = '';
  try { err = fs.readFileSync(path.join(stack.dir, 'log', 'tallyd.err'), 'utf8'); } catch { /* none */ }
  if (/ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer/.test(err)) out.push('tallyd.err');
  return out;
}
