/*
 * payouts.test.mjs - payouts of payees' earnings (core/payout.c,
 * docs/ledger.md) on the real stack, transfers at the Stripe emulator:
 * - 1 000 payees, three `tallyctl payouts run` at once: every payable
 *   cent is transferred exactly once (the emulator's transfers against
 *   the database), each payout is the sum of its rows, no row is in two
 *   payouts, below-threshold payees are not paid, per-account thresholds
 *   count;
 * - the hold period and disputed payments keep positive rows back,
 *   negative rows are netted at once;
 * - a short platform balance defers (nothing claimed), paid once funds
 *   are available;
 * - a refused transfer: payout failed, rows payable again, the payee
 *   flagged, backed off exponentially and emailed (outbox); after the
 *   backoff a success clears the flag and emails payout_sent;
 * - kill -9 of the run between the transfer and recording it: the next
 *   run finishes it with exactly one transfer; Stripe's stored 500s
 *   (after the work, or without it) end in one transfer too;
 * - payout.failed of a connected account flags and emails the payee,
 *   the ledger unchanged; transfer.reversed not made by Tally is booked
 *   (transfer_reversal rows) and raised as an alert;
 * - the balance and payouts routes of the API and the admin panel.
 *
 * Earnings are seeded with SQL (seed()): a completed checkout costs a
 * PaymentIntent, a confirmation and a completion, far too slow for 1 000
 * payees, and payouts only read share rows.  Each seeded payment keeps
 * the ledger's invariants (assertLedger runs at the end): its split
 * rows sum to its amount (payee + PLATFORM + STRIPE_FEE), an adjustment
 * is a zero-sum fee_adjustment pair; its purpose is 'seed' (no
 * checkout).  The payees of the big test are made the way connect.c
 * makes them at the emulator (Express, transfers requested, onboarded)
 * and inserted with SQL; the others go through the API and onboarding.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  assertErr, assertLedger, craftEvent, esc, makeAccount, paymentConf, postWebhook, randomString, server, sql1,
  sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { run, spawnTracked } from './lib/proc.mjs';
import { BIN, req, startStack } from './lib/stack.mjs';

const RETRY_BASE = 30;
let stack;

before(async () => {
  stack = await startStack({
    name: 'payouts', stripe: true,
    conf: paymentConf({ payouts: { hold_days: 0, lease: 2, retry_base: RETRY_BASE } }),
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

const ROLE = { talent: 'TALENT', agent: 'AGENT', ambassador: 'AMBASSADOR', host_partner: 'HOST_PARTNER' };

/* payoutsRun - one `tallyctl payouts run` (conf 'conf'): its counts */
async function payoutsRun(conf = stack.conf) {
  const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', conf, 'payouts', 'run'], { timeoutMs: 600000 });
  assert.equal(r.code, 0, `tallyctl payouts run: ${r.stderr}`);
  const m = /paid (\d+)\tfailed (\d+)\tdeferred (\d+)\tunknown (\d+)\tfinished (\d+)/.exec(r.stdout);
  assert.ok(m, `tallyctl output: ${r.stdout}`);
  const [paid, failed, deferred, unknown, finished] = m.slice(1).map(Number);
  return { paid, failed, deferred, unknown, finished, stderr: r.stderr };
}

/* inChunks - fn(chunk) for each chunk of 'size' items */
async function inChunks(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await fn(items.slice(i, i + size));
}

