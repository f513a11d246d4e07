/*
 * janitors.test.mjs - the finishers of Stripe effects (core/effect.c)
 *
 * What a finisher does with an effect whose first attempt got no answer,
 * or an answer that did not settle it (DESIGN §3, docs/architecture.md
 * "One engine for Stripe effects"):
 * - it looks first, with an exact look-up: a refund Stripe made while its
 *   answer was lost, and whose idempotency key Stripe has forgotten (24 h
 *   later: the emulator's clock moves on), is found by its PaymentIntent's
 *   refunds, not made again; a PaymentIntent likewise, by the search API
 *   on metadata['tally_id']; a payee's Connect account by reading every
 *   account made since its onboarding began;
 * - after a stored 500, on an account with more than 5000 refunds newer
 *   than ours (fifty pages of a hundred), the refund is still found;
 * - a refund Tally recorded as refused ('failed') that Stripe shows as
 *   succeeded is booked all the same, with an ALERT;
 * - a PaymentIntent Stripe does not have (404 resource_missing on the
 *   cancel) is terminal at once: one ALERT, the stock back, no retry;
 * - a finisher that never gets an answer backs off, and after its last
 *   attempt the effect is dead: one ALERT, `tallyctl effects list --dead`
 *   shows it, `tallyctl effects retry` gives it another round.
 * Jobs are run by `tallyctl job run` (no job runs by itself in this
 * stack); the rows' next attempt is brought forward by SQL instead of
 * waiting for the backoff.  The ledger's invariants hold at the end.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertLedger, complete, emuObjects, emuPis, esc, flush, newBuyer, okCheckout, paid, paymentConf, richProduct,
  checkout, checkoutRow, makeAccount, makeProduct, server, sql1, sqlNum, stockOf, until,
} from './lib/checkout_helpers.mjs';
import { randomString, req, startStack } from './lib/stack.mjs';

let stack;
let finance;

before(async () => {
  stack = await startStack({ name: 'janitors', stripe: true, conf: paymentConf() });
  const pw = `finance-${randomString(16)}`;
  await stack.createAdmin('finance1', 'finance', pw);
  finance = await stack.adminLogin('finance1', pw);
  assert.equal(finance.status, 200, 'finance login');
});
afterEach(async (t) => {
  stack?.noteTest(t);
  await stack?.emu('DELETE', '/__emu/faults');
  await stack?.emu('POST', '/__emu/faults/release');
  await stack?.emu('POST', '/__emu/webhooks/config', { drop: false });
});
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

/* refund - an admin refund of payment 'pay' */
function refund(pay, body) {
  return req(stack, 'POST', `/admin/api/v1/payments/${pay}/refunds`, {
    headers: { Cookie: `tally_session=${finance.cookie}`, 'X-CSRF-Token': finance.csrf },
    json: body, timeoutMs: 30000,
  });
}

/* buy - a completed purchase: {pay, pi, amount} */
async function buy() {
  const { product, slug } = await richProduct(stack, { price_cent: 2520 });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const r = await complete(stack, b, c.id);
  assert.equal(r.status, 200, r.body);
  await flush(stack);
  return { pay: r.json.id, pi: c.payment_intent_id, amount: r.json.amount_cent };
}

/*
 * due - make the effect rows of 'table' matching 'where' due now: their
 * next attempt (and, for the job's age conditions, their times) moved back
 */
async function due(table, where) {
  const cols = (await stack.sql('SELECT column_name FROM information_schema.columns WHERE table_schema = ' +
    `DATABASE() AND table_name = ${esc(table)}`)).map(([c]) => c.toLowerCase());
  const set = ['updated_at = NOW(3) - INTERVAL 1 HOUR'];
  if (cols.includes('created_at')) set.push('created_at = NOW(3) - INTERVAL 1 HOUR');
  for (const c of cols.filter((x) => /(^|_)(next_attempt_at|lease_until)$/.test(x))) {
    set.push(`${c} = NOW(3) - INTERVAL 1 SECOND`);
  }
  await stack.sql(`UPDATE ${table} SET ${set.join(', ')} WHERE ${where}`);
}

/* nextAttempt - ms until the next attempt of effect 'id' (0: none planned) */
async function nextAttempt(table, id) {
  const has = await sqlNum(stack, 'SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() ' +
    `AND table_name = ${esc(table)} AND column_name = 'next_attempt_at'`);
  if (!has) return 0;
  return Number(await sql1(stack, 'SELECT IFNULL(UNIX_TIMESTAMP(next_attempt_at) * 1000 - ' +
    `UNIX_TIMESTAMP(NOW(3)) * 1000, 0) FROM ${table} WHERE id = ${esc(id)}`));
}

