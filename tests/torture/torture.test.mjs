/*
 * torture.test.mjs - torture mode (curl's model, issue 14): every
 * database call, every Stripe call (refused before it is sent, or its
 * reply lost after Stripe did it) and, in the full run, a sample of
 * allocations of one scenario fails in turn, on the real stack
 * (MariaDB, the sanitizer build of tallyd behind nginx, the Stripe
 * emulator; tests/system/lib).
 *
 * The scenario: a buyer's checkout, paid at the emulator, completed by
 * the browser's call (and by the webhooks the emulator sends); in the
 * full scenario then a partial refund by a finance admin and a payout
 * run (`tallyctl payouts run`).  For each fault kind and each process
 * that serves the scenario (the pools api, webhook, admin: one worker
 * each; tallyctl for the payout), N = 1, 2, … : tallyd (or tallyctl)
 * runs with TALLY_FAULTS=KIND:N@PROC (core/ctx.h), the scenario runs,
 * and then:
 *   - every answer was a 2xx or Tally's JSON error (never a dead
 *     worker's 502, a hang or a reset); a step that failed cleanly is
 *     retried (its Idempotency-Key kept) until it succeeds (5 tries);
 *   - retrying converges: the queues drain (tests/torture/lib.mjs
 *     converge: the jobs run by tallyctl, no effect or event dead);
 *   - no money moves twice: the emulator's PaymentIntents, refunds and
 *     transfers equal Tally's payments, refunds and payouts
 *     (moneyProblems);
 *   - the ledger's invariants and `tallyctl check` hold (assertLedger);
 *   - ASan and UBSan said nothing (sanitizerReports).
 * It stops at the first N whose scenario ran without reaching the fault
 * (tallyd logs "fault injected" when it injects one): every such call
 * of the scenario was failed once.
 *
 *   TORTURE=short (default, CI): checkout and completion; kinds db,
 *     stripe, stripe_lost; processes api and webhook.
 *   TORTURE=full (./dev torture): the whole scenario; also the admin
 *     pool and tallyctl, and alloc:N sampled (every TORTURE_ALLOC_STEP-th
 *     allocation, default 97, of api).
 *   TORTURE_MAX_N caps N per kind and process (default 400);
 *   TORTURE_ONLY=REGEX runs only the KIND@PROC sweeps it matches.
 * Each kind@process prints "torture: KIND@PROC: N points, H injected,
 * all clean"; the last line "torture figures: P points covered" (the
 * numbers docs/reliability.md quotes).
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  adminCall, assertLedger, clean, converge, deadRows, moneyProblems, randomString, sanitizerReports, setFaults,
  setupWorld, sleep, tallyctlEnv, tortureConf,
} from './lib.mjs';
import { complete, confirmPi, fastBuyer, checkout } from '../system/lib/checkout_helpers.mjs';
import { startStack } from '../system/lib/stack.mjs';

const MODE = process.env.TORTURE || 'short';
const MAX_N = Number(process.env.TORTURE_MAX_N || 400);
const ALLOC_STEP = Number(process.env.TORTURE_ALLOC_STEP || 97);
const FULL = MODE === 'full';

let stack;
let world;
/* the stack's dir is known only once it started: a file of our own */
const FAULTS = path.join(process.env.TALLY_TEST_TMP || '/tmp', `torture-faults-${process.pid}`);
fs.writeFileSync(FAULTS, '');
let points = 0;

