/*
 * advances.test.mjs - advances to payees (core/advance.c, docs/ledger.md
 * "Advances") on the real stack, transfers at the Stripe emulator:
 * - the grant: finance grants, support / viewer / no CSRF get 403, an
 *   unknown account 404, a payee not onboarded 422, a bad amount 400;
 *   exactly one transfer with the advance's metadata; the same
 *   Idempotency-Key again replays the first answer (201), and once the
 *   stored answer is gone the advance's row still answers (no second
 *   transfer); with another body 422, from the router and from the row;
 *   the list and the balance routes;
 *   the audit row;
 * - later earnings offset it (advance_offset rows, balance = granted -
 *   offset) and the payout pays only what is left;
 * - ten completions at once for the same talent offset an advance of
 *   3 000 exactly, never more;
 * - a refund of an offset payment gives the offset back in proportion
 *   (advance_return rows), all of it when refunded in full;
 * - Stripe refusing the transfer (balance too low): failed, 422,
 *   nothing offset later;
 * - no answer (a stored 500 after the work, the lookup failing too):
 *   202 'unknown', finished by the payouts run with exactly one transfer
 *   (`tallyctl payouts run` prints "advances 1", the next run 0); an
 *   answer that hangs past the timeout: the same key again is replayed;
 *   a stored 500 with nothing made: generation 2 makes it, once.
 * Ends with assertLedger (which runs `tallyctl check`).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
  assertErr, assertLedger, complete, esc, flush, makeAccount, makeProduct, newBuyer, okCheckout, paid,
  paymentConf, server, sql1, sqlNum, until, withPausedWebhooks,
} from './lib/checkout_helpers.mjs';
import { run } from './lib/proc.mjs';
import { BIN, randomString, req, startStack } from './lib/stack.mjs';

let stack;
const admins = {};

before(async () => {
  stack = await startStack({
    name: 'advances', stripe: true,
    conf: paymentConf({ payouts: { hold_days: 0, lease: 2 } }),
  });
  for (const role of ['viewer', 'support', 'finance']) {
    const pw = `${role}-${randomString(16)}`;
    await stack.createAdmin(`${role}1`, role, pw);
    const s = await stack.adminLogin(`${role}1`, pw);
    assert.equal(s.status, 200, `${role} login`);
    admins[role] = s;
  }
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) {
      await flush(stack);
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

/* admin - a call as admin 's' (with its CSRF token unless csrf: false) */
function admin(s, method, p, json, { csrf = true, idem } = {}) {
  const headers = { Cookie: `tally_session=${s.cookie}` };
  if (csrf) headers['X-CSRF-Token'] = s.csrf;
  if (idem) headers['Idempotency-Key'] = idem;
  return req(stack, method, p, { headers, json, timeoutMs: 60000 });
}

function grant(s, body, opts) {
  return admin(s, 'POST', '/admin/api/v1/advances', body, opts);
}

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

/* transfersOf - the emulator's transfers made for Tally object 'id' */
async function transfersOf(id) {
  return (await stack.emu('GET', '/__emu/objects/transfers')).data.filter((t) => t.metadata?.tally_id === id);
}

/* advRow - the advance as stored */
async function advRow(id) {
  const [[state, granted, offset, gen, tr]] = await stack.sql('SELECT state, granted_cent, offset_cent, key_gen, ' +
    `IFNULL(stripe_transfer_id, '') FROM advances WHERE id = ${esc(id)}`);
  return { state, granted: Number(granted), offset: Number(offset), gen: Number(gen), transfer: tr };
}

/*
 * offsetRows - Σ of the ADVANCE_OFFSET rows of advance 'id' on the payee /
 * the platform, and how many there are besides the advance_fee pairs
 * (those exist only when a payment's real fee came after its completion:
 * see earning)
 */
