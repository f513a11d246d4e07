/*
 * reversals.test.mjs - transfer reversals Tally makes itself ([payouts]
 * reverse_transfers = on; core/recover.c, docs/ledger.md "Transfer
 * reversals") and Dashboard reversals of an advance's transfer, on the
 * real stack with real purchases, admin refunds and payout runs at the
 * Stripe emulator:
 * - a partial refund after the payout: the next run reverses exactly
 *   what is owed from the payout's transfer (one reversal at the
 *   emulator with Tally's metadata); owed back 0, paid reduced; the
 *   transfer.reversed event (and a redelivery) books nothing more and
 *   raises no alert; a further run reverses nothing;
 * - owed more than the latest transfer: spread over the older ones,
 *   newest first;
 * - Stripe refusing the reversal (the connected account's balance is
 *   empty): failed, the inverse rows, the amount stays owed back, and a
 *   later payment's earnings net it (its payout is the net);
 * - a 500 after the work: the reversal is found by its metadata and
 *   recorded, never made twice;
 * - two runs at once reverse once;
 * - a Dashboard reversal of an advance's transfer: what the advance has
 *   left is reversed; the part earnings had already recovered returns to
 *   the payee as payable (advance_reversal rows), an alert; a redelivered
 *   event books nothing more.
 * Off by default: tests/system/owed_back.test.mjs (default config) keeps
 * netting the owed amount from later earnings with no reversal.
 * assertLedger (which runs `tallyctl check`) after each test.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
  assertLedger, complete, craftEvent, esc, flush, makeAccount, makeProduct, newBuyer, okCheckout, paid,
  paymentConf, postWebhook, server, sql1, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { run } from './lib/proc.mjs';
import { BIN, randomString, req, startStack } from './lib/stack.mjs';

let stack;
let finance;

before(async () => {
  stack = await startStack({
    name: 'reversals', stripe: true,
    conf: paymentConf({ payouts: { hold_days: 0, reverse_transfers: 'on', lease: 2 } }),
  });
  const pw = `finance-${randomString(16)}`;
  await stack.createAdmin('finance1', 'finance', pw);
  finance = await stack.adminLogin('finance1', pw);
  assert.equal(finance.status, 200, 'finance login');
  await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 100000000, pending: 0 });
});
afterEach(async (t) => {
  stack?.noteTest(t);
  if (stack) {
    await flush(stack);
    await assertLedger(stack);
  }
});
after(async () => {
  await stack?.stop();
});

/* payoutsRun - one `tallyctl payouts run`: its counts */
async function payoutsRun() {
  const r = await run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', stack.conf, 'payouts', 'run'],
    { timeoutMs: 120000 });
  assert.equal(r.code, 0, `tallyctl payouts run: ${r.stderr}`);
  /* "name N" pairs, tab-separated, whatever their order */
  const n = {};
  for (const [, k, v] of r.stdout.matchAll(/([a-z_]+) (\d+)/g))
    n[k] = Number(v);
  for (const k of ['paid', 'failed', 'deferred', 'unknown', 'finished', 'reversed', 'reversal_failed'])
    assert.ok(k in n, `tallyctl output has ${k}: ${r.stdout}`);
  return { paid: n.paid, failed: n.failed, deferred: n.deferred, unknown: n.unknown, finished: n.finished,
    reversed: n.reversed, reversalFailed: n.reversal_failed, stderr: r.stderr };
}

