/*
 * sdk-fidelity.test.mjs - the emulator through the official stripe-node SDK.
 *
 * Every call Tally makes is made with `new Stripe(key, {host, port,
 * protocol: 'http'})`, the fields Tally relies on are asserted, and every
 * response body and every webhook event body is recorded to JSON files in a
 * temp dir. At the end a .ts file assigns each recording to a variable typed
 * with the SDK's own type (Stripe.PaymentIntent, Stripe.Event,
 * Stripe.ApiList<Stripe.Refund> ...) and `tsc --strict --noEmit` type-checks
 * it: excess-property checks on the object literals catch fields the SDK does
 * not know, missing required fields fail too. That is the proof that the
 * emulator's JSON has the shapes of API version 2026-10-28.endive.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Stripe from 'stripe';
import { startEmulator, startReceiver } from '../testlib/harness.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('official SDK against the emulator, with recorded shapes type-checked by tsc', async (t) => {
  const platformHook = await startReceiver();
  const connectHook = await startReceiver();
  const emu = await startEmulator([
    '--webhook', `${platformHook.url}=whsec_platform`,
    '--connect-webhook', `${connectHook.url}=whsec_connect`,
  ]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stripe-emu-recordings-'));
  const recordings = [];
  const rec = (name, type, value) => {
    const json = JSON.parse(JSON.stringify(value)); // drops the SDK's non-enumerable lastResponse
    recordings.push({ name, type });
    fs.writeFileSync(path.join(dir, `${String(recordings.length).padStart(3, '0')}-${name}.json`), JSON.stringify(json, null, 2));
    return value;
  };
  const stripe = emu.stripe();
  t.after(async () => {
    await emu.stop();
    await platformHook.close();
    await connectHook.close();
    if (!process.env.KEEP_RECORDINGS) fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`recordings kept in ${dir}`);
  });

  let account;
  await t.test('accounts, account links, onboarding', async () => {
    account = rec('account_create', 'Stripe.Account', await stripe.accounts.create({
      type: 'express',
      country: 'US',
      email: 'seller@example.com',
      capabilities: { transfers: { requested: true } },
      metadata: { tally_seller: 's_1' },
    }));
    assert.match(account.id, /^acct_/);
    assert.equal(account.charges_enabled, false);
    assert.equal(account.payouts_enabled, false);
    assert.equal(account.details_submitted, false);
    assert.ok(account.requirements.currently_due.length > 0);
    assert.equal(account.capabilities.transfers, 'inactive');
    const link = rec('account_link', 'Stripe.AccountLink', await stripe.accountLinks.create({
      account: account.id,
      refresh_url: 'http://localhost:9/refresh',
      return_url: 'http://localhost:9/return',
      type: 'account_onboarding',
    }));
    assert.equal(link.object, 'account_link');
    assert.ok(link.url.startsWith(`${emu.url}/__emu/onboarding/${account.id}`));
    assert.ok(link.expires_at > link.created);
    await emu.ctl('POST', `/__emu/accounts/${account.id}/complete_onboarding`);
    account = rec('account_retrieve', 'Stripe.Account', await stripe.accounts.retrieve(account.id));
    assert.equal(account.charges_enabled, true);
    assert.equal(account.payouts_enabled, true);
    assert.deepEqual(account.requirements.currently_due, []);
    assert.equal(account.capabilities.transfers, 'active');
    const list = rec('account_list', 'Stripe.ApiList<Stripe.Account>', await stripe.accounts.list({ limit: 3 }));
    assert.equal(list.data[0].id, account.id);
  });

  let pi;
  await t.test('payment intents: create, update, confirm (automatic_async), retrieve with expand', async () => {
    pi = rec('pi_create', 'Stripe.PaymentIntent', await stripe.paymentIntents.create({
      amount: 5000,
      currency: 'usd',
      automatic_payment_methods: { enabled: true },
      metadata: { tally_id: 'chk_fidelity' },
      description: 'Order 1',
      receipt_email: 'buyer@example.com',
      transfer_group: 'grp_fidelity',
    }));
    assert.match(pi.id, /^pi_/);
    assert.equal(pi.status, 'requires_payment_method');
    assert.equal(pi.capture_method, 'automatic_async');
    assert.match(pi.client_secret, new RegExp(`^${pi.id}_secret_`));
    assert.equal(pi.metadata.tally_id, 'chk_fidelity');
    assert.equal(pi.livemode, false);
    assert.ok(Number.isInteger(pi.created));
    pi = rec('pi_update', 'Stripe.PaymentIntent', await stripe.paymentIntents.update(pi.id, { metadata: { extra: 'yes' } }));
    assert.deepEqual(pi.metadata, { tally_id: 'chk_fidelity', extra: 'yes' });
    await assert.rejects(stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }), (err) => {
      assert.equal(err.statusCode, 400);
      assert.equal(err.param, 'return_url');
      return true;
    });
    pi = rec('pi_confirm', 'Stripe.PaymentIntent', await stripe.paymentIntents.confirm(pi.id, {
      payment_method: 'pm_card_visa',
      return_url: 'http://localhost:9/return',
    }));
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.amount_received, 5000);
    assert.match(pi.latest_charge, /^ch_/);
    assert.match(pi.payment_method, /^pm_/);
    await emu.flush();
    const full = rec('pi_retrieve_expanded', 'Stripe.PaymentIntent', await stripe.paymentIntents.retrieve(pi.id, {
      expand: ['latest_charge.balance_transaction'],
    }));
    const ch = full.latest_charge;
    assert.equal(ch.object, 'charge');
    assert.equal(ch.payment_intent, pi.id);
    assert.equal(ch.amount, 5000);
    assert.equal(ch.amount_captured, 5000);
    assert.equal(ch.captured, true);
    assert.equal(ch.paid, true);
    assert.equal(ch.status, 'succeeded');
    assert.equal(ch.transfer_group, 'grp_fidelity');
    assert.equal(ch.metadata.tally_id, 'chk_fidelity');
    assert.equal(ch.refunds, undefined);
    const bt = ch.balance_transaction;
    assert.equal(bt.object, 'balance_transaction');
    assert.equal(bt.type, 'charge');
    assert.equal(bt.fee, Math.round(5000 * 0.029) + 30);
    assert.equal(bt.net, 5000 - bt.fee);
    assert.equal(bt.status, 'pending');
    assert.equal(bt.source, ch.id);
    rec('pi_retrieve', 'Stripe.PaymentIntent', await stripe.paymentIntents.retrieve(pi.id));
  });

  await t.test('payment intents: list, search, manual capture, cancel, decline', async () => {
    const list = rec('pi_list', 'Stripe.ApiList<Stripe.PaymentIntent>', await stripe.paymentIntents.list({
      created: { gte: pi.created - 1 },
      limit: 5,
    }));
    assert.equal(list.object, 'list');
    assert.equal(list.url, '/v1/payment_intents');
    assert.equal(list.data[0].id, pi.id);
    const found = rec('pi_search', 'Stripe.ApiSearchResult<Stripe.PaymentIntent>', await stripe.paymentIntents.search({
      query: "metadata['tally_id']:'chk_fidelity'",
    }));
    assert.equal(found.object, 'search_result');
    assert.deepEqual(found.data.map((p) => p.id), [pi.id]);

    let manual = rec('pi_create_manual', 'Stripe.PaymentIntent', await stripe.paymentIntents.create({
      amount: 3000,
      currency: 'eur',
      payment_method_types: ['card'],
      payment_method: 'pm_card_mastercard',
      capture_method: 'manual',
      confirm: true,
    }));
    assert.equal(manual.status, 'requires_capture');
    assert.equal(manual.amount_capturable, 3000);
    manual = rec('pi_capture', 'Stripe.PaymentIntent', await stripe.paymentIntents.capture(manual.id, { amount_to_capture: 2500 }));
    assert.equal(manual.status, 'succeeded');
    assert.equal(manual.amount_received, 2500);
    const mch = rec('charge_retrieve', 'Stripe.Charge', await stripe.charges.retrieve(manual.latest_charge, { expand: ['balance_transaction'] }));
    assert.equal(mch.amount_captured, 2500);
    assert.equal(mch.amount_refunded, 500);
    assert.equal(mch.balance_transaction.amount, 2500);

    const toCancel = rec('pi_create_default', 'Stripe.PaymentIntent', await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }));
    const canceled = rec('pi_cancel', 'Stripe.PaymentIntent', await stripe.paymentIntents.cancel(toCancel.id, {
      cancellation_reason: 'abandoned',
    }));
    assert.equal(canceled.status, 'canceled');
    assert.equal(canceled.cancellation_reason, 'abandoned');
    await assert.rejects(stripe.paymentIntents.cancel(pi.id), (err) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, 'payment_intent_unexpected_state');
      return true;
    });

    await assert.rejects(
      stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_chargeDeclinedInsufficientFunds', confirm: true }),
      (err) => {
        assert.ok(err instanceof Stripe.errors.StripeCardError);
        assert.equal(err.statusCode, 402);
        assert.equal(err.code, 'card_declined');
        assert.equal(err.decline_code, 'insufficient_funds');
        assert.equal(err.payment_intent.status, 'requires_payment_method');
        assert.equal(err.payment_intent.last_payment_error.decline_code, 'insufficient_funds');
        rec('decline_error_payment_intent', 'Stripe.PaymentIntent', err.raw.payment_intent);
        rec('decline_error_payment_method', 'Stripe.PaymentMethod', err.raw.payment_method);
        return true;
      },
    );
    const pmId = (await stripe.paymentIntents.retrieve(pi.id)).payment_method;
    rec('payment_method_retrieve', 'Stripe.PaymentMethod', await stripe.paymentMethods.retrieve(pmId));
  });

  await t.test('refunds: create, retrieve, update, list', async () => {
    const r1 = rec('refund_create', 'Stripe.Refund', await stripe.refunds.create({
      payment_intent: pi.id,
      amount: 1500,
      reason: 'requested_by_customer',
      metadata: { tally_refund: 'r1' },
    }));
    assert.match(r1.id, /^re_/);
    assert.equal(r1.amount, 1500);
    assert.equal(r1.charge, pi.latest_charge);
    assert.equal(r1.payment_intent, pi.id);
    assert.equal(r1.status, 'succeeded', 'a card refund: succeeded at creation');
    await emu.flush();
    const r1b = rec('refund_retrieve', 'Stripe.Refund', await stripe.refunds.retrieve(r1.id));
    assert.equal(r1b.status, 'succeeded');
    rec('refund_update', 'Stripe.Refund', await stripe.refunds.update(r1.id, { metadata: { note: 'x' } }));
    const list = rec('refund_list', 'Stripe.ApiList<Stripe.Refund>', await stripe.refunds.list({ payment_intent: pi.id }));
    assert.deepEqual(list.data.map((r) => r.id), [r1.id]);
    const byCharge = rec('refund_list_by_charge', 'Stripe.ApiList<Stripe.Refund>', await stripe.refunds.list({
      charge: pi.latest_charge,
      expand: ['data.balance_transaction'],
    }));
    assert.equal(byCharge.data[0].balance_transaction.amount, -1500);
    const ch = rec('charge_after_refund', 'Stripe.Charge', await stripe.charges.retrieve(pi.latest_charge));
    assert.equal(ch.amount_refunded, 1500);
    assert.equal(ch.refunded, false);
  });

  await t.test('balance, transfers, reversals, balance transactions', async () => {
    const before = rec('balance_retrieve', 'Stripe.Balance', await stripe.balance.retrieve());
    assert.equal(before.object, 'balance');
    const usd = before.pending.find((b) => b.currency === 'usd');
    assert.ok(usd.amount > 0);
    await assert.rejects(
      stripe.transfers.create({ amount: 1000, currency: 'usd', destination: account.id }),
      (err) => err.code === 'balance_insufficient' && err.statusCode === 400,
    );
    await emu.ctl('POST', '/__emu/balance/release', {});
    const after = rec('balance_after_release', 'Stripe.Balance', await stripe.balance.retrieve());
    assert.equal(after.available.find((b) => b.currency === 'usd').amount, usd.amount);
    const tr = rec('transfer_create', 'Stripe.Transfer', await stripe.transfers.create({
      amount: 1000,
      currency: 'usd',
      destination: account.id,
      transfer_group: 'grp_fidelity',
      metadata: { tally_payout: 'p1' },
    }));
    assert.match(tr.id, /^tr_/);
    assert.equal(tr.destination, account.id);
    assert.equal(tr.reversals.object, 'list');
    rec('transfer_retrieve', 'Stripe.Transfer', await stripe.transfers.retrieve(tr.id));
    const trs = rec('transfer_list', 'Stripe.ApiList<Stripe.Transfer>', await stripe.transfers.list({ transfer_group: 'grp_fidelity' }));
    assert.deepEqual(trs.data.map((x) => x.id), [tr.id]);
    const rv = rec('transfer_reversal', 'Stripe.TransferReversal', await stripe.transfers.createReversal(tr.id, {
      amount: 400,
      metadata: { why: 'refund' },
    }));
    assert.match(rv.id, /^trr_/);
    assert.equal(rv.transfer, tr.id);
    const rvs = rec('transfer_reversals_list', 'Stripe.ApiList<Stripe.TransferReversal>', await stripe.transfers.listReversals(tr.id));
    assert.equal(rvs.data[0].id, rv.id);
    const tr2 = rec('transfer_after_reversal', 'Stripe.Transfer', await stripe.transfers.retrieve(tr.id));
    assert.equal(tr2.amount_reversed, 400);
    assert.equal(tr2.reversed, false);
    const bts = rec('balance_transactions_list', 'Stripe.ApiList<Stripe.BalanceTransaction>', await stripe.balanceTransactions.list({
      limit: 100,
      expand: ['data.source'],
    }));
    const types = bts.data.map((b) => b.type);
    for (const ty of ['charge', 'refund', 'transfer', 'transfer_refund']) assert.ok(types.includes(ty), ty);
    const bySource = rec('balance_transactions_by_source', 'Stripe.ApiList<Stripe.BalanceTransaction>', await stripe.balanceTransactions.list({
      source: pi.latest_charge,
    }));
    assert.equal(bySource.data.length, 1);
    rec('balance_transaction_retrieve', 'Stripe.BalanceTransaction', await stripe.balanceTransactions.retrieve(bySource.data[0].id));
    const acctBalance = rec('connected_balance', 'Stripe.Balance', await stripe.balance.retrieve({}, { stripeAccount: account.id }));
    assert.equal(acctBalance.available.find((b) => b.currency === 'usd').amount, 600);
  });

  await t.test('disputes, payouts, events', async () => {
    const other = rec('pi_create_automatic', 'Stripe.PaymentIntent', await stripe.paymentIntents.create({
      amount: 2500, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_visa', confirm: true, capture_method: 'automatic',
    }));
    const dp = rec('emu_dispute_open', 'Stripe.Dispute', await emu.ctl('POST', `/__emu/charges/${other.latest_charge}/dispute`, { amount: 2000, reason: 'fraudulent' }));
    const d = rec('dispute_retrieve', 'Stripe.Dispute', await stripe.disputes.retrieve(dp.id));
    assert.equal(d.status, 'needs_response');
    assert.equal(d.amount, 2000);
    assert.equal(d.balance_transactions[0].amount, -2000);
    assert.equal(d.balance_transactions[0].fee, 1500);
    rec('dispute_list', 'Stripe.ApiList<Stripe.Dispute>', await stripe.disputes.list());
    await emu.ctl('POST', `/__emu/accounts/${account.id}/fail_payout`, {});
    const pos = rec('payouts_list', 'Stripe.ApiList<Stripe.Payout>', await stripe.payouts.list({}, { stripeAccount: account.id }));
    assert.equal(pos.data[0].status, 'failed');
    const evs = rec('events_list', 'Stripe.ApiList<Stripe.Event>', await stripe.events.list({
      types: ['payment_intent.succeeded', 'charge.refunded'],
      limit: 100,
    }));
    assert.ok(evs.data.length >= 2);
    assert.ok(evs.data.every((e) => e.type === 'payment_intent.succeeded' || e.type === 'charge.refunded'));
    const ev = rec('event_retrieve', 'Stripe.Event', await stripe.events.retrieve(evs.data[0].id));
    assert.equal(ev.api_version, '2026-10-28.endive');
    const all = rec('events_list_all', 'Stripe.ApiList<Stripe.Event>', await stripe.events.list({ limit: 100 }));
    assert.ok(all.data.length > 10);
    const acctEvents = rec('events_connected', 'Stripe.ApiList<Stripe.Event>', await stripe.events.list({}, { stripeAccount: account.id }));
    assert.ok(acctEvents.data.some((e) => e.type === 'payout.failed' && e.account === account.id));
  });

  await t.test('the remaining flows, so that every event shape gets recorded', async () => {
    const three = await stripe.paymentIntents.create({
      amount: 1800, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_authenticationRequired', confirm: true,
    });
    rec('pi_requires_action', 'Stripe.PaymentIntent', three);
    rec('emu_authenticate', 'Stripe.PaymentIntent', await emu.ctl('POST', `/__emu/payment_intents/${three.id}/authenticate`, { result: 'succeed' }));
    const threeFail = await stripe.paymentIntents.create({
      amount: 1800, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_threeDSecureRequired', confirm: true,
      return_url: 'http://localhost:9/back',
    });
    rec('pi_requires_action_redirect', 'Stripe.PaymentIntent', threeFail);
    rec('emu_authenticate_fail', 'Stripe.PaymentIntent', await emu.ctl('POST', `/__emu/payment_intents/${threeFail.id}/authenticate`, { result: 'fail' }));
    const proc = rec('pi_processing', 'Stripe.PaymentIntent', await stripe.paymentIntents.create({
      amount: 1900, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_processing', confirm: true,
    }));
    rec('charge_pending', 'Stripe.Charge', await stripe.charges.retrieve(proc.latest_charge));
    rec('emu_settle', 'Stripe.PaymentIntent', await emu.ctl('POST', `/__emu/payment_intents/${proc.id}/settle`));
    await emu.ctl('POST', '/__emu/refunds/fail_next', { count: 1 });
    const bad = rec('refund_create_failing', 'Stripe.Refund', await stripe.refunds.create({ payment_intent: proc.id, amount: 500 }));
    await emu.flush();
    const failed = rec('refund_failed', 'Stripe.Refund', await stripe.refunds.retrieve(bad.id));
    assert.equal(failed.status, 'failed');
    rec('charge_update', 'Stripe.Charge', await stripe.charges.update(proc.latest_charge, { metadata: { note: 'n' }, description: 'd' }));
    const dp = await emu.ctl('POST', `/__emu/charges/${proc.latest_charge}/dispute`, {});
    rec('dispute_update', 'Stripe.Dispute', await stripe.disputes.update(dp.id, { evidence: { product_description: 'a book' }, submit: true }));
    rec('emu_dispute_won', 'Stripe.Dispute', await emu.ctl('POST', `/__emu/disputes/${dp.id}/close`, { outcome: 'won' }));
    const trs = await stripe.transfers.list({ limit: 1 });
    rec('transfer_update', 'Stripe.Transfer', await stripe.transfers.update(trs.data[0].id, { metadata: { x: 'y' } }));
    rec('account_update', 'Stripe.Account', await stripe.accounts.update(account.id, { metadata: { tier: 'gold' } }));
    rec('account_delete', 'Stripe.DeletedAccount', await stripe.accounts.del((await stripe.accounts.create({ type: 'express' })).id));
    const processingFail = await stripe.paymentIntents.create({
      amount: 1900, currency: 'usd', payment_method_types: ['card'], payment_method: 'pm_card_processing', confirm: true,
    });
    rec('emu_settle_fail', 'Stripe.PaymentIntent', await emu.ctl('POST', `/__emu/payment_intents/${processingFail.id}/settle`, { result: 'fail' }));
    const pmd = rec('pi_payment_method_data', 'Stripe.PaymentIntent', await stripe.paymentIntents.create({
      amount: 1000, currency: 'usd', payment_method_types: ['card'], confirm: true,
      payment_method_data: { type: 'card', card: { number: '4000000000000077', exp_month: 12, exp_year: 2034, cvc: '123' } },
    }));
    assert.equal(pmd.status, 'succeeded');
  });

  await t.test('webhook event bodies are recorded too', async () => {
    await emu.flush();
    const bodies = [...platformHook.received, ...connectHook.received].map((r) => r.json);
    assert.ok(bodies.length > 20, `got ${bodies.length} webhook bodies`);
    const seen = new Set();
    for (const ev of bodies) {
      seen.add(ev.type);
      rec(`webhook_${ev.type.replace(/\./g, '_')}`, 'Stripe.Event', ev);
    }
    for (const ty of [
      'payment_intent.created', 'payment_intent.succeeded', 'charge.succeeded', 'charge.updated', 'charge.refunded',
      'refund.created', 'refund.updated', 'charge.refund.updated', 'transfer.created', 'transfer.reversed',
      'charge.dispute.created', 'charge.dispute.funds_withdrawn', 'payment_intent.payment_failed', 'charge.failed',
      'payment_intent.canceled', 'charge.captured', 'payment_intent.amount_capturable_updated', 'balance.available',
      'payment_intent.requires_action', 'payment_intent.processing', 'charge.pending', 'refund.failed',
      'charge.dispute.updated', 'charge.dispute.funds_reinstated', 'charge.dispute.closed', 'transfer.updated',
    ]) assert.ok(seen.has(ty), `platform webhook ${ty}`);
    const connectTypes = new Set(connectHook.received.map((r) => r.json.type));
    for (const ty of ['account.updated', 'payout.created', 'payout.failed']) assert.ok(connectTypes.has(ty), `connect webhook ${ty}`);
  });

  await t.test('tsc --strict accepts every recording with the SDK types', () => {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    assert.equal(files.length, recordings.length);
    let ts = "import Stripe from 'stripe';\n\n";
    files.forEach((f, i) => {
      const body = fs.readFileSync(path.join(dir, f), 'utf8');
      ts += `// ${f}\nexport const r${i + 1}: ${recordings[i].type} = ${body};\n\n`;
    });
    fs.writeFileSync(path.join(dir, 'recordings.ts'), ts);
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const tsc = path.join(REPO, 'node_modules', '.bin', 'tsc');
    try {
      execFileSync(tsc, [
        '--strict', '--noEmit', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext',
        '--moduleResolution', 'nodenext', path.join(dir, 'recordings.ts'),
      ], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      assert.fail(`tsc rejected the recordings (kept in ${dir}):\n${err.stdout}${err.stderr}`);
    }
  });

  await t.test('negative control: tsc rejects an unknown field and a missing required field', () => {
    const first = JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('-pi_create.json'))), 'utf8'));
    const extra = { ...first, not_a_stripe_field: 1 };
    const { amount_received, ...lacking } = first;
    void amount_received;
    const ts = "import Stripe from 'stripe';\n" +
      `export const bad1: Stripe.PaymentIntent = ${JSON.stringify(extra)};\n` +
      `export const bad2: Stripe.PaymentIntent = ${JSON.stringify(lacking)};\n`;
    fs.writeFileSync(path.join(dir, 'negative.ts'), ts);
    const tsc = path.join(REPO, 'node_modules', '.bin', 'tsc');
    let output = '';
    assert.throws(() => {
      try {
        execFileSync(tsc, ['--strict', '--noEmit', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext',
          '--moduleResolution', 'nodenext', path.join(dir, 'negative.ts')], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
      } catch (err) {
        output = `${err.stdout}${err.stderr}`;
        throw err;
      }
    });
    assert.match(output, /not_a_stripe_field/);
    assert.match(output, /amount_received/);
  });
});