async function offsetRows(id) {
  const [[payee, platform, n]] = await stack.sql('SELECT IFNULL(SUM(IF(account_id <> \'acc_platform\', ' +
    'amount_cent, 0)), 0), IFNULL(SUM(IF(account_id = \'acc_platform\', amount_cent, 0)), 0), ' +
    'IFNULL(SUM(kind <> \'advance_fee\'), 0) FROM shares ' +
    `WHERE role = 'ADVANCE_OFFSET' AND cause_id = ${esc(id)}`);
  return { payee: Number(payee), platform: Number(platform), n: Number(n) };
}

/*
 * earning - the payee's earning in payment 'pay': its split rows and the
 * fee adjustment.  Read it once the fee is settled (feeSettled): the
 * adjustment is booked with the completion when Stripe's fee is known
 * then (the client's completion, which reads the balance transaction),
 * else by charge.updated later (the webhook's completion of
 * payment_intent.succeeded, which can win the race with the client's),
 * and the offset follows it then (tly_advance_refee).  Earning and
 * offset agree before and after that event, not across it.
 */
function earning(pay, acc) {
  return sqlNum(stack, `SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE payment_id = ${esc(pay)} AND ` +
    `account_id = ${esc(acc)} AND kind IN ('split', 'fee_adjustment')`);
}

/* feeSettled - until payment 'pay''s real Stripe fee is booked */
function feeSettled(pay) {
  return until(async () => (await sqlNum(stack, 'SELECT stripe_fee_actual_cent IS NOT NULL FROM payments WHERE ' +
    `id = ${esc(pay)}`)) === 1, `the real fee of ${pay}`);
}

/* offsetIn - what payment 'pay' offset of the payee's advances (>= 0) */
function offsetIn(pay, acc) {
  return sqlNum(stack, `SELECT IFNULL(-SUM(amount_cent), 0) FROM shares WHERE payment_id = ${esc(pay)} AND ` +
    `account_id = ${esc(acc)} AND role = 'ADVANCE_OFFSET'`);
}

/* checkoutFor - a paid checkout of 'product' (not completed yet) */
async function checkoutFor(product) {
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id });
  await paid(stack, c.payment_intent_id);
  return { b, c };
}

/* buy - a completed purchase of 'product', its real fee booked: the payment's id */
async function buy(product) {
  const { b, c } = await checkoutFor(product);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await feeSettled(r.json.id);
  return r.json.id;
}

/* payoutsRun - one `tallyctl payouts run` */
async function payoutsRun() {
  const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'payouts', 'run'], { timeoutMs: 120000 });
  assert.equal(r.code, 0, `tallyctl payouts run: ${r.stderr}`);
  return r;
}