/* limited - fn(item) for every item, 'n' at a time; results in order */
async function limited(n, items, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

/*
 * seed - earnings by SQL (see the top of the file).  Each item: {acc,
 * kind, amount, ageDays, disputed, adjust}: one payment whose split gives
 * 'amount' to the payee (+ 200 platform, + 100 Stripe fee), created
 * 'ageDays' ago, its status 'disputed' when asked; 'adjust' > 0 adds a
 * fee_adjustment pair (-adjust on the payee, +adjust on the fee account).
 */
async function seed(items) {
  /* the SQL goes on mariadb's command line: keep each statement < 128 KiB */
  await inChunks(items, 100, async (chunk) => {
    const pays = [];
    const shares = [];
    for (const it of chunk) {
      const pay = `pay_seed${randomString(20)}`;
      const at = `NOW(3) - INTERVAL ${Number(it.ageDays ?? 0)} DAY`;
      pays.push(`(${esc(pay)}, 'seed', ${esc(`pi_seed${randomString(20)}`)}, ${it.amount + 300}, 'usd', 100, ` +
        `${esc(it.acc)}, '${it.disputed ? 'disputed' : 'succeeded'}', 'seed', ${at})`);
      const role = ROLE[it.kind ?? 'talent'];
      shares.push(`(${esc(pay)}, ${esc(it.acc)}, '${role}', 'split', ${it.amount}, 'usd', 'pending', NULL, ${at})`);
      shares.push(`(${esc(pay)}, 'acc_platform', 'PLATFORM', 'split', 200, 'usd', 'pending', NULL, ${at})`);
      shares.push(`(${esc(pay)}, 'acc_stripe_fee', 'STRIPE_FEE', 'split', 100, 'usd', 'pending', NULL, ${at})`);
      if (it.adjust) {
        shares.push(`(${esc(pay)}, ${esc(it.acc)}, '${role}', 'fee_adjustment', ${-it.adjust}, 'usd', 'pending', ` +
          `'txn_seed', NOW(3))`);
        shares.push(`(${esc(pay)}, 'acc_stripe_fee', 'STRIPE_FEE', 'fee_adjustment', ${it.adjust}, 'usd', ` +
          `'pending', 'txn_seed', NOW(3))`);
      }
    }
    await stack.sql('INSERT INTO payments (id, purpose, pi_id, amount_cent, currency, stripe_fee_estimate_cent, ' +
      `fee_bearer_account_id, status, completed_via, created_at) VALUES ${pays.join(', ')}`);
    await stack.sql('INSERT INTO shares (payment_id, account_id, role, kind, amount_cent, currency, status, ' +
      `cause_id, created_at) VALUES ${shares.join(', ')}`);
  });
}

/* setBalance - the platform's available usd at the emulator */
function setBalance(available) {
  return stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available, pending: 0 });
}