before(async () => {
  stack = await startStack({ name: 'torture', stripe: true, conf: tortureConf(), tallydEnv: { TALLY_FAULTS_FILE: FAULTS } });
  world = await setupWorld(stack);
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) {
      await setFaults(stack, '');
      await converge(stack);
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

/* restart - new workers under TALLY_FAULTS 'faults'; the log's length before */
async function restart(faults) {
  const from = stack.logText().length;
  await setFaults(stack, faults);
  return from;
}

/*
 * step - call() until it answers 'ok' (a 2xx), each answer clean; the
 * answers seen
 */
async function step(what, call, ok = (r) => r.status >= 200 && r.status < 300) {
  const seen = [];
  for (let i = 0; i < 5; i++) {
    let r;
    try {
      r = await call(i);
    } catch (e) {
      throw new Error(`${what}: no answer (${e.message}); before: ${seen.join(', ')}`);
    }
    seen.push(`${r.status} ${r.json?.error?.code ?? ''}`.trim());
    assert.ok(clean(r), `${what}: an unclean answer ${r.status} ${r.body?.slice(0, 200)}`);
    if (ok(r)) return r;
    await sleep(100 * (i + 1));
  }
  throw new Error(`${what}: retrying did not converge: ${seen.join(', ')}`);
}

/* scenario - one run of the scenario; {injected} when a fault fired in tallyctl */
async function scenario(ctlFaults) {
  const b = fastBuyer(stack);
  const key = `tort-${randomString(12)}`;
  /* a final clean error (502 checkout_failed is kept under the key) is
     retried as a new attempt: a new key */
  const c = await step('checkout', (i) => checkout(stack, b, { product_id: world.product.id },
    { idem: `${key}-c${i}` }));
  const paid = await confirmPi(stack, c.json.payment_intent_id);
  assert.equal(paid.status, 200, `confirm: ${JSON.stringify(paid.json)}`);
  const done = await step('complete', () => complete(stack, b, c.json.id, { idem: `${key}-p` }),
    (r) => r.status === 200);
  let ctlInjected = false;
  if (FULL) {
    await step('refund', () => adminCall(stack, world.admin, 'POST',
      `/admin/api/v1/payments/${done.json.id}/refunds`, { amount_cent: 700, reason: 'requested_by_customer' },
      { idem: `${key}-r` }), (r) => r.status === 201 || r.status === 202);
    await stack.emu('POST', '/__emu/webhooks/flush', { timeout_ms: 20000 });
    await stack.emu('POST', '/__emu/balance/release', {});
    const p = await tallyctlEnv(stack, { TALLY_FAULTS: ctlFaults }, 'payouts', 'run');
    assert.equal(p.signal, null, `tallyctl payouts run died: ${p.signal}\n${p.stderr}`);
    /* a clean failure: an exit status with a message of tallyctl's own */
    assert.ok(p.code === 0 || /^tallyctl: |"level":"(error|warn)"/m.test(p.stderr),
      `payouts run: exit ${p.code} without a message: ${p.stderr}`);
    ctlInjected = p.stderr.includes('fault injected');
  }
  return { ctlInjected };
}

/* check - after a run: converge, then money, ledger, sanitizers */
async function check(label) {
  await converge(stack);
  const dead = await deadRows(stack);
  assert.deepEqual(dead, [], `${label}: given up on`);
  const money = await moneyProblems(stack);
  assert.deepEqual(money, [], `${label}: the emulator's money != Tally's`);
  await assertLedger(stack);
  assert.deepEqual(sanitizerReports(stack), [], `${label}: sanitizer reports`);
}

/* sweep - KIND:N@PROC for N = 1, 1 + step, … until a run reaches no fault */
async function sweep(kind, proc, { stepN = 1 } = {}) {
  let n = 1;
  let injected = 0;
  let covered = 0;
  for (; n <= MAX_N * stepN; n += stepN) {
    const spec = `${kind}:${n}@${proc}`;
    const from = await restart(proc === 'tallyctl' ? '' : spec);
    const { ctlInjected } = await scenario(proc === 'tallyctl' ? spec : '');
    await check(spec);
    covered++;
    const hit = ctlInjected || stack.logText().slice(from).includes('"fault injected"');
    if (!hit) break;
    injected++;
  }
  assert.ok(n <= MAX_N * stepN, `${kind}@${proc}: still injecting at N = ${n} (TORTURE_MAX_N)`);
  points += covered;
  console.log(`torture: ${kind}@${proc}: ${covered} points, ${injected} injected, all clean`);
}

const PROCS = FULL ? ['api', 'webhook', 'admin', 'tallyctl'] : ['api', 'webhook'];
const ONLY = process.env.TORTURE_ONLY ? new RegExp(process.env.TORTURE_ONLY) : null;
for (const kind of ['db', 'stripe', 'stripe_lost']) {
  for (const proc of PROCS) {
    if (ONLY && !ONLY.test(`${kind}@${proc}`)) continue;
    test(`${kind}:N@${proc}: every call fails once, the scenario ends clean`, { timeout: 3600000 },
      () => sweep(kind, proc));
  }
}
if (FULL && (!ONLY || ONLY.test('alloc@api'))) {
  test(`alloc:N@api every ${ALLOC_STEP}th: clean answers, nothing booked twice`, { timeout: 3600000 },
    () => sweep('alloc', 'api', { stepN: ALLOC_STEP }));
}

test('figures', () => {
  console.log(`torture figures: ${points} points covered (${MODE})`);
  assert.ok(points > 0);
});