describe('granting an advance', () => {
  test('roles, CSRF, validation; one transfer with its metadata; Idempotency-Key; list, balance, audit', async () => {
    await setBalance(10000000);
    const t = await onboarded('talent');
    const body = { account_id: t.id, amount_cent: 3000, note: 'signing bonus' };
    assertErr(await grant(admins.support, body), 403, 'role_required');
    assertErr(await grant(admins.viewer, body), 403, 'role_required');
    assertErr(await grant(admins.finance, body, { csrf: false }), 403, 'csrf_failed');
    assertErr(await grant(admins.finance, { ...body, account_id: 'acc_nosuchaccount' }), 404, 'resource_missing',
      'account_id');
    const fresh = await makeAccount(stack, 'talent');
    assertErr(await grant(admins.finance, { ...body, account_id: fresh.id }), 422, 'payee_not_onboarded',
      'account_id');
    assertErr(await grant(admins.finance, { ...body, account_id: 'acc_platform' }), 422, 'account_not_payee',
      'account_id');
    assertErr(await grant(admins.finance, { ...body, amount_cent: 0 }), 400, 'parameter_invalid', 'amount_cent');
    assertErr(await grant(admins.finance, { ...body, amount_cent: -5 }), 400, 'parameter_invalid', 'amount_cent');
    assertErr(await grant(admins.finance, { ...body, currency: 'xyz' }), 400, 'parameter_invalid', 'currency');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM advances WHERE account_id IN (${esc(t.id)}, ` +
      `${esc(fresh.id)})`), 0, 'nothing refused was recorded');

    const key = `adv-${randomString(12)}`;
    const r = await grant(admins.finance, body, { idem: key });
    assert.equal(r.status, 201, r.body);
    const a = r.json;
    assert.equal(a.object, 'advance');
    assert.match(a.id, /^adv_/);
    assert.deepEqual([a.account_id, a.amount_cent, a.offset_cent, a.balance_cent, a.currency, a.state, a.note],
      [t.id, 3000, 0, 3000, 'usd', 'transferred', 'signing bonus']);
    assert.match(a.transfer_id, /^tr_/);
    const ts = await transfersOf(a.id);
    assert.equal(ts.length, 1, 'exactly one transfer');
    assert.deepEqual([ts[0].id, ts[0].amount, ts[0].currency, ts[0].destination, ts[0].transfer_group],
      [a.transfer_id, 3000, 'usd', t.acct, a.id]);
    /* the same key again: the same advance, no second transfer; another body: 422 */
    const again = await grant(admins.finance, body, { idem: key });
    assert.equal(again.status, 201, again.body);
    assert.equal(again.headers.get('idempotent-replayed'), 'true', 'the first answer, replayed');
    assert.equal(again.json.id, a.id);
    /* the stored answer gone (expired, or a 5xx not kept): the advance keeps the key */
    await stack.sql(`DELETE FROM idempotency_keys WHERE idem_key = ${esc(key)}`);
    const third = await grant(admins.finance, body, { idem: key });
    assert.equal(third.status, 201, third.body);
    assert.equal(third.headers.get('idempotent-replayed'), null, 'answered from the advance\'s row');
    assert.equal(third.json.id, a.id);
    assert.equal((await transfersOf(a.id)).length, 1);
    assertErr(await grant(admins.finance, { ...body, amount_cent: 3001 }, { idem: key }), 422,
      'idempotency_key_reused');
    await stack.sql(`DELETE FROM idempotency_keys WHERE idem_key = ${esc(key)}`);
    assertErr(await grant(admins.finance, { ...body, amount_cent: 3002 }, { idem: key }), 422,
      'idempotency_key_reused', undefined, 'the advance\'s row keeps the fingerprint');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM advances WHERE account_id = ${esc(t.id)}`), 1);

    const list = await admin(admins.viewer, 'GET', `/admin/api/v1/advances?account_id=${t.id}`);
    assert.equal(list.status, 200, list.body);
    assert.deepEqual(list.json.data.map((x) => [x.id, x.state, x.amount_cent, x.balance_cent, x.granted_by]),
      [[a.id, 'transferred', 3000, 3000, 'finance1']]);
    assertErr(await admin(admins.viewer, 'GET', '/admin/api/v1/advances?account_id=acc_nosuch'), 404,
      'resource_missing', 'account_id');
    const bal = await admin(admins.viewer, 'GET', `/admin/api/v1/accounts/${t.id}/balance`);
    assert.equal(bal.status, 200, bal.body);
    assert.deepEqual(bal.json.balances.map((x) => [x.currency, x.advance_balance_cent, x.payable_cent]),
      [['usd', 3000, 0]]);
    assert.deepEqual(await stack.sql('SELECT actor_id IS NOT NULL, action FROM audit_log WHERE object_id = ' +
      `${esc(a.id)} ORDER BY id`), [['1', 'advance.grant'], ['0', 'advance.transferred']]);
  });
});

