/*
 * refunds-disputes.test.mjs - refunds (full, partial, several, over-refund,
 * already refunded; a card refund succeeded at once, Stripe's
 * refund-failure card 4000000000005126 succeeded then failed, fail_next;
 * asynchronous refunds behind refund_async: pending then succeeded or
 * failed; Dashboard refunds)
 * and disputes (won, lost, partial amount, refunds blocked while open) with
 * their events, balance transactions and balance effects.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, startReceiver, paidIntent } from '../testlib/harness.mjs';

test('refunds and disputes', async (t) => {
  const hook = await startReceiver();
  const emu = await startEmulator(['--webhook', `${hook.url}=whsec_rd`]);
  const stripe = emu.stripe();
  t.after(async () => {
    await emu.stop();
    await hook.close();
  });
  const fresh = async () => {
    await emu.reset();
    hook.clear();
  };
  const since = (n) => hook.events().slice(n).map((e) => e.type);
  const usd = async () => {
    const b = await stripe.balance.retrieve();
    return { available: b.available.find((x) => x.currency === 'usd').amount, pending: b.pending.find((x) => x.currency === 'usd').amount };
  };

  await t.test('full refund: a card refund is succeeded at once, events, balance transaction without fee refund', async () => {
    await fresh();
    const pi = await paidIntent(emu, { amount: 10000 });
    await emu.ctl('POST', '/__emu/balance/release');
    const before = await usd();
    await emu.flush();
    const n = hook.events().length;
    const re = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(re.status, 'succeeded', 'as on Stripe: a card refund is succeeded at creation');
    assert.equal(re.amount, 10000);
    await emu.flush();
    assert.deepEqual(since(n), ['refund.created', 'charge.refunded'], 'nothing later');
    const created = hook.events().find((e) => e.type === 'refund.created');
    assert.equal(created.data.object.status, 'succeeded');
    assert.equal((await stripe.refunds.retrieve(re.id)).status, 'succeeded');
    const chEv = hook.events().find((e) => e.type === 'charge.refunded');
    assert.equal(chEv.data.object.amount_refunded, 10000);
    assert.equal(chEv.data.object.refunded, true);
    assert.equal(chEv.data.object.refunds, undefined, 'refunds are not embedded in this API version');
    const bt = await stripe.balanceTransactions.retrieve(re.balance_transaction);
    assert.equal(bt.type, 'refund');
    assert.equal(bt.amount, -10000);
    assert.equal(bt.fee, 0);
    assert.equal(bt.net, -10000);
    assert.equal(bt.source, re.id);
    const after = await usd();
    assert.equal(after.available, before.available - 10000, 'the processing fee is not given back');
    const again = await emu.api('POST', '/v1/refunds', { charge: pi.latest_charge });
    assert.equal(again.status, 400);
    assert.equal(again.json.error.code, 'charge_already_refunded');
    const expanded = await stripe.charges.retrieve(pi.latest_charge, { expand: ['refunds'] });
    assert.deepEqual(expanded.refunds.data.map((r) => r.id), [re.id]);
  });

  await t.test('partial and several refunds; over-refund refused', async () => {
    await fresh();
    const pi = await paidIntent(emu, { amount: 5000 });
    const r1 = await stripe.refunds.create({ charge: pi.latest_charge, amount: 1000, metadata: { n: '1' } });
    const r2 = await stripe.refunds.create({ payment_intent: pi.id, amount: 1500 });
    let ch = await stripe.charges.retrieve(pi.latest_charge);
    assert.equal(ch.amount_refunded, 2500);
    assert.equal(ch.refunded, false);
    const over = await emu.api('POST', '/v1/refunds', { payment_intent: pi.id, amount: 2600 });
    assert.equal(over.status, 400);
    assert.equal(over.json.error.code, 'amount_too_large');
    assert.equal(over.json.error.param, 'amount');
    assert.match(over.json.error.message, /Refund amount \(\$26\.00\) is greater than unrefunded amount on charge \(\$25\.00\)/);
    const r3 = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(r3.amount, 2500);
    ch = await stripe.charges.retrieve(pi.latest_charge);
    assert.equal(ch.amount_refunded, 5000);
    assert.equal(ch.refunded, true);
    const list = await stripe.refunds.list({ charge: pi.latest_charge });
    assert.deepEqual(list.data.map((r) => r.id), [r3.id, r2.id, r1.id]);
    const other = await paidIntent(emu);
    await stripe.refunds.create({ payment_intent: other.id, amount: 100 });
    assert.equal((await stripe.refunds.list({ payment_intent: pi.id })).data.length, 3);
    assert.equal((await stripe.refunds.list()).data.length, 4);
    const bad = await emu.api('POST', '/v1/refunds', { amount: 100 });
    assert.equal(bad.status, 400);
    const notPaid = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const np = await emu.api('POST', '/v1/refunds', { payment_intent: notPaid.id });
    assert.equal(np.status, 400);
  });

  await t.test('refund_async: pending, then succeeded after the configurable delay', async () => {
    await fresh();
    assert.equal((await emu.ctl('GET', '/__emu/config')).refund_async, 0, 'not the default');
    await emu.ctl('POST', '/__emu/config', { refund_settle_delay_ms: 800, refund_async: 1 });
    const pi = await paidIntent(emu);
    await emu.flush();
    const n = hook.events().length;
    const re = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(re.status, 'pending');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await stripe.refunds.retrieve(re.id)).status, 'pending');
    await emu.flush();
    assert.equal((await stripe.refunds.retrieve(re.id)).status, 'succeeded');
    assert.deepEqual(since(n), ['refund.created', 'charge.refunded', 'refund.updated', 'charge.refund.updated']);
    const upd = hook.events().slice(n).find((e) => e.type === 'refund.updated');
    assert.equal(upd.data.object.status, 'succeeded');
    assert.deepEqual(upd.data.previous_attributes, { status: 'pending' });
  });

  await t.test('the refund-failure card 4000000000005126: succeeded at creation, failed later, money back', async () => {
    for (const pm of ['pm_card_refundFail', 'card number']) {
      await fresh();
      await emu.ctl('POST', '/__emu/config', { refund_settle_delay_ms: 300 });
      let pi;
      if (pm === 'card number') {
        const r = await emu.api('POST', '/v1/payment_intents', {
          amount: 4000, currency: 'usd', confirm: true, capture_method: 'automatic', payment_method_types: ['card'],
          payment_method_data: { type: 'card', card: { number: '4000 0000 0000 5126' } },
        });
        assert.equal(r.status, 200, r.text);
        pi = r.json;
      } else pi = await paidIntent(emu, { amount: 4000, pm });
      assert.equal(pi.status, 'succeeded', `${pm}: the charge succeeds`);
      await emu.ctl('POST', '/__emu/balance/release');
      const before = await usd();
      await emu.flush();
      const n = hook.events().length;
      const re = await stripe.refunds.create({ payment_intent: pi.id });
      assert.equal(re.status, 'succeeded', `${pm}: begins succeeded`);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await stripe.refunds.retrieve(re.id)).status, 'succeeded', `${pm}: still succeeded`);
      await emu.flush();
      const failed = await stripe.refunds.retrieve(re.id);
      assert.equal(failed.status, 'failed', `${pm}: then failed`);
      assert.equal(failed.failure_reason, 'expired_or_canceled_card');
      assert.deepEqual(since(n), ['refund.created', 'charge.refunded', 'refund.updated', 'charge.refund.updated',
        'refund.failed', 'charge.updated']);
      const cru = hook.events().slice(n).find((e) => e.type === 'charge.refund.updated');
      assert.equal(cru.data.object.status, 'failed');
      assert.deepEqual(cru.data.previous_attributes, { status: 'succeeded' });
      assert.equal((await stripe.charges.retrieve(pi.latest_charge)).amount_refunded, 0);
      assert.deepEqual(await usd(), before, `${pm}: the money is back`);
    }
  });

  await t.test('fail_next on a card refund: succeeded at creation, then failed', async () => {
    await fresh();
    const pi = await paidIntent(emu, { amount: 4000 });
    await emu.ctl('POST', '/__emu/refunds/fail_next', { count: 1 });
    await emu.flush();
    const n = hook.events().length;
    const re = await stripe.refunds.create({ payment_intent: pi.id, amount: 3000 });
    assert.equal(re.status, 'succeeded');
    await emu.flush();
    assert.equal((await stripe.refunds.retrieve(re.id)).status, 'failed');
    assert.deepEqual(since(n), ['refund.created', 'charge.refunded', 'refund.updated', 'charge.refund.updated',
      'refund.failed', 'charge.updated']);
    const ok = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
    await emu.flush();
    assert.equal((await stripe.refunds.retrieve(ok.id)).status, 'succeeded', 'only the next refund fails');
  });

  await t.test('refund_async + fail_next: refunds go pending then failed, the charge is refundable again', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/config', { refund_async: 1 });
    const pi = await paidIntent(emu, { amount: 4000 });
    await emu.ctl('POST', '/__emu/balance/release');
    const before = await usd();
    await emu.ctl('POST', '/__emu/refunds/fail_next', { count: 1 });
    await emu.flush();
    const n = hook.events().length;
    const re = await stripe.refunds.create({ payment_intent: pi.id, amount: 3000 });
    assert.equal(re.status, 'pending');
    await emu.flush();
    const failed = await stripe.refunds.retrieve(re.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.failure_reason, 'expired_or_canceled_card');
    const fbt = await stripe.balanceTransactions.retrieve(failed.failure_balance_transaction);
    assert.equal(fbt.type, 'refund_failure');
    assert.equal(fbt.amount, 3000);
    assert.deepEqual(since(n), ['refund.created', 'charge.refunded', 'refund.updated', 'charge.refund.updated', 'refund.failed', 'charge.updated']);
    const ch = await stripe.charges.retrieve(pi.latest_charge);
    assert.equal(ch.amount_refunded, 0);
    assert.equal(ch.refunded, false);
    assert.deepEqual(await usd(), before);
    const ok = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(ok.amount, 4000);
    await emu.flush();
    assert.equal((await stripe.refunds.retrieve(ok.id)).status, 'succeeded');
  });

  await t.test('refund_async + fail_next after_success: pending, succeeded, then failed, money back', async () => {
    await fresh();
    await emu.ctl('POST', '/__emu/config', { refund_async: 1 });
    const pi = await paidIntent(emu, { amount: 4000 });
    await emu.ctl('POST', '/__emu/balance/release');
    const before = await usd();
    await emu.ctl('POST', '/__emu/refunds/fail_next', { count: 1, after_success: true });
    await emu.flush();
    const n = hook.events().length;
    const re = await stripe.refunds.create({ payment_intent: pi.id, amount: 2500 });
    assert.equal(re.status, 'pending');
    await emu.flush();
    const failed = await stripe.refunds.retrieve(re.id);
    assert.equal(failed.status, 'failed');
    assert.deepEqual(since(n), ['refund.created', 'charge.refunded', 'refund.updated', 'charge.refund.updated',
      'refund.updated', 'charge.refund.updated', 'refund.failed', 'charge.updated']);
    const upd = hook.events().slice(n).filter((e) => e.type === 'refund.updated');
    assert.equal(upd[0].data.object.status, 'succeeded');
    assert.equal(upd[1].data.object.status, 'failed');
    assert.deepEqual(upd[1].data.previous_attributes, { status: 'succeeded' });
    assert.equal((await stripe.charges.retrieve(pi.latest_charge)).amount_refunded, 0);
    assert.deepEqual(await usd(), before);
    const ok = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
    await emu.flush();
    assert.equal((await stripe.refunds.retrieve(ok.id)).status, 'succeeded', 'only the next refund fails');
  });

  await t.test('Dashboard refund: same events, no idempotency key, a request id', async () => {
    await fresh();
    const pi = await paidIntent(emu, { amount: 3000 });
    await emu.flush();
    const n = hook.events().length;
    const re = await emu.ctl('POST', `/__emu/charges/${pi.latest_charge}/dashboard_refund`, { amount: 1000 });
    assert.equal(re.amount, 1000);
    assert.equal(re.status, 'succeeded');
    await emu.flush();
    assert.deepEqual(since(n), ['refund.created', 'charge.refunded']);
    const created = hook.events().find((e) => e.type === 'refund.created');
    assert.equal(created.request.idempotency_key, null);
    assert.match(created.request.id, /^req_/);
    assert.equal((await stripe.refunds.list({ charge: pi.latest_charge })).data[0].id, re.id);
  });

  await t.test('dispute won: funds withdrawn with a fee, reinstated without the fee', async () => {
    await fresh();
    const pi = await paidIntent(emu, { amount: 8000 });
    await emu.ctl('POST', '/__emu/balance/release');
    const before = await usd();
    await emu.flush();
    const n = hook.events().length;
    const dp = await emu.ctl('POST', `/__emu/charges/${pi.latest_charge}/dispute`, { amount: 5000, reason: 'product_not_received' });
    assert.match(dp.id, /^dp_/);
    assert.equal(dp.status, 'needs_response');
    assert.equal(dp.amount, 5000);
    const ch = await stripe.charges.retrieve(pi.latest_charge);
    assert.equal(ch.disputed, true);
    const w = dp.balance_transactions[0];
    assert.equal(w.type, 'adjustment');
    assert.equal(w.reporting_category, 'dispute');
    assert.equal(w.amount, -5000);
    assert.equal(w.fee, 1500);
    assert.equal(w.net, -6500);
    assert.equal((await usd()).available, before.available - 6500);
    const blocked = await emu.api('POST', '/v1/refunds', { payment_intent: pi.id, amount: 100 });
    assert.equal(blocked.status, 400);
    assert.equal(blocked.json.error.code, 'charge_disputed');
    const closed = await emu.ctl('POST', `/__emu/disputes/${dp.id}/close`, { outcome: 'won' });
    assert.equal(closed.status, 'won');
    assert.equal(closed.balance_transactions.length, 2);
    assert.equal(closed.balance_transactions[1].amount, 5000);
    assert.equal(closed.balance_transactions[1].fee, 0);
    assert.equal(closed.balance_transactions[1].reporting_category, 'dispute_reversal');
    assert.equal((await usd()).available, before.available - 1500);
    await emu.flush();
    assert.deepEqual(since(n), ['charge.dispute.created', 'charge.dispute.funds_withdrawn', 'charge.dispute.funds_reinstated', 'charge.dispute.closed']);
    const closedEv = hook.events().find((e) => e.type === 'charge.dispute.closed');
    assert.equal(closedEv.data.object.status, 'won');
    const d = await stripe.disputes.retrieve(dp.id);
    assert.equal(d.status, 'won');
    assert.deepEqual((await stripe.disputes.list({ charge: pi.latest_charge })).data.map((x) => x.id), [dp.id]);
    await assert.rejects(emu.ctl('POST', `/__emu/disputes/${dp.id}/close`, { outcome: 'lost' }), /400/);
  });

  await t.test('dispute lost: closed lost, no reinstatement; accepting via the API closes as lost', async () => {
    await fresh();
    const pi = await paidIntent(emu, { amount: 3000 });
    await emu.flush();
    const n = hook.events().length;
    const dp = await emu.ctl('POST', `/__emu/charges/${pi.latest_charge}/dispute`, {});
    assert.equal(dp.amount, 3000);
    assert.equal(dp.reason, 'fraudulent');
    await emu.ctl('POST', `/__emu/disputes/${dp.id}/close`, { outcome: 'lost' });
    await emu.flush();
    assert.deepEqual(since(n), ['charge.dispute.created', 'charge.dispute.funds_withdrawn', 'charge.dispute.closed']);
    assert.equal(hook.events().at(-1).data.object.status, 'lost');
    const bts = await stripe.balanceTransactions.list({ source: dp.id });
    assert.equal(bts.data.length, 1);
    const pi2 = await paidIntent(emu, { amount: 3000 });
    const dp2 = await emu.ctl('POST', `/__emu/charges/${pi2.latest_charge}/dispute`, { amount: 1000 });
    const upd = await stripe.disputes.update(dp2.id, { metadata: { case: 'c1' }, evidence: { uncategorized_text: 'receipt attached' } });
    assert.equal(upd.evidence.uncategorized_text, 'receipt attached');
    const accepted = await stripe.disputes.close(dp2.id);
    assert.equal(accepted.status, 'lost');
    await emu.ctl('POST', '/__emu/fees', { currency: 'usd', dispute_fee: 2000 });
    const pi3 = await paidIntent(emu, { amount: 3000 });
    const dp3 = await emu.ctl('POST', `/__emu/charges/${pi3.latest_charge}/dispute`, {});
    assert.equal(dp3.balance_transactions[0].fee, 2000);
  });
});