/* onboarded - a payee made through the API, connected and onboarded */
async function onboarded(kind = 'talent', extra = {}) {
  const a = await makeAccount(stack, kind, extra);
  const c = await server(stack, 'POST', `/api/v1/accounts/${a.id}/connect`);
  assert.equal(c.status, 200, c.body);
  await stack.emu('POST', `/__emu/accounts/${c.json.connect_account_id}/complete_onboarding`);
  await until(async () => (await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(a.id)}`)) === '1',
    'payouts_enabled after onboarding');
  return { ...a, acct: c.json.connect_account_id };
}

/* transfersOf - the emulator's transfers for payout 'po' (metadata) */
async function transfersOf(po) {
  return (await stack.emu('GET', '/__emu/objects/transfers')).data.filter((t) => t.metadata?.tally_id === po);
}

/* payoutsOf - the payouts of account 'acc': [{id, amount, state, transfer, gen, error}] */
async function payoutsOf(acc) {
  const rows = await stack.sql('SELECT id, amount_cent, state, IFNULL(stripe_transfer_id, \'\'), key_gen, ' +
    `IFNULL(last_error, '') FROM payouts WHERE account_id = ${esc(acc)} ORDER BY id`);
  return rows.map(([id, amount, state, transfer, gen, error]) => ({
    id, amount: Number(amount), state, transfer, gen: Number(gen), error,
  }));
}

/* pendingOf - Σ of the account's pending rows without a payout */
function pendingOf(acc) {
  return sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE status = \'pending\' AND ' +
    `payout_id IS NULL AND account_id = ${esc(acc)}`);
}

/* payoutProblems - the payout invariants over the whole database */
async function payoutProblems() {
  const p = [];
  const add = (what, rows) => { for (const r of rows) p.push(`${what}: ${r.join(' ')}`); };
  add('payout amount != its rows', await stack.sql('SELECT o.id, o.amount_cent, IFNULL(SUM(s.amount_cent), 0) ' +
    'FROM payouts o LEFT JOIN shares s ON s.payout_id = o.id AND s.kind <> \'transfer_reversal\' ' +
    "WHERE o.state <> 'failed' GROUP BY o.id, o.amount_cent HAVING IFNULL(SUM(s.amount_cent), 0) <> o.amount_cent"));
  add('row status vs payout state', await stack.sql('SELECT s.id, s.status, o.id, o.state FROM shares s ' +
    "JOIN payouts o ON o.id = s.payout_id WHERE s.kind <> 'transfer_reversal' AND NOT ((o.state = 'paid' AND " +
    "s.status = 'paid') OR (o.state IN ('to_transfer', 'unknown') AND s.status = 'claimed'))"));
  add('claimed/paid row without payout', await stack.sql(
    "SELECT id, status FROM shares WHERE status IN ('claimed', 'paid') AND payout_id IS NULL"));
  add('pending row with payout', await stack.sql(
    "SELECT id FROM shares WHERE status = 'pending' AND payout_id IS NOT NULL"));
  add('paid payout without transfer', await stack.sql(
    "SELECT id FROM payouts WHERE state = 'paid' AND stripe_transfer_id IS NULL"));
  add('payout to a non-payee', await stack.sql('SELECT o.id, a.kind FROM payouts o JOIN accounts a ON ' +
    "a.id = o.account_id WHERE a.kind NOT IN ('talent', 'agent', 'ambassador', 'host_partner')"));
  add('payout row of another account or currency', await stack.sql('SELECT s.id FROM shares s JOIN payouts o ' +
    "ON o.id = s.payout_id WHERE s.kind <> 'transfer_reversal' AND (s.account_id <> o.account_id OR " +
    's.currency <> o.currency)'));
  return p;
}

/* checkAgainstEmulator - every paid payout has exactly its transfer, nothing else was transferred */
async function checkAgainstEmulator() {
  const transfers = (await stack.emu('GET', '/__emu/objects/transfers')).data;
  const byPo = new Map();
  for (const t of transfers) {
    const po = t.metadata?.tally_id;
    assert.ok(po, `a transfer without tally_id: ${t.id}`);
    byPo.set(po, [...(byPo.get(po) ?? []), t]);
  }
  const rows = await stack.sql('SELECT id, amount_cent, connect_account_id, IFNULL(stripe_transfer_id, \'\'), state, ' +
    'currency FROM payouts');
  for (const [id, amount, acct, tr, state, cur] of rows) {
    const ts = byPo.get(id) ?? [];
    if (state === 'paid') {
      assert.equal(ts.length, 1, `payout ${id}: exactly one transfer (${ts.length})`);
      assert.deepEqual([ts[0].id, ts[0].amount, ts[0].destination, ts[0].currency, ts[0].transfer_group],
        [tr, Number(amount), acct, cur, id], `payout ${id} = its transfer`);
    } else {
      assert.equal(ts.length, 0, `payout ${id} (${state}) has no transfer`);
    }
    byPo.delete(id);
  }
  assert.deepEqual([...byPo.keys()], [], 'no transfer without a payout');
  return transfers;
}

describe('threshold payouts', () => {
  test('1 000 payees, three runs at once: every payable cent transferred exactly once', async () => {
    const N = 1000;
    const kinds = ['talent', 'agent', 'ambassador', 'host_partner'];
    const payees = Array.from({ length: N }, (_, i) => ({
      id: `acc_bulk${String(i).padStart(4, '0')}${randomString(12)}`,
      kind: kinds[i % 4],
      email: i % 3 === 0 ? `p${i}@example.test` : null,
      /* every 10th earns 5 000 (below 10 000); every 20th of those has a 4 000 threshold */
      threshold: i % 20 === 0 ? 4000 : null,
    }));
    /* connected accounts as connect.c makes them, onboarded */
    const accts = await limited(16, payees, async (p) => {
      const a = await stack.stripe('POST', '/v1/accounts', {
        type: 'express', 'capabilities[transfers][requested]': 'true', 'metadata[tally_id]': p.id,
      });
      assert.equal(a.status, 200, JSON.stringify(a.json));
      await stack.emu('POST', `/__emu/accounts/${a.json.id}/complete_onboarding`);
      return a.json.id;
    });
    await inChunks(payees.map((p, i) => ({ ...p, acct: accts[i] })), 250, (chunk) => stack.sql(
      'INSERT INTO accounts (id, kind, email, connect_account_id, charges_enabled, payouts_enabled, ' +
      `payout_threshold_cent) VALUES ${chunk.map((p) => `(${esc(p.id)}, '${p.kind}', ` +
        `${p.email ? `'${p.email}'` : 'NULL'}, ${esc(p.acct)}, 1, 1, ${p.threshold ?? 'NULL'})`).join(', ')}`));
    const items = [];
    const expect = new Map();
    payees.forEach((p, i) => {
      if (i % 10 === 0) {
        items.push({ acc: p.id, kind: p.kind, amount: 5000 });
        expect.set(p.id, p.threshold ? 5000 : 0);
        return;
      }
      const a = 6000 + ((i * 37) % 5000);
      const adjust = i % 7 === 0 ? (i % 300) + 1 : 0;
      items.push({ acc: p.id, kind: p.kind, amount: a, adjust });
      items.push({ acc: p.id, kind: p.kind, amount: 5000 });
      expect.set(p.id, a + 5000 - adjust);
    });
    await seed(items);
    const total = [...expect.values()].reduce((x, y) => x + y, 0);
    await setBalance(total + 1000000);

    const runs = await Promise.all([payoutsRun(), payoutsRun(), payoutsRun()]);
    const paidRuns = runs.map((r) => r.paid);
    const expectedPayouts = [...expect.values()].filter((v) => v > 0).length;
    assert.equal(paidRuns.reduce((x, y) => x + y, 0), expectedPayouts, `payouts made by the runs: ${paidRuns}`);
    assert.ok(paidRuns.filter((n) => n > 0).length >= 2, `the runs overlapped: ${paidRuns}`);
    for (const r of runs) assert.deepEqual([r.failed, r.unknown, r.deferred], [0, 0, 0], r.stderr);

    /* the database: one paid payout of exactly the payable sum per payee */
    const got = new Map((await stack.sql('SELECT account_id, COUNT(*), SUM(amount_cent), ' +
      "SUM(state = 'paid') FROM payouts WHERE account_id LIKE 'acc_bulk%' GROUP BY account_id"))
      .map(([acc, n, sum, paid]) => [acc, { n: Number(n), sum: Number(sum), paid: Number(paid) }]));
    for (const [acc, want] of expect) {
      const g = got.get(acc);
      if (want === 0) {
        assert.equal(g, undefined, `${acc}: below the threshold, not paid`);
        assert.equal(await pendingOf(acc), 5000, `${acc}: still pending`);
      } else {
        assert.deepEqual(g, { n: 1, sum: want, paid: 1 }, `${acc}: one payout of ${want}`);
      }
    }
    assert.equal(await sqlNum(stack, "SELECT COUNT(*) FROM shares WHERE account_id LIKE 'acc_bulk%' AND " +
      "status <> 'paid' AND NOT (amount_cent = 5000 AND payout_id IS NULL)"), 0, 'every payable row is paid');
    /* the emulator: exactly these transfers, to the right accounts */
    const transfers = await checkAgainstEmulator();
    const bulkCents = transfers.filter((t) => t.metadata.tally_account_id?.startsWith('acc_bulk'))
      .reduce((x, t) => x + t.amount, 0);
    assert.equal(bulkCents, total, 'every payable cent transferred once');
    assert.deepEqual(await payoutProblems(), []);
    /* payout_sent emails: one per paid payee with an address, none without */
    const mailed = (await stack.sql("SELECT account_id FROM outbox WHERE kind = 'payout_sent' AND " +
      "account_id LIKE 'acc_bulk%'")).map((r) => r[0]).sort();
    assert.deepEqual(mailed, payees.filter((p) => p.email && expect.get(p.id) > 0).map((p) => p.id).sort());

    /* another run finds nothing to do */
    const idle = await payoutsRun();
    assert.deepEqual([idle.paid, idle.failed, idle.deferred, idle.unknown], [0, 0, 0, 0]);
  });

  test('below the threshold nothing is paid; the hold keeps new positive rows back, negatives net at once', async () => {
    await setBalance(10000000);
    const low = await onboarded('talent');
    const own = await onboarded('agent', { payout_threshold_cent: 3000 });
    await seed([{ acc: low.id, amount: 9999 }, { acc: own.id, kind: 'agent', amount: 3500 }]);
    let r = await payoutsRun();
    assert.equal(r.paid, 1, r.stderr);
    assert.deepEqual(await payoutsOf(low.id), [], 'just below the threshold');
    assert.equal(await pendingOf(low.id), 9999);
    const [p] = await payoutsOf(own.id);
    assert.deepEqual([p.amount, p.state], [3500, 'paid'], 'the account\'s own threshold');

    /* a 3-day hold (another configuration file for this run) */
    const held = await onboarded('ambassador');
    await seed([
      { acc: held.id, kind: 'ambassador', amount: 20000, ageDays: 0 },
      { acc: held.id, kind: 'ambassador', amount: 15000, ageDays: 5, adjust: 3000 },
    ]);
    /* the adjustment pair of the old payment is new: -3000 nets at once */
    const holdConf = path.join(stack.dir, 'hold.conf');
    const text = fs.readFileSync(stack.conf, 'utf8');
    assert.match(text, /hold_days = 0/);
    fs.writeFileSync(holdConf, text.replace('hold_days = 0', 'hold_days = 3'), { mode: 0o600 });
    r = await payoutsRun(holdConf);
    assert.equal(r.paid, 1, r.stderr);
    const [h] = await payoutsOf(held.id);
    assert.equal(h.amount, 12000, 'the 5-day-old 15 000 minus the new -3 000; the new 20 000 held');
    assert.equal(await pendingOf(held.id), 20000);
    /* the row of a disputed payment stays, however old */
    const disp = await onboarded('host_partner');
    await seed([{ acc: disp.id, kind: 'host_partner', amount: 50000, ageDays: 10, disputed: true }]);
    r = await payoutsRun(holdConf);
    assert.deepEqual(await payoutsOf(disp.id), [], 'a disputed payment\'s rows are frozen');
    assert.equal(await pendingOf(disp.id), 50000);
    /* without the hold (the stack's file), the 20 000 goes */
    r = await payoutsRun();
    const hs = await payoutsOf(held.id);
    assert.deepEqual(hs.map((x) => x.amount), [12000, 20000]);
    await stack.sql(`UPDATE payments SET status = 'succeeded' WHERE id IN (SELECT payment_id FROM shares WHERE ` +
      `account_id = ${esc(disp.id)})`);
    r = await payoutsRun();
    assert.deepEqual((await payoutsOf(disp.id)).map((x) => x.amount), [50000], 'paid once the dispute is over');
    assert.deepEqual(await payoutProblems(), []);
  });

  test('a short platform balance defers the payout; it is paid once funds are available', async () => {
    const p = await onboarded('talent');
    await seed([{ acc: p.id, amount: 15000 }]);
    await setBalance(14999);
    const r1 = await payoutsRun();
    assert.equal(r1.deferred, 1, r1.stderr);
    assert.deepEqual(await payoutsOf(p.id), [], 'nothing claimed');
    assert.equal(await pendingOf(p.id), 15000, 'still payable');
    await setBalance(15000);
    const r2 = await payoutsRun();
    assert.equal(r2.paid, 1, r2.stderr);
    const [po] = await payoutsOf(p.id);
    assert.deepEqual([po.amount, po.state], [15000, 'paid']);
    assert.equal((await transfersOf(po.id)).length, 1);
    assert.equal((await stack.emu('GET', '/__emu/balance')).available.find((b) => b.currency === 'usd').amount, 0);
  });
});

describe('failures', () => {
  test('a refused transfer: failed, rows payable again, flag, email, backoff; a later success clears it', async () => {
    await setBalance(10000000);
    /* connected but not onboarded at Stripe, while Tally was told payouts are enabled */
    const a = await makeAccount(stack, 'talent', { email: 'refused@example.test' });
    const c = (await server(stack, 'POST', `/api/v1/accounts/${a.id}/connect`)).json;
    const obj = (await stack.stripe('GET', `/v1/accounts/${c.connect_account_id}`)).json;
    const ev = { ...craftEvent('account.updated', { ...obj, payouts_enabled: true }), account: obj.id };
    assert.equal((await postWebhook(stack, ev, { connect: true })).status, 200);
    assert.equal(await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(a.id)}`), '1');
    await seed([{ acc: a.id, amount: 12000 }]);

    const r1 = await payoutsRun();
    assert.equal(r1.failed, 1, r1.stderr);
    const [f] = await payoutsOf(a.id);
    assert.deepEqual([f.state, f.error], ['failed', 'insufficient_capabilities_for_transfer']);
    assert.equal(await pendingOf(a.id), 12000, 'rows back to pending, no payout_id');
    const acc = async () => {
      const [row] = await stack.sql('SELECT email_outstanding_payout, payout_failures, ' +
        `IFNULL(TIMESTAMPDIFF(SECOND, NOW(3), payout_retry_at), -1) FROM accounts WHERE id = ${esc(a.id)}`);
      return { flag: Number(row[0]), failures: Number(row[1]), wait: Number(row[2]) };
    };
    let s = await acc();
    assert.deepEqual([s.flag, s.failures], [1, 1]);
    assert.ok(s.wait > RETRY_BASE - 5 && s.wait <= RETRY_BASE, `first backoff ~${RETRY_BASE} s: ${s.wait}`);
    const mail = await stack.sql('SELECT kind, to_addr, account_id FROM outbox WHERE dedupe_key = ' +
      `${esc(`payout_failed:${f.id}`)}`);
    assert.deepEqual(mail, [['payout_failed', 'refused@example.test', a.id]], 'the payee is emailed');

    /* within the backoff nothing is tried */
    await payoutsRun();
    assert.equal((await payoutsOf(a.id)).length, 1, 'no attempt within the backoff');
    /* the backoff has passed (moved by SQL: the test does not wait 30 s): refused again, twice as long */
    await stack.sql(`UPDATE accounts SET payout_retry_at = NOW(3) WHERE id = ${esc(a.id)}`);
    const r3 = await payoutsRun();
    assert.equal(r3.failed, 1, r3.stderr);
    s = await acc();
    assert.equal(s.failures, 2);
    assert.ok(s.wait > 2 * RETRY_BASE - 5 && s.wait <= 2 * RETRY_BASE, `second backoff ~${2 * RETRY_BASE} s: ${s.wait}`);
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM outbox WHERE account_id = ${esc(a.id)} AND ` +
      "kind = 'payout_failed'"), 2, 'one email per failed payout');

    /* onboarding completes; after the backoff the payout goes and clears the flag */
    await stack.emu('POST', `/__emu/accounts/${c.connect_account_id}/complete_onboarding`);
    await stack.sql(`UPDATE accounts SET payout_retry_at = NOW(3) WHERE id = ${esc(a.id)}`);
    const r4 = await payoutsRun();
    assert.equal(r4.paid, 1, r4.stderr);
    const ps = await payoutsOf(a.id);
    assert.deepEqual(ps.map((x) => [x.state, x.amount]), [['failed', 12000], ['failed', 12000], ['paid', 12000]]);
    s = await acc();
    assert.deepEqual([s.flag, s.failures, s.wait], [0, 0, -1], 'flag and backoff cleared');
    assert.deepEqual(await stack.sql(`SELECT kind FROM outbox WHERE dedupe_key = ${esc(`payout_sent:${ps[2].id}`)}`),
      [['payout_sent']]);
    await checkAgainstEmulator();
    assert.deepEqual(await payoutProblems(), []);
  });

  test('kill -9 between the transfer and recording it: the next run finishes it, one transfer', async () => {
    await setBalance(10000000);
    const p = await onboarded('talent');
    await seed([{ acc: p.id, amount: 13000 }]);
    await stack.emu('POST', '/__emu/faults', { method: 'POST', path: '^/v1/transfers$', mode: 'hang_after', seconds: 60 });
    const out = path.join(stack.dir, 'log', 'killed-run.err');
    const child = spawnTracked(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'payouts', 'run'], { err: out });
    let po;
    try {
      po = await until(async () => (await payoutsOf(p.id))[0], 'the payout to be claimed');
      await until(async () => (await transfersOf(po.id)).length === 1, 'the transfer at Stripe');
    } finally {
      process.kill(child.pid, 'SIGKILL');
      /* the child is unref'd: a timer keeps the test alive until it is reaped */
      const keep = setInterval(() => {}, 100);
      await child.exited.finally(() => clearInterval(keep));
      await stack.emu('DELETE', '/__emu/faults');
      await stack.emu('POST', '/__emu/faults/release');
    }
    const [left] = await payoutsOf(p.id);
    assert.equal(left.state, 'to_transfer', 'the run died before recording');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE payout_id = ${esc(left.id)} AND ` +
      "status = 'claimed'"), 1);
    /* a run within the lease leaves it alone; after it, the run finishes it */
    await until(async () => Number(await sql1(stack, 'SELECT lease_until <= NOW(3) FROM payouts WHERE id = ' +
      `${esc(left.id)}`)) === 1, 'the lease to run out', 10000);
    const r = await payoutsRun();
    assert.equal(r.finished, 1, r.stderr);
    assert.equal(r.paid, 1);
    const [done] = await payoutsOf(p.id);
    assert.equal(done.state, 'paid');
    const ts = await transfersOf(done.id);
    assert.equal(ts.length, 1, 'exactly one transfer');
    assert.equal(done.transfer, ts[0].id);
    assert.deepEqual(await payoutProblems(), []);
  });

  test('Stripe stores a 500: after the work the lookup finds it; without it the next key generation makes it', async () => {
    await setBalance(10000000);
    const a = await onboarded('talent');
    const b = await onboarded('agent');
    await seed([{ acc: a.id, amount: 11000 }]);
    await stack.emu('POST', '/__emu/faults', { method: 'POST', path: '^/v1/transfers$', mode: 'error_500_after_work', count: 1 });
    let r = await payoutsRun();
    assert.equal(r.paid, 1, r.stderr);
    const [pa] = await payoutsOf(a.id);
    assert.deepEqual([pa.state, pa.gen], ['paid', 1]);
    assert.equal((await transfersOf(pa.id)).length, 1);

    await seed([{ acc: b.id, kind: 'agent', amount: 11000 }]);
    await stack.emu('POST', '/__emu/faults', { method: 'POST', path: '^/v1/transfers$', mode: 'error_500_stored', count: 1 });
    r = await payoutsRun();
    assert.equal(r.paid, 1, r.stderr);
    const [pb] = await payoutsOf(b.id);
    assert.deepEqual([pb.state, pb.gen], ['paid', 2], 'generation 2 after a stored 500 with nothing made');
    assert.equal((await transfersOf(pb.id)).length, 1);
    await stack.emu('DELETE', '/__emu/faults');
    await checkAgainstEmulator();
  });
});