describe('offsets', () => {
  test('later earnings offset the advance; the payout pays only what is left', async () => {
    await setBalance(10000000);
    const t = await onboarded('talent', { payout_threshold_cent: 100 });
    const product = await makeProduct(stack, { seller_account_id: t.id, price_cent: 1000 });
    const r = await grant(admins.finance, { account_id: t.id, amount_cent: 1500, note: 'advance' });
    assert.equal(r.status, 201, r.body);
    const adv = r.json.id;
    const p1 = await buy(product);
    const e1 = await earning(p1, t.id);
    assert.ok(e1 > 0 && e1 < 1500, `earning ${e1}`);
    assert.equal(await offsetIn(p1, t.id), e1, 'the whole first earning recovers the advance');
    assert.deepEqual(await advRow(adv), { state: 'transferred', granted: 1500, offset: e1, gen: 1,
      transfer: r.json.transfer_id });
    const p2 = await buy(product);
    const e2 = await earning(p2, t.id);
    assert.equal(await offsetIn(p2, t.id), 1500 - e1, 'only what was left of the advance');
    assert.deepEqual(await offsetRows(adv), { payee: -1500, platform: 1500, n: 4 });
    assert.equal((await advRow(adv)).offset, 1500);
    const list = await admin(admins.viewer, 'GET', `/admin/api/v1/advances?account_id=${t.id}`);
    assert.deepEqual(list.json.data.map((x) => [x.offset_cent, x.balance_cent]), [[1500, 0]]);
    /* a third payment: nothing left to offset */
    const p3 = await buy(product);
    const e3 = await earning(p3, t.id);
    assert.equal(await offsetIn(p3, t.id), 0);
    await flush(stack);
    await payoutsRun();
    const [[po, amount, state]] = await stack.sql('SELECT id, amount_cent, state FROM payouts WHERE account_id = ' +
      `${esc(t.id)}`);
    assert.equal(state, 'paid');
    assert.equal(Number(amount), e1 + e2 + e3 - 1500, 'earnings less the advance');
    const ts = await transfersOf(po);
    assert.deepEqual(ts.map((x) => x.amount), [Number(amount)]);
  });

  test('advance offset under concurrent completions: ten at once offset exactly 3 000, payout runs meanwhile', async () => {
    await setBalance(10000000);
    const t = await onboarded('talent', { payout_threshold_cent: 100 });
    const product = await makeProduct(stack, { seller_account_id: t.id, price_cent: 1000 });
    const r = await grant(admins.finance, { account_id: t.id, amount_cent: 3000, note: 'concurrent' });
    assert.equal(r.status, 201, r.body);
    const adv = r.json.id;
    const pays = await withPausedWebhooks(stack, async () => {
      const cs = [];
      for (let i = 0; i < 10; i++) cs.push(await checkoutFor(product));
      /* two payout runs lock the payee's account row meanwhile: no deadlock */
      const [res] = await Promise.all([Promise.all(cs.map(({ b, c }) => complete(stack, b, c.id))),
        payoutsRun(), payoutsRun()]);
      for (const x of res) assert.equal(x.status, 200, x.body);
      return res.map((x) => x.json.id);
    });
    await flush(stack);
    await payoutsRun();
    let total = 0;
    let offsetting = 0;
    for (const pay of pays) {
      await feeSettled(pay);
      const o = await offsetIn(pay, t.id);
      const e = await earning(pay, t.id);
      assert.ok(o >= 0 && o <= e, `payment ${pay}: offset ${o} of earning ${e}`);
      total += o;
      if (o > 0) offsetting++;
    }
    assert.equal(total, 3000, 'exactly the advance, never more');
    const e = await earning(pays[0], t.id);
    assert.equal(offsetting, Math.ceil(3000 / e), 'each offsetting payment took all it could');
    assert.deepEqual(await offsetRows(adv), { payee: -3000, platform: 3000, n: 2 * offsetting });
    assert.equal((await advRow(adv)).offset, 3000);
    /* what was paid out is the earnings less the advance, nothing more */
    let earned = 0;
    for (const pay of pays) earned += await earning(pay, t.id);
    const paidOut = await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM payouts WHERE state = \'paid\' ' +
      `AND account_id = ${esc(t.id)}`);
    assert.equal(paidOut + await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE status = ' +
      `'pending' AND account_id = ${esc(t.id)}`), earned - 3000);
    assert.ok(paidOut > 0, 'the last run paid what was left');
  });

  test('a refund of an offset payment gives the offset back in proportion, all of it in full', async () => {
    await setBalance(10000000);
    const t = await onboarded('talent');
    const product = await makeProduct(stack, { seller_account_id: t.id, price_cent: 1000 });
    const r = await grant(admins.finance, { account_id: t.id, amount_cent: 5000, note: 'refund case' });
    assert.equal(r.status, 201, r.body);
    const adv = r.json.id;
    const pay = await buy(product);
    const o = await offsetIn(pay, t.id);
    const amount = await sqlNum(stack, `SELECT amount_cent FROM payments WHERE id = ${esc(pay)}`);
    assert.equal(o, await earning(pay, t.id));
    assert.equal((await advRow(adv)).offset, o);
    const refund = async (amt) => {
      const x = await admin(admins.finance, 'POST', `/admin/api/v1/payments/${pay}/refunds`,
        amt ? { amount_cent: amt, reason: 'test' } : { reason: 'test' });
      assert.equal(x.status, 201, x.body);
      await flush(stack);
      await until(async () => (await sqlNum(stack, 'SELECT COUNT(*) FROM refunds WHERE payment_id = ' +
        `${esc(pay)} AND booked = 0`)) === 0, 'the refund booked');
    };
    await refund(333);
    const kept = o - Math.floor((o * 333) / amount);
    assert.equal(await offsetIn(pay, t.id), kept, 'O - floor(O × C / A) still offset');
    assert.equal((await advRow(adv)).offset, kept, 'the advance grows back by what was given back');
    assert.equal(await sqlNum(stack, `SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE payment_id = ${esc(pay)} ` +
      "AND kind = 'refund'"), -333, 'the refund rows still sum to the refund');
    await refund(null);
    assert.equal(await offsetIn(pay, t.id), 0, 'nothing offset after a full refund');
    assert.deepEqual(await advRow(adv), { state: 'transferred', granted: 5000, offset: 0, gen: 1,
      transfer: r.json.transfer_id });
    assert.deepEqual(await offsetRows(adv), { payee: 0, platform: 0, n: 6 });
    /* the payee keeps nothing of this payment and owes only the Stripe fee it bears (kept by Stripe) */
    assert.equal(await sqlNum(stack, `SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE payment_id = ${esc(pay)} ` +
      `AND account_id = ${esc(t.id)}`), await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
      `payment_id = ${esc(pay)} AND role = 'STRIPE_FEE_KEPT'`), 'the payee is charged nothing twice');
  });
});