/* onboarded - a talent with a connected account, onboarded */
async function onboarded() {
  const a = await makeAccount(stack, 'talent', { email: `t-${randomString(6)}@example.test` });
  const c = await server(stack, 'POST', `/api/v1/accounts/${a.id}/connect`);
  assert.equal(c.status, 200, c.body);
  await stack.emu('POST', `/__emu/accounts/${c.json.connect_account_id}/complete_onboarding`);
  await until(async () => (await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(a.id)}`)) === '1',
    'payouts_enabled');
  return { ...a, acct: c.json.connect_account_id };
}

/* buy - one completed purchase of a product of 'talent' at 'price' */
async function buy(talent, price) {
  const product = await makeProduct(stack, { seller_account_id: talent.id, price_cent: price });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);			/* charge.updated: the real fee */
  return r.json;
}

/* refund - an admin refund of 'amount' (undefined: all) of payment 'pay', booked */
async function refund(pay, amount) {
  const before0 = await sqlNum(stack, `SELECT refunded_cent FROM payments WHERE id = ${esc(pay)}`);
  const r = await req(stack, 'POST', `/admin/api/v1/payments/${pay}/refunds`, {
    headers: { Cookie: `tally_session=${finance.cookie}`, 'X-CSRF-Token': finance.csrf },
    json: amount === undefined ? { reason: 'requested_by_customer' } :
      { reason: 'requested_by_customer', amount_cent: amount },
  });
  assert.equal(r.status, 201, r.body);
  await until(async () => (await sqlNum(stack, `SELECT refunded_cent FROM payments WHERE id = ${esc(pay)}`)) >
    before0, 'the refund booked');
}

/* balance - the account's usd balance from the API */
async function balance(acc) {
  const r = await server(stack, 'GET', `/api/v1/accounts/${acc}/balance`);
  assert.equal(r.status, 200, r.body);
  return r.json.balances.find((b) => b.currency === 'usd');
}

/* payouts - the paid payouts of 'acc', oldest first */
async function payouts(acc) {
  const rows = await stack.sql('SELECT id, amount_cent, reversed_cent, stripe_transfer_id FROM payouts WHERE ' +
    `account_id = ${esc(acc)} AND state = 'paid' ORDER BY paid_at, id`);
  return rows.map(([id, amount, reversed, transfer]) => ({
    id, amount: Number(amount), reversed: Number(reversed), transfer,
  }));
}

/* emuReversals - the emulator's reversals of transfer 'tr' */
async function emuReversals(tr) {
  return (await stack.emu('GET', '/__emu/objects/transfer_reversals')).data.filter((x) => x.transfer === tr);
}

/* revRows - Tally's reversal rows of payout 'po' */
async function revRows(po) {
  const rows = await stack.sql('SELECT id, origin, state, amount_cent, IFNULL(stripe_reversal_id, \'\'), ' +
    `IFNULL(last_error, ''), key_gen FROM transfer_reversals WHERE payout_id = ${esc(po)} ORDER BY created_at, id`);
  return rows.map(([id, origin, state, amount, trr, error, gen]) => ({
    id, origin, state, amount: Number(amount), trr, error, gen: Number(gen),
  }));
}

/* paidOut - a talent paid out once for a purchase at 'price': {talent, pay, po} */
async function paidOut(price = 20000) {
  const talent = await onboarded();
  const pay = await buy(talent, price);
  const r = await payoutsRun();
  assert.equal(r.paid, 1, r.stderr);
  const [po] = await payouts(talent.id);
  return { talent, pay, po };
}

/* reversedEvents - Tally has processed the transfer.reversed events of 'tr' */
async function reversedEvents(tr) {
  await flush(stack);
  await until(async () => (await sqlNum(stack, 'SELECT COUNT(*) FROM webhook_events WHERE type = ' +
    `'transfer.reversed' AND object_id = ${esc(tr)} AND status NOT IN ('processed', 'ignored')`)) === 0,
  'the transfer.reversed events processed');
}

test('a partial refund after the payout: the next run reverses exactly what is owed, once', async () => {
  const { talent, pay, po } = await paidOut();
  const earned = po.amount;
  await refund(pay.id, 5000);
  const b1 = await balance(talent.id);
  const owed = b1.owed_back_cent;
  assert.ok(owed > 0 && owed < earned, `owed back (${JSON.stringify(b1)})`);

  const r = await payoutsRun();
  assert.equal(r.reversed, 1, r.stderr);
  assert.equal(r.paid, 0);
  const at = await emuReversals(po.transfer);
  assert.equal(at.length, 1, 'one reversal at Stripe');
  assert.equal(at[0].amount, owed, 'of exactly what is owed');
  const [row] = await revRows(po.id);
  assert.deepEqual(row, { id: row.id, origin: 'tally', state: 'reversed', amount: owed, trr: at[0].id, error: '', gen: 1 });
  assert.equal(at[0].metadata.tally_id, row.id, 'Tally\'s id in its metadata');
  assert.equal(at[0].metadata.tally_payout_id, po.id);
  const calls = (await stack.emu('GET', '/__emu/requests')).requests.filter((q) => q.method === 'POST' &&
    q.path === `/v1/transfers/${po.transfer}/reversals`);
  assert.deepEqual(calls.map((q) => q.idempotency_key), [`tally:reversal:${row.id}:g1`]);
  const b2 = await balance(talent.id);
  assert.equal(b2.owed_back_cent, 0, `nothing owed (${JSON.stringify(b2)})`);
  assert.equal(b2.payable_cent, 0, 'nothing payable');
  assert.equal(b2.paid_cent, earned - owed, 'paid reduced by the reversal');
  assert.equal((await payouts(talent.id))[0].reversed, owed);
  assert.deepEqual(await stack.sql('SELECT amount_cent, status, IFNULL(payout_id, \'\') FROM shares WHERE ' +
    `cause_id = ${esc(row.id)} ORDER BY amount_cent`), [[String(-owed), 'paid', po.id], [String(owed), 'pending', '']]);

  /* its transfer.reversed event (and a redelivery) books nothing more */
  await reversedEvents(po.transfer);
  const tr = (await stack.stripe('GET', `/v1/transfers/${po.transfer}`)).json;
  assert.equal((await postWebhook(stack, craftEvent('transfer.reversed', tr))).status, 200);
  await reversedEvents(po.transfer);
  assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM shares WHERE kind = \'transfer_reversal\' AND ' +
    `account_id = ${esc(talent.id)}`), 2, 'only its own pair');
  assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM transfer_reversals WHERE transfer_id = ${esc(po.transfer)}`), 1);
  assert.equal((await payouts(talent.id))[0].reversed, owed);
  assert.equal(stack.logLines().filter((l) => /ALERT/.test(l.msg ?? '') && JSON.stringify(l).includes(at[0].id)).length,
    0, 'no alert for a reversal Tally made');
  const again = await payoutsRun();
  assert.equal(again.reversed, 0, 'nothing owed any more');
  assert.equal((await emuReversals(po.transfer)).length, 1);
});