/* deadCol - the expression telling a dead effect of 'table' (0 without one) */
async function deadCol(table) {
  const has = await sqlNum(stack, 'SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() ' +
    `AND table_name = ${esc(table)} AND column_name = 'dead_at'`);
  return has ? 'dead_at IS NOT NULL' : '0';
}

/* job - `tallyctl job run NAME`: {code, stderr} */
async function job(name) {
  const r = await stack.tallyctl('job', 'run', name);
  assert.equal(r.code, 0, `job ${name}: ${r.stderr}`);
  return r;
}

/* alerts - the ALERT log lines in 'text' that name 'id' */
function alerts(text, id) {
  return text.split('\n').filter((l) => l.includes('ALERT') && l.includes(id));
}

/* stripeRefunds - the emulator's refunds made for Tally refund 'id' */
async function stripeRefunds(id) {
  return (await emuObjects(stack, 'refunds')).filter((r) => r.metadata?.tally_id === id);
}

/*
 * lose - the next POST to 'path' is made at Stripe but its answer is
 * lost, and so are the answers to the next 'n' (dropped before Stripe
 * reads them: a replay of the first would answer)
 */
async function lose(path, n) {
  await stack.emu('POST', '/__emu/faults', { method: 'POST', path, mode: 'drop_after', count: 1 });
  await stack.emu('POST', '/__emu/faults', { method: 'POST', path, mode: 'drop_before', count: n });
}

/* forget - Stripe forgets every idempotency key (24 h pass at the emulator) */
async function forget() {
  await stack.emu('POST', '/__emu/clock', { advance_seconds: 25 * 3600 });
}