describe('Stripe', () => {
  test('Stripe refuses the transfer: failed, 422, nothing offset later', async () => {
    const t = await onboarded('talent');
    await setBalance(100);
    let r;
    try {
      r = await grant(admins.finance, { account_id: t.id, amount_cent: 5000, note: 'too much' });
    } finally {
      await setBalance(10000000);
    }
    assertErr(r, 422, 'transfer_refused');
    const [[id]] = await stack.sql(`SELECT id FROM advances WHERE account_id = ${esc(t.id)}`);
    const row = await advRow(id);
    assert.deepEqual([row.state, row.offset, row.transfer], ['failed', 0, '']);
    assert.equal((await transfersOf(id)).length, 0);
    const product = await makeProduct(stack, { seller_account_id: t.id, price_cent: 1000 });
    const pay = await buy(product);
    assert.equal(await offsetIn(pay, t.id), 0, 'a failed advance is not offset');
    const list = await admin(admins.viewer, 'GET', `/admin/api/v1/advances?account_id=${t.id}`);
    assert.deepEqual(list.json.data.map((x) => [x.state, x.balance_cent, x.failure_code !== null]),
      [['failed', 0, true]]);
  });

  test('no answer: unknown, finished by the payouts run with exactly one transfer', async () => {
    await setBalance(10000000);
    const t = await onboarded('talent');
    /* the transfer is made but answered 500, and its lookup fails too */
    await stack.emu('POST', '/__emu/faults', { method: 'POST', path: '^/v1/transfers$', mode: 'error_500_after_work',
      count: 1 });
    await stack.emu('POST', '/__emu/faults', { method: 'GET', path: '^/v1/transfers$', mode: 'error_500_stored',
      count: 50, status: 503 });
    let r;
    try {
      r = await grant(admins.finance, { account_id: t.id, amount_cent: 2000, note: 'unknown' });
    } finally {
      await stack.emu('DELETE', '/__emu/faults');
    }
    assert.equal(r.status, 202, `accepted, Stripe's answer not known: ${r.body}`);
    assert.equal(r.json.state, 'unknown');
    assert.equal(r.json.balance_cent, 0, 'not counted before it is known');
    const id = r.json.id;
    assert.equal((await transfersOf(id)).length, 1, 'Stripe made it');
    /* a payment meanwhile offsets nothing: the advance is not known to be transferred */
    const product = await makeProduct(stack, { seller_account_id: t.id, price_cent: 1000 });
    const pay = await buy(product);
    assert.equal(await offsetIn(pay, t.id), 0);
    await until(async () => Number(await sql1(stack, 'SELECT lease_until <= NOW(3) FROM advances WHERE id = ' +
      `${esc(id)}`)) === 1, 'the lease to run out', 10000);
    const out = await payoutsRun();
    assert.match(out.stdout, /\tadvances 1(\t|$)/m, `the run counts the advance it finished: ${out.stdout}`);
    const row = await advRow(id);
    const ts = await transfersOf(id);
    assert.equal(ts.length, 1, 'exactly one transfer');
    assert.deepEqual([row.state, row.transfer, row.gen], ['transferred', ts[0].id, 1]);
    assert.match((await payoutsRun()).stdout, /\tadvances 0(\t|$)/m, 'nothing left to finish');
    /* and the next earning offsets it */
    const pay2 = await buy(product);
    assert.equal(await offsetIn(pay2, t.id), await earning(pay2, t.id));
  });

  test('the answer hangs past the timeout: the same key again is replayed, exactly one transfer', async () => {
    await setBalance(10000000);
    const t = await onboarded('ambassador');
    /* [stripe] timeout_ms is 5 000 in the test stacks */
    await stack.emu('POST', '/__emu/faults', { method: 'POST', path: '^/v1/transfers$', mode: 'hang_after',
      seconds: 8, count: 1 });
    let r;
    try {
      r = await grant(admins.finance, { account_id: t.id, amount_cent: 900, note: 'hang' });
    } finally {
      await stack.emu('DELETE', '/__emu/faults');
      await stack.emu('POST', '/__emu/faults/release');
    }
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.state, 'transferred');
    const ts = await transfersOf(r.json.id);
    assert.equal(ts.length, 1, 'exactly one transfer');
    assert.deepEqual([ts[0].id, (await advRow(r.json.id)).gen], [r.json.transfer_id, 1]);
  });

  test('a stored 500 with nothing made: the next key generation makes exactly one transfer', async () => {
    await setBalance(10000000);
    const t = await onboarded('agent');
    await stack.emu('POST', '/__emu/faults', { method: 'POST', path: '^/v1/transfers$', mode: 'error_500_stored',
      count: 1 });
    let r;
    try {
      r = await grant(admins.finance, { account_id: t.id, amount_cent: 700, note: 'g2' });
    } finally {
      await stack.emu('DELETE', '/__emu/faults');
    }
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.state, 'transferred');
    const row = await advRow(r.json.id);
    assert.equal(row.gen, 2, 'generation 2 after a stored 500');
    assert.equal((await transfersOf(r.json.id)).length, 1);
  });
});