describe('events', () => {
  test('payout.failed of a connected account flags and emails the payee; the ledger is unchanged', async () => {
    const p = await onboarded('talent', { email: 'bank@example.test' });
    const before = await stack.sql('SELECT COUNT(*), IFNULL(SUM(amount_cent), 0) FROM shares');
    const po = await stack.emu('POST', `/__emu/accounts/${p.acct}/fail_payout`,
      { amount: 2500, currency: 'usd', failure_code: 'account_closed' });
    await until(async () => (await sql1(stack, 'SELECT email_outstanding_payout FROM accounts WHERE id = ' +
      `${esc(p.id)}`)) === '1', 'the payee flagged');
    assert.deepEqual(await stack.sql(`SELECT kind, to_addr FROM outbox WHERE dedupe_key = ${esc(`payout_failed:${po.id}`)}`),
      [['payout_failed', 'bank@example.test']]);
    assert.deepEqual(await stack.sql('SELECT COUNT(*), IFNULL(SUM(amount_cent), 0) FROM shares'), before,
      'no share row');
    /* the platform's own payout.failed (platform endpoint) is not a payee's */
    const own = craftEvent('payout.failed', { id: `po_${randomString(24)}`, object: 'payout', amount: 100, currency: 'usd' });
    const res = await postWebhook(stack, own);
    assert.equal(res.status, 200);
    assert.equal(res.json.status, 'ignored');
  });

  test('transfer.reversed not made by Tally: the amount is payable to the payee again, an alert', async () => {
    await setBalance(10000000);
    const p = await onboarded('talent');
    await seed([{ acc: p.id, amount: 14000 }]);
    const r = await payoutsRun();
    assert.equal(r.paid, 1, r.stderr);
    const [po] = await payoutsOf(p.id);
    const rev = await stack.stripe('POST', `/v1/transfers/${po.transfer}/reversals`, { amount: '4000' });
    assert.equal(rev.status, 200, JSON.stringify(rev.json));
    const rows = () => stack.sql('SELECT account_id, role, amount_cent, status, IFNULL(payout_id, \'\') FROM shares ' +
      `WHERE kind = 'transfer_reversal' AND cause_id = ${esc(rev.json.id)} ORDER BY amount_cent`);
    await until(async () => (await rows()).length === 2, 'the reversal booked');
    assert.deepEqual(await rows(), [
      [p.id, 'TALENT', '-4000', 'paid', po.id],
      [p.id, 'TALENT', '4000', 'pending', ''],
    ]);
    assert.equal(await sqlNum(stack, `SELECT reversed_cent FROM payouts WHERE id = ${esc(po.id)}`), 4000);
    const alert = await stack.waitForLog((l) => /ALERT: a transfer was reversed outside Tally/.test(l.msg ?? '') &&
      JSON.stringify(l).includes(rev.json.id), { what: 'the operator alert' });
    assert.equal(alert.level, 'alert');
    const bal = await server(stack, 'GET', `/api/v1/accounts/${p.id}/balance`);
    const usd = bal.json.balances.find((b) => b.currency === 'usd');
    assert.equal(usd.paid_cent, 10000, 'paid less what came back');
    assert.equal(usd.payable_cent, 4000, 'what came back is payable again');
    /* a second reversal is booked too; a redelivered event books nothing new */
    const rev2 = await stack.stripe('POST', `/v1/transfers/${po.transfer}/reversals`, { amount: '1000' });
    await until(async () => Number(await sql1(stack, `SELECT reversed_cent FROM payouts WHERE id = ${esc(po.id)}`)) ===
      5000, 'the second reversal');
    const tr = (await stack.stripe('GET', `/v1/transfers/${po.transfer}`)).json;
    const again = craftEvent('transfer.reversed', tr);
    assert.equal((await postWebhook(stack, again)).status, 200);
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE kind = 'transfer_reversal' AND cause_id IN ` +
      `(${esc(rev.json.id)}, ${esc(rev2.json.id)})`), 4, 'each reversal booked once');
    assert.equal(await sqlNum(stack, `SELECT reversed_cent FROM payouts WHERE id = ${esc(po.id)}`), 5000);
    assert.deepEqual(await payoutProblems(), []);
  });
});

describe('routes', () => {
  test('balance and payouts: server and admin, 401 without credentials, 404 unknown, pagination', async () => {
    await setBalance(10000000);
    const p = await onboarded('talent');
    await seed([{ acc: p.id, amount: 10000 }]);
    await payoutsRun();
    await seed([{ acc: p.id, amount: 10500 }]);
    await payoutsRun();
    await seed([{ acc: p.id, amount: 700 }, { acc: p.id, amount: 400, adjust: 900 }]);
    const bal = await server(stack, 'GET', `/api/v1/accounts/${p.id}/balance`);
    assert.equal(bal.status, 200, bal.body);
    assert.deepEqual(bal.json.balances, [{
      currency: 'usd', pending_cent: 0, payable_cent: 200, owed_back_cent: 0, in_transit_cent: 0, paid_cent: 20500,
      advance_balance_cent: 0,
    }]);
    /* a payee owing back */
    const q = await onboarded('agent');
    await seed([{ acc: q.id, kind: 'agent', amount: 100, adjust: 400 }]);
    const owes = await server(stack, 'GET', `/api/v1/accounts/${q.id}/balance`);
    assert.deepEqual(owes.json.balances[0], {
      currency: 'usd', pending_cent: 0, payable_cent: 0, owed_back_cent: 300, in_transit_cent: 0, paid_cent: 0,
      advance_balance_cent: 0,
    });

    const page1 = await server(stack, 'GET', `/api/v1/accounts/${p.id}/payouts?limit=1`);
    assert.equal(page1.status, 200, page1.body);
    assert.equal(page1.json.object, 'list');
    assert.equal(page1.json.has_more, true);
    assert.equal(page1.json.data[0].amount_cent, 10500);
    assert.equal(page1.json.data[0].state, 'paid');
    assert.match(page1.json.data[0].transfer_id, /^tr_/);
    const page2 = await server(stack, 'GET',
      `/api/v1/accounts/${p.id}/payouts?limit=1&starting_after=${page1.json.data[0].id}`);
    assert.deepEqual([page2.json.data.length, page2.json.data[0].amount_cent, page2.json.has_more], [1, 10000, false]);

    for (const route of ['balance', 'payouts']) {
      const anon = await req(stack, 'GET', `/api/v1/accounts/${p.id}/${route}`);
      assert.equal(anon.status, 401, `${route} without a key: ${anon.body}`);
      assert.equal(anon.json.error.type, 'authentication_error');
      assertErr(await server(stack, 'GET', `/api/v1/accounts/acc_nope/${route}`), 404, 'resource_missing', 'id');
    }
    assertErr(await server(stack, 'GET', `/api/v1/accounts/${p.id}/payouts?limit=0`), 400, 'parameter_invalid');

    /* the admin panel, any role */
    await stack.createAdmin('payview', 'viewer', 'correct horse battery staple 9');
    const s = await stack.adminLogin('payview', 'correct horse battery staple 9');
    assert.equal(s.status, 200);
    const cookie = { Cookie: `tally_session=${s.cookie}` };
    const ab = await req(stack, 'GET', `/admin/api/v1/accounts/${p.id}/balance`, { headers: cookie });
    assert.equal(ab.status, 200, ab.body);
    assert.deepEqual(ab.json.balances, bal.json.balances);
    const ap = await req(stack, 'GET', `/admin/api/v1/accounts/${p.id}/payouts`, { headers: cookie });
    assert.deepEqual(ap.json.data.map((x) => x.amount_cent), [10500, 10000]);
    assert.equal(ap.json.url, `/admin/api/v1/accounts/${p.id}/payouts`);
    const noCookie = await req(stack, 'GET', `/admin/api/v1/accounts/${p.id}/balance`);
    assert.equal(noCookie.status, 401);
    const key = await req(stack, 'GET', `/admin/api/v1/accounts/${p.id}/balance`,
      { headers: { Authorization: `Bearer ${await stack.apiKey()}` } });
    assert.ok([401, 403].includes(key.status), `an API key is not an admin: ${key.status}`);
    assert.equal((await req(stack, 'GET', '/admin/api/v1/accounts/acc_nope/payouts', { headers: cookie })).status, 404);
  });

  test('the payouts job of tallyd pays too', async () => {
    await setBalance(10000000);
    const p = await onboarded('host_partner');
    await seed([{ acc: p.id, kind: 'host_partner', amount: 25000 }]);
    await stack.rewriteConf({ 'job.payouts': { interval: 1 } });
    await stack.reload();
    await until(async () => (await payoutsOf(p.id)).some((x) => x.state === 'paid'), 'the job to pay', 30000);
    await stack.rewriteConf({ 'job.payouts': null });
    await stack.reload();
    await checkAgainstEmulator();
    assert.deepEqual(await payoutProblems(), []);
  });
});