describe('finishers look first', () => {
  test('a refund made at Stripe whose answer was lost and whose key Stripe forgot is found, not made twice', async () => {
    const p = await buy();
    await stack.emu('POST', '/__emu/webhooks/config', { drop: true });
    /* Stripe makes the refund; every answer to Tally is lost */
    await lose(`^/v1/refunds$`, 20);
    const r = await refund(p.pay, { amount_cent: 900, reason: 'lost answer' });
    assert.ok([201, 202].includes(r.status), r.body);
    const id = r.json.id;
    assert.equal(await sql1(stack, `SELECT state FROM refunds WHERE id = ${esc(id)}`), 'unknown');
    assert.equal((await stripeRefunds(id)).length, 1, 'Stripe made it once');
    await stack.emu('DELETE', '/__emu/faults');
    await forget();
    await due('refunds', `id = ${esc(id)}`);
    await job('refunds');
    const made = await stripeRefunds(id);
    assert.equal(made.length, 1, `one refund at Stripe, not two: ${made.map((x) => x.id).join(', ')}`);
    const [[state, booked, sid]] = await stack.sql('SELECT state, booked, IFNULL(stripe_refund_id, \'\') FROM refunds ' +
      `WHERE id = ${esc(id)}`);
    assert.equal(sid, made[0].id, 'the one Stripe made is recorded');
    if (made[0].status === 'succeeded') assert.deepEqual([state, Number(booked)], ['succeeded', 1], 'and booked');
  });

  test('a PaymentIntent made at Stripe whose answer was lost and whose key Stripe forgot is found, not made twice', async () => {
    const prod = await makeProduct(stack, { stock: 5 });
    const b = await newBuyer(stack);
    await stack.emu('POST', '/__emu/webhooks/config', { drop: true });
    await lose('^/v1/payment_intents$', 20);
    const r = await checkout(stack, b, { product_id: prod.id }, { timeoutMs: 30000 });
    assert.equal(r.status, 503, r.body);
    const id = await sql1(stack, `SELECT id FROM checkouts WHERE product_id = ${esc(prod.id)}`);
    assert.equal((await checkoutRow(stack, id)).pi_state, 'unknown');
    assert.equal((await emuPis(stack, id)).length, 1, 'Stripe made it once');
    await stack.emu('DELETE', '/__emu/faults');
    await forget();
    await due('checkouts', `id = ${esc(id)}`);
    await job('checkouts');
    const pis = await emuPis(stack, id);
    assert.equal(pis.length, 1, `one PaymentIntent at Stripe, not two: ${pis.map((x) => x.id).join(', ')}`);
    const row = await checkoutRow(stack, id);
    assert.deepEqual([row.pi_state, row.pi_id], ['created', pis[0].id], 'the one Stripe made is recorded');
    assert.equal(await stockOf(stack, prod.id), 4, 'one unit reserved');
  });

  test('a Connect account made at Stripe whose answer was lost and whose key Stripe forgot is found, not made twice', async () => {
    const payee = await makeAccount(stack, 'talent');
    const made = async () => (await emuObjects(stack, 'accounts')).filter((a) => a.metadata?.tally_id === payee.id);
    await lose('^/v1/accounts$', 20);
    const r1 = await server(stack, 'POST', `/api/v1/accounts/${payee.id}/connect`);
    assert.equal(r1.status, 503, r1.body);
    assert.equal((await made()).length, 1, 'Stripe made it once');
    await stack.emu('DELETE', '/__emu/faults');
    await forget();
    const r2 = await server(stack, 'POST', `/api/v1/accounts/${payee.id}/connect`);
    assert.equal(r2.status, 200, r2.body);
    const accts = await made();
    assert.equal(accts.length, 1, `one account at Stripe, not two: ${accts.map((a) => a.id).join(', ')}`);
    assert.equal(r2.json.connect_account_id, accts[0].id, 'the one Stripe made is recorded');
  });

  test('after a stored 500, a refund behind more than fifty pages of newer refunds is still found', async () => {
    const p = await buy();
    await stack.emu('POST', '/__emu/webhooks/config', { drop: true });
    /* the work is done, the answer is a 500 Stripe stores; look-ups fail too */
    await stack.emu('POST', '/__emu/faults', { method: 'POST', path: '^/v1/refunds$', mode: 'error_500_after_work', count: 1 });
    await stack.emu('POST', '/__emu/faults', { method: 'GET', path: '^/v1/refunds$', mode: 'error_500_stored', count: 40 });
    const r = await refund(p.pay, { amount_cent: 700, reason: 'busy account' });
    assert.ok([201, 202].includes(r.status), r.body);
    const id = r.json.id;
    assert.equal(await sql1(stack, `SELECT state FROM refunds WHERE id = ${esc(id)}`), 'unknown');
    assert.equal((await stripeRefunds(id)).length, 1, 'Stripe made it once');
    await stack.emu('DELETE', '/__emu/faults');
    /* a busy account: 5050 refunds of another payment, all newer than ours */
    const other = await stack.stripe('POST', '/v1/payment_intents', {
      amount: 900000, currency: 'usd', confirm: 'true', payment_method: 'pm_card_visa',
      'payment_method_types[]': 'card',
    });
    assert.equal(other.json.status, 'succeeded', JSON.stringify(other.json));
    for (let i = 0; i < 5050; i += 50) {
      const rs = await Promise.all(Array.from({ length: 50 }, () =>
        stack.stripe('POST', '/v1/refunds', { payment_intent: other.json.id, amount: 1 })));
      for (const x of rs) assert.equal(x.status, 200, JSON.stringify(x.json));
    }
    await due('refunds', `id = ${esc(id)}`);
    await job('refunds');
    const made = await stripeRefunds(id);
    assert.equal(made.length, 1, `one refund at Stripe, not two: ${made.map((x) => x.id).join(', ')}`);
    assert.equal(await sql1(stack, `SELECT IFNULL(stripe_refund_id, '') FROM refunds WHERE id = ${esc(id)}`),
      made[0].id, 'the one Stripe made is recorded');
  });

  test('a refund Tally recorded as refused that Stripe shows succeeded is booked, with an ALERT', async () => {
    const p = await buy();
    /* Stripe makes the refund but answers 400: Tally records it refused */
    await stack.emu('POST', '/__emu/faults', {
      method: 'POST', path: '^/v1/refunds$', mode: 'error_500_after_work', status: 400, count: 1,
    });
    const log0 = stack.logText().length;
    const r = await refund(p.pay, { amount_cent: 1100, reason: 'refused, yet made' });
    assert.ok(r.status >= 400, `refused: ${r.body}`);
    const id = await sql1(stack, `SELECT id FROM refunds WHERE payment_id = ${esc(p.pay)}`);
    const made = await stripeRefunds(id);
    assert.equal(made.length, 1, 'Stripe made it');
    /* its webhooks (refund.created, charge.refunded ...) tell Tally */
    await flush(stack);
    await until(async () => Number(await sql1(stack, `SELECT booked FROM refunds WHERE id = ${esc(id)}`)) === 1,
      'the refund Stripe made is booked');
    const [[state, sid]] = await stack.sql(`SELECT state, stripe_refund_id FROM refunds WHERE id = ${esc(id)}`);
    assert.deepEqual([state, sid], ['succeeded', made[0].id]);
    assert.equal(await sqlNum(stack, `SELECT refunded_cent FROM payments WHERE id = ${esc(p.pay)}`), 1100);
    assert.equal(await sqlNum(stack, `SELECT requested_refund_cent FROM payments WHERE id = ${esc(p.pay)}`), 1100);
    assert.equal(await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE kind = \'refund\' AND ' +
      `cause_id = ${esc(id)}`), -1100, 'its reversal rows');
    assert.equal(alerts(stack.logText().slice(log0), id).length, 1, 'one ALERT');
  });
});

