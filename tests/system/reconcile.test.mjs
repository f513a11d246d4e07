/*
 * reconcile.test.mjs - reconciliation with Stripe (core/reconcile.c,
 * `tallyctl reconcile`, the admin route) on the real stack, Stripe being
 * the emulator:
 *   - two sales completed by their webhooks: a run is clean (each charge
 *     and its Stripe fee matched), exit 0, no alert;
 *   - drift injected: a Dashboard refund whose webhooks are dropped
 *     (missing_in_tally), a transfer made outside Tally (missing_in_tally),
 *     a fee the emulator changes afterwards (amount_differs), a charge
 *     Stripe no longer lists (missing_at_stripe): each on its line with
 *     both sides' ids and amounts; the run exits 1, the report is stored,
 *     an email to [alerts] email is queued and an ALERT line logged;
 *   - GET /admin/api/v1/reconciliation_reports lists the reports, newest
 *     first, paginated; no session 401; .../{id}/lines its lines, by
 *     outcome, paginated, 404 for no report, 400 for a bad outcome;
 *   - the run that finds the changed fee books Stripe's fee (the path of a
 *     late real fee: fee_adjustment rows, audited as "reconcile"); the
 *     ledger still holds;
 *   - an admin (finance) acknowledges the lost charge's line with a
 *     reason (POST .../lines/{line}/ack: Idempotency-Key replayed, a
 *     viewer 403, no reason 400, a matched line 422), the operator too
 *     (`tallyctl reconcile ack ID --reason`), each audited;
 *   - after the missed-event catch-up (the refund booked, the outside
 *     transfer recorded as external: never a payee's earning, an ALERT
 *     line, audited as "catchup") the next run is clean, exit 0: the
 *     refund, the transfer (against the external record) and the fee
 *     matched, the lost charge "acknowledged";
 *   - connected accounts' balance transactions (Stripe-Account): a
 *     payout's transfer matched on the account's side (its payment py_
 *     against the payout); a reversal made in the Dashboard with its
 *     webhooks lost is reported on the account's side (payment refund
 *     pyr_, missing_in_tally, both ids) and on the platform's; after
 *     catch-up both sides match and the run is clean.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertLedger, esc, flush, makeAccount, makeProduct, newBuyer, okCheckout, paid, paymentConf, piOf, richProduct,
  server, sql1, sqlNum, until,
} from './lib/checkout_helpers.mjs';
import { req, startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({
    name: 'reconcile', stripe: true, conf: paymentConf({ alerts: { email: 'ops@example.test' } }),
  });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) {
      await stack.emu('POST', '/__emu/webhooks/config', { drop: false });
      await assertLedger(stack);
    }
  } finally {
    await stack?.stop();
  }
});

/* sale - a checkout paid and completed by its webhook */
async function sale() {
  const { product, slug } = await richProduct(stack, { price_cent: 2520, agentBps: 1000 });
  const b = await newBuyer(stack);
  const c = await okCheckout(stack, b, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c.payment_intent_id);
  const charge = (await piOf(stack, c.payment_intent_id)).latest_charge;
  await until(async () => (await sql1(stack, 'SELECT stripe_fee_actual_cent IS NOT NULL FROM payments WHERE ' +
    `checkout_id = ${esc(c.id)}`)) === '1', 'the completion and its real fee');
  const pay = await sql1(stack, `SELECT id FROM payments WHERE checkout_id = ${esc(c.id)}`);
  const [bt] = (await stack.stripe('GET', '/v1/balance_transactions', { source: charge })).json.data;
  return { c, charge, pay, bt };
}