test('owed more than the latest transfer: spread over the older ones, newest first', async () => {
  const talent = await onboarded();
  const p1 = await buy(talent, 20000);
  assert.equal((await payoutsRun()).paid, 1);
  const p2 = await buy(talent, 16000);
  assert.equal((await payoutsRun()).paid, 1);
  const [po1, po2] = await payouts(talent.id);
  await refund(p2.id);
  await refund(p1.id, 4000);
  const owed = (await balance(talent.id)).owed_back_cent;
  assert.ok(owed > po2.amount && owed < po1.amount + po2.amount, `owed ${owed} vs ${po1.amount} + ${po2.amount}`);

  const r = await payoutsRun();
  assert.equal(r.reversed, 2, r.stderr);
  const [a2] = await emuReversals(po2.transfer);
  const [a1] = await emuReversals(po1.transfer);
  assert.equal(a2.amount, po2.amount, 'the newest transfer reversed in full');
  assert.equal(a1.amount, owed - po2.amount, 'the rest from the older one');
  assert.equal((await stack.stripe('GET', `/v1/transfers/${po2.transfer}`)).json.reversed, true);
  const [n1, n2] = await payouts(talent.id);
  assert.equal(n1.reversed, owed - po2.amount);
  assert.equal(n2.reversed, po2.amount);
  const b = await balance(talent.id);
  assert.equal(b.owed_back_cent, 0, JSON.stringify(b));
  assert.equal(b.paid_cent, po1.amount + po2.amount - owed);
  await reversedEvents(po1.transfer);
  await reversedEvents(po2.transfer);
  assert.equal((await payoutsRun()).reversed, 0);
});