describe('finishers end', () => {
  test('a PaymentIntent Stripe does not have (404 on the cancel): terminal, one ALERT, the stock back, no retry', async () => {
    const prod = await makeProduct(stack, { stock: 3 });
    const b = await newBuyer(stack);
    const c = await okCheckout(stack, b, { product_id: prod.id });
    assert.equal(await stockOf(stack, prod.id), 2);
    /* the PaymentIntent is gone at Stripe (test data deleted) */
    const del = await stack.emu('DELETE', `/__emu/objects/payment_intents/${c.payment_intent_id}`);
    assert.equal(del.deleted, true, JSON.stringify(del));
    assert.equal((await stack.stripe('GET', `/v1/payment_intents/${c.payment_intent_id}`)).status, 404);
    await stack.sql(`UPDATE checkouts SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ${esc(c.id)}`);
    /* calls - Tally's requests about the PaymentIntent so far */
    const calls = async () => (await stack.emu('GET', '/__emu/requests')).requests
      .filter((q) => q.path.startsWith(`/v1/payment_intents/${c.payment_intent_id}`)).length;
    await due('checkouts', `id = ${esc(c.id)}`);
    let text = (await job('checkouts')).stderr;
    const tried = await calls();
    assert.ok(tried > 0, 'the job tried');
    for (let i = 0; i < 2; i++) {
      await due('checkouts', `id = ${esc(c.id)}`);
      text += (await job('checkouts')).stderr;
    }
    const row = await checkoutRow(stack, c.id);
    assert.notEqual(row.pi_state, 'to_cancel', 'no longer waiting for a cancel');
    assert.equal(row.pi_state, 'missing');
    assert.equal(alerts(text, c.payment_intent_id).length, 1, `one ALERT:\n${text}`);
    assert.equal(await calls(), tried, 'not tried again');
    assert.equal(await stockOf(stack, prod.id), 3, 'nothing can be paid: the stock is back');
  });

  test('no answer at all: backoff, then dead after the last attempt, listed, and retried on demand', async () => {
    const p = await buy();
    await stack.emu('POST', '/__emu/webhooks/config', { drop: true });
    await lose('^/v1/refunds$', 500);
    await stack.emu('POST', '/__emu/faults', { method: 'GET', path: '^/v1/refunds', mode: 'drop_before', count: 5000 });
    const r = await refund(p.pay, { amount_cent: 600, reason: 'no answer' });
    assert.ok([201, 202].includes(r.status), r.body);
    const id = r.json.id;
    let text = '';
    let prev = Date.now();
    let rounds = 0;
    for (; rounds < 30; rounds++) {
      const [[state, dead]] = await stack.sql(`SELECT state, ${await deadCol('refunds')} FROM refunds ` +
        `WHERE id = ${esc(id)}`);
      if (Number(dead)) break;
      assert.equal(state, 'unknown');
      await due('refunds', `id = ${esc(id)}`);
      text += (await job('refunds')).stderr;
      /* the next attempt is later each time */
      const next = await nextAttempt('refunds', id);
      if (rounds > 0 && next > 0) assert.ok(next >= prev - 1000, `backoff grows (${next} ms after ${prev} ms)`);
      if (next > 0) prev = next;
    }
    assert.ok(rounds < 30, 'dead after a bounded number of attempts');
    assert.equal(alerts(text, id).length, 1, `one ALERT when it died:\n${text}`);
    const list = await stack.tallyctl('effects', 'list', '--dead');
    assert.equal(list.code, 0, list.stderr);
    const line = list.stdout.split('\n').find((l) => l.includes(id));
    assert.ok(line, `listed as dead:\n${list.stdout}`);
    assert.match(line, /\brefund\b/);
    assert.equal((await stripeRefunds(id)).length, 1, 'Stripe made it once');
    /* Stripe answers again: the operator gives it another round */
    await stack.emu('DELETE', '/__emu/faults');
    const retry = await stack.tallyctl('effects', 'retry', id);
    assert.equal(retry.code, 0, retry.stderr);
    await job('refunds');
    const made = await stripeRefunds(id);
    assert.equal(made.length, 1, 'found, not made again');
    assert.equal(await sql1(stack, `SELECT IFNULL(stripe_refund_id, '') FROM refunds WHERE id = ${esc(id)}`), made[0].id);
    const after = await stack.tallyctl('effects', 'list', '--dead');
    assert.ok(!after.stdout.includes(id), 'no longer dead');
  });
});