/* reconcile - tallyctl reconcile: {code, lines: [{day, currency, kind, …}], summary} */
async function reconcile(...args) {
  const r = await stack.tallyctl('reconcile', ...args);
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  const [head, ...rows] = r.stdout.trim().split('\n');
  assert.equal(head, 'DAY\tCURRENCY\tKIND\tOUTCOME\tSTRIPE_TXN\tSTRIPE_ID\tTALLY_ID\tSTRIPE_CENT\tTALLY_CENT');
  const lines = rows.map((l) => {
    const [day, currency, kind, outcome, txn, object, tally, stripeCent, tallyCent] = l.split('\t');
    return { day, currency, kind, outcome, txn, object, tally, stripeCent, tallyCent };
  });
  const id = /reconcile (rec_\S+):/.exec(r.stderr)?.[1];
  assert.ok(id, r.stderr);
  return { code: r.code, lines, id, stderr: r.stderr };
}

function only(lines, pred, what) {
  const got = lines.filter(pred);
  assert.equal(got.length, 1, `${what}: ${JSON.stringify(lines)}`);
  return got[0];
}

test('clean, then each kind of drift on its line with both ids; alert; admin list; after catch-up and an ack, clean',
  async () => {
    const a = await sale();
    const b = await sale();
    const c = await sale();
    await flush(stack);
    const today = new Date().toISOString().slice(0, 10);

    const clean = await reconcile();
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stderr, /: clean: matched \d+, missing_in_tally 0, missing_at_stripe 0, amount_differs 0/);
    for (const s of [a, b, c]) {
      const ch = only(clean.lines, (l) => l.kind === 'charge' && l.object === s.charge, 'the charge');
      assert.deepEqual([ch.outcome, ch.txn, ch.tally, ch.stripeCent, ch.tallyCent, ch.currency, ch.day],
        ['matched', s.bt.id, s.pay, String(s.bt.amount), String(s.bt.amount), 'usd', today]);
      const fee = only(clean.lines, (l) => l.kind === 'stripe_fee' && l.object === s.charge, 'the fee');
      assert.deepEqual([fee.outcome, fee.stripeCent, fee.tallyCent], ['matched', String(s.bt.fee), String(s.bt.fee)]);
    }
    assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM outbox WHERE kind = \'reconcile_alert\''), 0, 'no alert');

    /* drift: a Dashboard refund Tally never hears of */
    await stack.emu('POST', '/__emu/webhooks/config', { drop: true });
    const re = await stack.emu('POST', `/__emu/charges/${a.charge}/dashboard_refund`, { amount: 700 });
    /* a transfer made outside Tally */
    const payee = await makeAccount(stack, 'talent');
    const cn = await server(stack, 'POST', `/api/v1/accounts/${payee.id}/connect`);
    assert.equal(cn.status, 200, cn.body);
    await stack.emu('POST', `/__emu/accounts/${cn.json.connect_account_id}/complete_onboarding`);
    await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 1000000 });
    const tr = await stack.stripe('POST', '/v1/transfers', {
      amount: '1234', currency: 'usd', destination: cn.json.connect_account_id,
    });
    assert.equal(tr.status, 200, JSON.stringify(tr.json));
    /* a fee Stripe changes afterwards */
    await stack.emu('POST', `/__emu/balance_transactions/${b.bt.id}/fee`, { fee: b.bt.fee + 50 });
    /* a charge Stripe no longer lists */
    await stack.emu('DELETE', `/__emu/objects/balance_transactions/${c.bt.id}`);
    await flush(stack);

    const drift = await reconcile();
    assert.equal(drift.code, 1, 'a mismatch exits 1');
    const reLine = only(drift.lines, (l) => l.kind === 'refund', 'the refund');
    const reBt = (await stack.stripe('GET', '/v1/balance_transactions', { source: re.id })).json.data[0];
    assert.deepEqual(reLine, {
      day: today, currency: 'usd', kind: 'refund', outcome: 'missing_in_tally', txn: reBt.id, object: re.id,
      tally: '-', stripeCent: '700', tallyCent: '-',
    });
    const trLine = only(drift.lines, (l) => l.kind === 'transfer', 'the transfer');
    assert.deepEqual([trLine.outcome, trLine.txn, trLine.object, trLine.tally, trLine.stripeCent],
      ['missing_in_tally', tr.json.balance_transaction, tr.json.id, '-', '1234']);
    const feeLine = only(drift.lines, (l) => l.kind === 'stripe_fee' && l.object === b.charge, 'the fee');
    assert.deepEqual([feeLine.outcome, feeLine.txn, feeLine.tally, feeLine.stripeCent, feeLine.tallyCent],
      ['amount_differs', b.bt.id, b.pay, String(b.bt.fee + 50), String(b.bt.fee)]);
    const gone = only(drift.lines, (l) => l.object === c.charge, 'the charge Stripe no longer lists');
    assert.deepEqual([gone.kind, gone.outcome, gone.txn, gone.tally, gone.stripeCent, gone.tallyCent],
      ['charge', 'missing_at_stripe', '-', c.pay, '-', String(c.bt.amount)]);
    /* the outside transfer seen from the connected account too: its payment (py_) stands for no Tally transfer */
    const acctTr = cn.json.connect_account_id;
    assert.match(tr.json.destination_payment, /^py_/);
    const [pyBt] = (await stack.stripe('GET', '/v1/balance_transactions', { source: tr.json.destination_payment },
      { 'Stripe-Account': acctTr })).json.data;
    const pyLine = only(drift.lines, (l) => l.kind === 'connect_transfer', 'the transfer on the account\'s side');
    assert.deepEqual([pyLine.outcome, pyLine.txn, pyLine.object, pyLine.tally, pyLine.stripeCent],
      ['missing_in_tally', pyBt.id, tr.json.destination_payment, '-', '1234']);
    assert.match(drift.stderr, /: mismatch: matched \d+, missing_in_tally 3, missing_at_stripe 1, amount_differs 1/);
    assert.match(drift.stderr, /"level":"alert".*Tally's books and Stripe's differ.*missing_in_tally":"3"/);

    /* stored, with its lines, and the alert email queued */
    assert.deepEqual(await stack.sql('SELECT status, missing_in_tally, missing_at_stripe, amount_differs FROM ' +
      `reconciliation_reports WHERE id = ${esc(drift.id)}`), [['mismatch', '3', '1', '1']]);
    assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM reconciliation_lines WHERE report_id = ' +
      `${esc(drift.id)}`), drift.lines.length);
    assert.deepEqual(await stack.sql('SELECT stripe_txn_id, stripe_object_id, IFNULL(tally_id, \'-\'), ' +
      'stripe_amount_cent, IFNULL(tally_amount_cent, \'-\') FROM reconciliation_lines WHERE report_id = ' +
      `${esc(drift.id)} AND kind = 'refund'`), [[reBt.id, re.id, '-', '700', '-']]);
    const mail = await stack.sql('SELECT to_addr, subject, body FROM outbox WHERE dedupe_key = ' +
      `${esc(`reconcile:${drift.id}`)}`);
    assert.equal(mail.length, 1, 'one alert email');
    assert.equal(mail[0][0], 'ops@example.test');
    assert.match(mail[0][1], /ALERT: Stripe reconciliation mismatch/);
    assert.match(mail[0][2], new RegExp(`refund missing_in_tally stripe ${reBt.id} ${re.id}`));

    /* the admin route */
    await stack.createAdmin('recviewer', 'viewer', 'a long viewer password');
    const login = await stack.adminLogin('recviewer', 'a long viewer password');
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const cookie = { Cookie: `tally_session=${login.cookie}` };
    const list = await req(stack, 'GET', '/admin/api/v1/reconciliation_reports?limit=1', { headers: cookie });
    assert.equal(list.status, 200, list.body);
    assert.equal(list.json.object, 'list');
    assert.equal(list.json.has_more, true);
    assert.deepEqual(list.json.data.map((x) => [x.object, x.id, x.status, x.missing_in_tally, x.missing_at_stripe,
      x.amount_differs]), [['reconciliation_report', drift.id, 'mismatch', 3, 1, 1]]);
    const next = await req(stack, 'GET', `/admin/api/v1/reconciliation_reports?starting_after=${drift.id}`,
      { headers: cookie });
    assert.deepEqual(next.json.data.map((x) => [x.id, x.status]), [[clean.id, 'clean']]);
    assert.equal((await req(stack, 'GET', '/admin/api/v1/reconciliation_reports')).status, 401);
    /* its lines: the mismatches only, in order, with both ids; paginated; 404, 400 */
    const lines = await req(stack, 'GET', `/admin/api/v1/reconciliation_reports/${drift.id}/lines?` +
      'outcome=missing_in_tally', { headers: cookie });
    assert.equal(lines.status, 200, lines.body);
    assert.deepEqual(lines.json.data.map((l) => [l.kind, l.outcome, l.stripe_balance_transaction, l.stripe_object,
      l.tally_id, l.stripe_amount_cent, l.tally_amount_cent]).sort(), [
      ['refund', 'missing_in_tally', reBt.id, re.id, null, 700, null],
      ['transfer', 'missing_in_tally', tr.json.balance_transaction, tr.json.id, null, 1234, null],
      ['connect_transfer', 'missing_in_tally', pyBt.id, tr.json.destination_payment, null, 1234, null],
    ].sort());
    const diff = await req(stack, 'GET', `/admin/api/v1/reconciliation_reports/${drift.id}/lines?` +
      'outcome=amount_differs', { headers: cookie });
    assert.deepEqual(diff.json.data.map((l) => [l.kind, l.tally_id, l.stripe_amount_cent, l.tally_amount_cent]),
      [['stripe_fee', b.pay, b.bt.fee + 50, b.bt.fee]]);
    const p1 = await req(stack, 'GET', `/admin/api/v1/reconciliation_reports/${drift.id}/lines?limit=2`,
      { headers: cookie });
    assert.equal(p1.json.has_more, true);
    assert.deepEqual(p1.json.data.map((l) => l.id), ['1', '2']);
    const p2 = await req(stack, 'GET', `/admin/api/v1/reconciliation_reports/${drift.id}/lines?limit=2&` +
      'starting_after=2', { headers: cookie });
    assert.deepEqual(p2.json.data.map((l) => l.id), ['3', '4']);
    assert.equal((await req(stack, 'GET', '/admin/api/v1/reconciliation_reports/rec_nope/lines',
      { headers: cookie })).status, 404);
    const badOutcome = await req(stack, 'GET', `/admin/api/v1/reconciliation_reports/${drift.id}/lines?outcome=x`,
      { headers: cookie });
    assert.equal(badOutcome.status, 400);
    assert.equal(badOutcome.json.error.code, 'parameter_invalid');

    /* the run that found the changed fee booked Stripe's fee, once, through the late-fee path */
    assert.equal(await sql1(stack, `SELECT stripe_fee_actual_cent FROM payments WHERE id = ${esc(b.pay)}`),
      String(b.bt.fee + 50), 'Stripe\'s fee booked');
    assert.equal(await sqlNum(stack, 'SELECT IFNULL(SUM(amount_cent), 0) FROM shares WHERE kind = ' +
      `'fee_adjustment' AND role = 'STRIPE_FEE' AND payment_id = ${esc(b.pay)}`), b.bt.fee + 50 -
      Number(await sql1(stack, `SELECT stripe_fee_estimate_cent FROM payments WHERE id = ${esc(b.pay)}`)),
    'the Stripe-fee account holds actual - estimate');
    assert.deepEqual(await stack.sql('SELECT actor_kind, actor_id, detail FROM audit_log WHERE action = ' +
      `'fee.settled' AND object_id = ${esc(b.pay)}`), [['system', 'reconcile', b.bt.id]], 'audited once');
    await assertLedger(stack);

    /* the lost charge: judged by a human, through the admin route and tallyctl */
    const goneNo = drift.lines.indexOf(gone) + 1;
    await stack.createAdmin('recfinance', 'finance', 'a long finance password');
    const fin = await stack.adminLogin('recfinance', 'a long finance password');
    assert.equal(fin.status, 200, JSON.stringify(fin.body));
    const finH = { Cookie: `tally_session=${fin.cookie}`, 'X-CSRF-Token': fin.csrf };
    const ackPath = `/admin/api/v1/reconciliation_reports/${drift.id}/lines/${goneNo}/ack`;
    const noReason = await req(stack, 'POST', ackPath, { headers: finH, json: {} });
    assert.equal(noReason.status, 400, noReason.body);
    const viewerAck = await req(stack, 'POST', ackPath, {
      headers: { ...cookie, 'X-CSRF-Token': login.csrf }, json: { reason: 'x' },
    });
    assert.equal(viewerAck.status, 403, viewerAck.body);
    const matchedNo = drift.lines.findIndex((l) => l.outcome === 'matched') + 1;
    const onMatched = await req(stack, 'POST', `/admin/api/v1/reconciliation_reports/${drift.id}/lines/` +
      `${matchedNo}/ack`, { headers: finH, json: { reason: 'nothing to judge' } });
    assert.equal(onMatched.status, 422, onMatched.body);
    const reason = 'test charge deleted at Stripe; refunded to the buyer by hand';
    const ack = await req(stack, 'POST', ackPath, { headers: { ...finH, 'Idempotency-Key': 'ack-lost-charge' },
      json: { reason } });
    assert.equal(ack.status, 200, ack.body);
    assert.deepEqual([ack.json.object, ack.json.report_id, ack.json.line, ack.json.acknowledged_id, ack.json.reason],
      ['reconciliation_ack', drift.id, goneNo, c.charge, reason]);
    const again = await req(stack, 'POST', ackPath, { headers: { ...finH, 'Idempotency-Key': 'ack-lost-charge' },
      json: { reason } });
    assert.equal(again.status, 200, again.body);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    const finId = await sql1(stack, 'SELECT id FROM admin_users WHERE username = \'recfinance\'');
    assert.deepEqual(await stack.sql('SELECT actor_kind, actor_id, detail, request_id FROM audit_log WHERE ' +
      `action = 'reconcile.ack' AND object_id = ${esc(c.charge)}`),
    [['admin', finId, reason, ack.headers.get('x-request-id')]], 'audited once, with the admin and request id');
    const ctlAck = await stack.tallyctl('reconcile', 'ack', c.charge, '--reason', reason);
    assert.equal(ctlAck.code, 0, ctlAck.stderr);
    assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM audit_log WHERE action = \'reconcile.ack\' AND ' +
      `actor_kind = 'operator' AND object_id = ${esc(c.charge)}`), 1, 'the operator, audited');
    const noReasonCtl = await stack.tallyctl('reconcile', 'ack', c.charge, '--reason', '');
    assert.notEqual(noReasonCtl.code, 0, 'a reason is required');

    /* the missed events caught up: the refund booked, the outside transfer recorded as external */
    const cu = await stack.tallyctl('job', 'run', 'events');
    assert.equal(cu.code, 0, cu.stderr);
    const ext = await stack.sql('SELECT id, amount_cent, currency, destination FROM external_transfers WHERE ' +
      `stripe_transfer_id = ${esc(tr.json.id)}`);
    assert.equal(ext.length, 1, 'the outside transfer recorded once');
    assert.deepEqual(ext[0].slice(1), ['1234', 'usd', cn.json.connect_account_id]);
    assert.match(ext[0][0], /^ext_/);
    assert.match(cu.stderr + stack.logText(),
      new RegExp(`"level":"alert".*ALERT: a transfer was made outside Tally.*${tr.json.id}`), 'an ALERT line');
    assert.deepEqual(await stack.sql('SELECT actor_kind, actor_id FROM audit_log WHERE action = ' +
      `'transfer.external' AND object_id = ${esc(ext[0][0])}`), [['system', 'stripe_event']]);
    assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM shares WHERE account_id = ' +
      `${esc(payee.id)}`), 0, 'not a payee\'s earning');
    assert.equal(await sqlNum(stack, `SELECT COUNT(*) FROM payouts WHERE stripe_transfer_id = ${esc(tr.json.id)}`),
      0, 'not a payout');

    /* the next run is clean: every former drift line on its new outcome */
    const afterCu = await reconcile('--since', today);
    assert.equal(afterCu.code, 0, afterCu.stderr);
    assert.match(afterCu.stderr,
      /: clean: matched \d+, missing_in_tally 0, missing_at_stripe 0, amount_differs 0, acknowledged 1/);
    const reNow = only(afterCu.lines, (l) => l.kind === 'refund', 'the refund after catch-up');
    assert.equal(reNow.outcome, 'matched');
    assert.match(reNow.tally, /^rfd_/);
    assert.equal(reNow.tallyCent, '700');
    const trNow = only(afterCu.lines, (l) => l.kind === 'transfer' && l.object === tr.json.id, 'the transfer');
    assert.deepEqual([trNow.outcome, trNow.tally, trNow.stripeCent, trNow.tallyCent],
      ['matched', ext[0][0], '1234', '1234']);
    const pyNow = only(afterCu.lines, (l) => l.kind === 'connect_transfer' && l.object === tr.json.destination_payment,
      'the transfer on the account\'s side');
    assert.deepEqual([pyNow.outcome, pyNow.txn, pyNow.tally, pyNow.stripeCent, pyNow.tallyCent],
      ['matched', pyBt.id, ext[0][0], '1234', '1234']);
    const feeNow = only(afterCu.lines, (l) => l.kind === 'stripe_fee' && l.object === b.charge, 'the fee');
    assert.deepEqual([feeNow.outcome, feeNow.stripeCent, feeNow.tallyCent],
      ['matched', String(b.bt.fee + 50), String(b.bt.fee + 50)]);
    const goneNow = only(afterCu.lines, (l) => l.object === c.charge, 'the lost charge');
    assert.deepEqual([goneNow.kind, goneNow.outcome, goneNow.tally], ['charge', 'acknowledged', c.pay]);
    assert.equal(afterCu.lines.filter((l) => !['matched', 'acknowledged'].includes(l.outcome)).length, 0);
    assert.deepEqual(await stack.sql('SELECT status, acknowledged FROM reconciliation_reports WHERE id = ' +
      `${esc(afterCu.id)}`), [['clean', '1']]);
    const acked = await req(stack, 'GET', `/admin/api/v1/reconciliation_reports/${afterCu.id}/lines?` +
      'outcome=acknowledged', { headers: cookie });
    assert.equal(acked.status, 200, acked.body);
    assert.deepEqual(acked.json.data.map((l) => [l.kind, l.outcome, l.stripe_object, l.tally_id]),
      [['charge', 'acknowledged', c.charge, c.pay]]);
    assert.equal(await sqlNum(stack, 'SELECT COUNT(*) FROM outbox WHERE dedupe_key = ' +
      `${esc(`reconcile:${afterCu.id}`)}`), 0, 'no alert for a clean report');
    const bad = await stack.tallyctl('reconcile', '--since', 'yesterday');
    assert.equal(bad.code, 2, 'a usage error');
  });