test('Stripe refuses the reversal: the amount stays owed back and later earnings net it', async () => {
  const { talent, pay, po } = await paidOut();
  /* the connected account paid its balance out: nothing to take back */
  await stack.emu('POST', '/__emu/balance/set', { account: talent.acct, currency: 'usd', available: 0, pending: 0 });
  await refund(pay.id, 6000);
  const owed = (await balance(talent.id)).owed_back_cent;
  assert.ok(owed > 0);

  const r = await payoutsRun();
  assert.equal(r.reversalFailed, 1, r.stderr);
  assert.equal(r.reversed, 0);
  const [row] = await revRows(po.id);
  assert.equal(row.state, 'failed');
  assert.equal(row.error, 'balance_insufficient');
  assert.equal(row.amount, owed);
  assert.equal((await emuReversals(po.transfer)).length, 0, 'no reversal at Stripe');
  assert.deepEqual(await stack.sql('SELECT amount_cent, status, IFNULL(payout_id, \'\') FROM shares WHERE ' +
    `cause_id = ${esc(row.id)} ORDER BY id`), [
    [String(-owed), 'paid', po.id], [String(owed), 'pending', ''],
    [String(owed), 'paid', po.id], [String(-owed), 'pending', ''],
  ], 'booked, then the inverse pair');
  assert.equal((await payouts(talent.id))[0].reversed, 0);
  const b1 = await balance(talent.id);
  assert.equal(b1.owed_back_cent, owed, `still owed (${JSON.stringify(b1)})`);
  assert.equal(b1.paid_cent, po.amount);
  const warn = r.stderr.split('\n').filter((l) => l.includes('Stripe refused the transfer reversal') &&
    l.includes(row.id));
  assert.equal(warn.length, 1, `the refusal logged: ${r.stderr}`);
  assert.equal(JSON.parse(warn[0]).level, 'warn');

  /* a later payment: its earning nets the debt, the payout is the net */
  const p2 = await buy(talent, 40000);
  const earned2 = await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `payment_id = ${esc(p2.id)} AND account_id = ${esc(talent.id)}`);
  const r2 = await payoutsRun();
  assert.equal(r2.paid, 1, r2.stderr);
  assert.equal(r2.reversed + r2.reversalFailed, 0, 'nothing owed: no reversal');
  const [, po2] = await payouts(talent.id);
  assert.equal(po2.amount, earned2 - owed, 'the payout is the new earning less what was owed');
  const b2 = await balance(talent.id);
  assert.equal(b2.owed_back_cent, 0);
  assert.equal(b2.payable_cent, 0);
  assert.equal(b2.paid_cent, po.amount + earned2 - owed);
});

test('a 500 after Stripe made the reversal: found by its metadata, made once', async () => {
  const { talent, pay, po } = await paidOut();
  await refund(pay.id, 3000);
  const owed = (await balance(talent.id)).owed_back_cent;
  await stack.emu('POST', '/__emu/faults', { method: 'POST', path: '^/v1/transfers/[^/]+/reversals$',
    mode: 'error_500_after_work', count: 1 });
  const r = await payoutsRun();
  assert.equal(r.reversed, 1, r.stderr);
  const at = await emuReversals(po.transfer);
  assert.equal(at.length, 1, 'made once');
  assert.equal(at[0].amount, owed);
  const [row] = await revRows(po.id);
  assert.equal(row.state, 'reversed');
  assert.equal(row.trr, at[0].id);
  assert.equal(row.gen, 1, 'found: no new key generation');
  await reversedEvents(po.transfer);
});

test('two runs at once reverse once', async () => {
  const { talent, pay, po } = await paidOut();
  await refund(pay.id, 5000);
  const owed = (await balance(talent.id)).owed_back_cent;
  const [a, b] = await Promise.all([payoutsRun(), payoutsRun()]);
  assert.equal(a.reversed + b.reversed, 1, `${a.stderr}\n${b.stderr}`);
  const at = await emuReversals(po.transfer);
  assert.equal(at.length, 1, 'one reversal at Stripe');
  assert.equal(at[0].amount, owed);
  assert.equal((await revRows(po.id)).length, 1);
  assert.equal((await balance(talent.id)).owed_back_cent, 0);
  await reversedEvents(po.transfer);
});

test('a Dashboard reversal of an advance\'s transfer: the balance given back, what earnings recovered payable again', async () => {
  const talent = await onboarded();
  const g = await req(stack, 'POST', '/admin/api/v1/advances', {
    headers: { Cookie: `tally_session=${finance.cookie}`, 'X-CSRF-Token': finance.csrf },
    json: { account_id: talent.id, amount_cent: 3000, note: 'signing bonus' },
  });
  assert.equal(g.status, 201, g.body);
  assert.equal(g.json.state, 'transferred');
  const adv = g.json.id;
  const pay = await buy(talent, 2000);
  const advRow = async () => {
    const [[granted, offset, reversed]] = await stack.sql('SELECT granted_cent, offset_cent, reversed_cent FROM ' +
      `advances WHERE id = ${esc(adv)}`);
    return { granted: Number(granted), offset: Number(offset), reversed: Number(reversed) };
  };
  const a0 = await advRow();
  assert.ok(a0.offset > 300 && a0.offset < 3000, `offset from the earning (${a0.offset})`);
  const payable0 = (await balance(talent.id)).payable_cent;
  const left = a0.granted - a0.offset;
  const x = left + 300;			/* 300 more than the advance waits for */

  const rev = await stack.stripe('POST', `/v1/transfers/${g.json.transfer_id}/reversals`, { amount: String(x) });
  assert.equal(rev.status, 200, JSON.stringify(rev.json));
  await reversedEvents(g.json.transfer_id);
  await until(async () => (await advRow()).reversed === x, 'the reversal booked');
  assert.deepEqual(await advRow(), { granted: 3000, offset: a0.offset - 300, reversed: x });
  assert.deepEqual(await stack.sql('SELECT account_id, role, amount_cent, status, payment_id FROM shares WHERE ' +
    `cause_id = ${esc(adv)} AND kind = 'advance_reversal' ORDER BY amount_cent`), [
    ['acc_platform', 'ADVANCE_OFFSET', '-300', 'pending', pay.id],
    [talent.id, 'ADVANCE_OFFSET', '300', 'pending', pay.id],
  ]);
  assert.deepEqual(await stack.sql('SELECT id, origin, state, amount_cent, advance_id, IFNULL(payout_id, \'\') FROM ' +
    `transfer_reversals WHERE transfer_id = ${esc(g.json.transfer_id)}`),
  [[rev.json.id, 'stripe', 'reversed', String(x), adv, '']]);
  const b = await balance(talent.id);
  assert.equal(b.advance_balance_cent, 0, 'the advance is settled');
  assert.equal(b.payable_cent, payable0 + 300, 'what earnings had recovered is payable again');
  const alert = await stack.waitForLog((l) => /ALERT: an advance's transfer was reversed outside Tally/.test(l.msg ?? '') &&
    JSON.stringify(l).includes(rev.json.id), { what: 'the operator alert' });
  assert.equal(alert.level, 'alert');
  assert.equal(alert.returned_cent, '300');
  const list = await req(stack, 'GET', `/admin/api/v1/advances?account_id=${talent.id}`, {
    headers: { Cookie: `tally_session=${finance.cookie}` },
  });
  assert.equal(list.status, 200, list.body);
  assert.deepEqual(list.json.data.map((v) => [v.offset_cent, v.reversed_cent, v.balance_cent]),
    [[a0.offset - 300, x, 0]]);

  /* a redelivered event books nothing more */
  const tr = (await stack.stripe('GET', `/v1/transfers/${g.json.transfer_id}`)).json;
  assert.equal((await postWebhook(stack, craftEvent('transfer.reversed', tr))).status, 200);
  await reversedEvents(g.json.transfer_id);
  assert.equal((await advRow()).reversed, x);
  assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM shares WHERE cause_id = ${esc(adv)} AND ` +
    "kind = 'advance_reversal'"), 2);

  /* a full refund of the offset payment gives back only what is still offset */
  await refund(pay.id);
  const a1 = await advRow();
  assert.equal(a1.offset, 0, 'nothing offset any more');
  assert.ok(a1.offset + a1.reversed <= a1.granted);
});

test('a disputed payment\'s held earning counts against the debt: only what is owed net is reversed', async () => {
  const { talent, po } = await paidOut();
  /* a second sale, then disputed: its negative dispute rows count at once, its positive split rows are held */
  const p2 = await buy(talent, 10000);
  const charge = await sql1(stack, `SELECT charge_id FROM payments WHERE id = ${esc(p2.id)}`);
  const dp = await stack.emu('POST', `/__emu/charges/${charge}/dispute`, {});
  assert.match(dp.id, /^dp_/, JSON.stringify(dp));
  await flush(stack);
  await until(async () => (await sqlNum(stack, `SELECT disputed_cent FROM payments WHERE id = ${esc(p2.id)}`)) ===
    p2.amount_cent, 'the withdrawal booked');
  const unpaid = () => sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `account_id = ${esc(talent.id)} AND status = 'pending' AND payout_id IS NULL`);
  const held = await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE ' +
    `payment_id = ${esc(p2.id)} AND account_id = ${esc(talent.id)} AND amount_cent > 0`);
  const net = await unpaid();
  /* what the payee really owes: the fee Stripe kept and the dispute fee, not its held earning */
  assert.ok(net < 0 && -net < held, `owed net ${-net}, held ${held}`);

  const r = await payoutsRun();
  assert.equal(r.reversed, 1, r.stderr);
  const at = await emuReversals(po.transfer);
  assert.equal(at.length, 1, 'one reversal at Stripe');
  assert.equal(at[0].amount, -net, 'of what is owed net of the held earning');
  assert.equal(await unpaid(), 0, 'nothing owed, nothing recovered twice');
  await reversedEvents(po.transfer);
  assert.equal((await payoutsRun()).reversed, 0, 'nothing more to recover');
});