test('connected accounts: a payout\'s transfer matched on the account\'s side; a reversal made there outside Tally ' +
  'reported with both ids, then booked by catch-up and matched', async () => {
  await stack.emu('POST', '/__emu/webhooks/config', { drop: false });
  const today = new Date().toISOString().slice(0, 10);
  /* a payee paid out by Tally */
  const payee = await makeAccount(stack, 'talent', { payout_threshold_cent: 0 });
  const cn = await server(stack, 'POST', `/api/v1/accounts/${payee.id}/connect`);
  assert.equal(cn.status, 200, cn.body);
  const acct = cn.json.connect_account_id;
  await stack.emu('POST', `/__emu/accounts/${acct}/complete_onboarding`);
  await until(async () => (await sql1(stack, `SELECT payouts_enabled FROM accounts WHERE id = ${esc(payee.id)}`)) ===
    '1', 'onboarding delivered');
  const product = await makeProduct(stack, { seller_account_id: payee.id, price_cent: 2520 });
  const c = await okCheckout(stack, await newBuyer(stack), { product_id: product.id });
  await paid(stack, c.payment_intent_id);
  await until(async () => (await sql1(stack, 'SELECT stripe_fee_actual_cent IS NOT NULL FROM payments WHERE ' +
    `checkout_id = ${esc(c.id)}`)) === '1', 'the completion and its real fee');
  await stack.emu('POST', '/__emu/balance/set', { currency: 'usd', available: 1000000 });
  const run = await stack.tallyctl('payouts', 'run');
  assert.equal(run.code, 0, run.stderr);
  const [[po, trId, amount]] = await stack.sql('SELECT id, stripe_transfer_id, amount_cent FROM payouts WHERE ' +
    `account_id = ${esc(payee.id)} AND state = 'paid'`);
  const trObj = (await stack.stripe('GET', `/v1/transfers/${trId}`)).json;
  assert.match(trObj.destination_payment, /^py_/);
  const onAcct = (source) => stack.stripe('GET', '/v1/balance_transactions', { source }, { 'Stripe-Account': acct });
  const [pyBt] = (await onAcct(trObj.destination_payment)).json.data;
  assert.equal(pyBt.type, 'payment');
  await flush(stack);

  /* a reversal made in the Dashboard, its webhooks lost */
  await stack.emu('POST', '/__emu/webhooks/config', { drop: true });
  const trr = await stack.stripe('POST', `/v1/transfers/${trId}/reversals`, { amount: '300' });
  assert.equal(trr.status, 200, JSON.stringify(trr.json));
  const pyr = trr.json.destination_payment_refund;
  assert.match(pyr, /^pyr_/);
  const [pyrBt] = (await onAcct(pyr)).json.data;
  assert.equal(pyrBt.type, 'payment_refund');

  const r1 = await reconcile('--since', today);
  assert.equal(r1.code, 1, 'the reversal Tally does not know is a mismatch');
  const pyLine = only(r1.lines, (l) => l.kind === 'connect_transfer' && l.object === trObj.destination_payment,
    'the payout\'s transfer on the account\'s side');
  assert.deepEqual([pyLine.outcome, pyLine.txn, pyLine.tally, pyLine.stripeCent, pyLine.tallyCent, pyLine.day],
    ['matched', pyBt.id, po, amount, amount, today]);
  const platformLine = only(r1.lines, (l) => l.kind === 'transfer' && l.object === trId, 'the transfer');
  assert.deepEqual([platformLine.outcome, platformLine.tally], ['matched', po]);
  const pyrLine = only(r1.lines, (l) => l.kind === 'connect_reversal', 'the reversal on the account\'s side');
  assert.deepEqual([pyrLine.outcome, pyrLine.txn, pyrLine.object, pyrLine.tally, pyrLine.stripeCent,
    pyrLine.tallyCent], ['missing_in_tally', pyrBt.id, pyr, '-', '300', '-']);
  const trrLine = only(r1.lines, (l) => l.kind === 'transfer_reversal', 'the reversal on the platform');
  assert.deepEqual([trrLine.outcome, trrLine.object], ['missing_in_tally', trr.json.id]);

  /* catch-up books it (transfer.reversed, made outside Tally): both sides match */
  await stack.emu('POST', '/__emu/webhooks/config', { drop: false });
  const cu = await stack.tallyctl('job', 'run', 'events');
  assert.equal(cu.code, 0, cu.stderr);
  const r2 = await reconcile('--since', today);
  const pyrNow = only(r2.lines, (l) => l.kind === 'connect_reversal', 'the reversal after catch-up');
  const booked = await sql1(stack, `SELECT id FROM transfer_reversals WHERE stripe_reversal_id = ${esc(trr.json.id)}`);
  assert.deepEqual([pyrNow.outcome, pyrNow.txn, pyrNow.tally, pyrNow.stripeCent, pyrNow.tallyCent],
    ['matched', pyrBt.id, booked, '300', '300']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.lines.filter((l) => !['matched', 'acknowledged'].includes(l.outcome)).length, 0);
});
