/*
 * settlement.test.mjs - a platform that settles in one currency
 * (POST /__emu/settlement): a jpy charge, its refund and its dispute land
 * in the usd balance as balance transactions in usd, amount converted
 * (halves away from zero), fee in usd, exchange_rate set ("the amount in
 * currency A, times exchange_rate, is the amount in currency B", major
 * units); the charge, refund and dispute themselves stay in jpy.  Without
 * a settlement currency nothing is converted and exchange_rate is null.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, paidIntent } from '../testlib/harness.mjs';

test('settlement currency and exchange rates', async (t) => {
  const emu = await startEmulator();
  const stripe = emu.stripe();
  t.after(() => emu.stop());
  const bal = async (cur) => {
    const b = await stripe.balance.retrieve();
    const pick = (l) => l.find((x) => x.currency === cur)?.amount ?? 0;
    return { available: pick(b.available), pending: pick(b.pending) };
  };

  await t.test('same currency (the default): nothing converted, exchange_rate null', async () => {
    await emu.reset();
    assert.deepEqual(await emu.ctl('GET', '/__emu/settlement'), { currency: null, exchange_rates: {} });
    const pi = await paidIntent(emu, { amount: 3020, currency: 'jpy' });
    const ch = await stripe.charges.retrieve(pi.latest_charge);
    const bt = await stripe.balanceTransactions.retrieve(ch.balance_transaction);
    assert.deepEqual([bt.currency, bt.amount, bt.exchange_rate], ['jpy', 3020, null]);
    assert.equal(bt.fee, Math.round((3020 * 360) / 10000), 'the jpy fee');
    assert.deepEqual(await bal('jpy'), { available: 0, pending: 3020 - bt.fee });
  });

  await t.test('jpy on a usd platform: charge, refund and dispute settle in usd at exchange_rate', async () => {
    await emu.reset();
    const set = await emu.ctl('POST', '/__emu/settlement', { currency: 'usd', exchange_rates: { jpy: 0.0067 } });
    assert.deepEqual(set, { currency: 'usd', exchange_rates: { jpy: 0.0067 } });
    const pi = await paidIntent(emu, { amount: 3020, currency: 'jpy' });
    assert.deepEqual([pi.currency, pi.amount_received], ['jpy', 3020]);
    const ch = await stripe.charges.retrieve(pi.latest_charge, { expand: ['balance_transaction'] });
    assert.deepEqual([ch.currency, ch.amount], ['jpy', 3020], 'the charge keeps its currency');
    const bt = ch.balance_transaction;
    /* ¥3020 × 0.0067 = $20.234 -> 2023 cents; fee round(2.9 %) + 30 in usd */
    assert.deepEqual([bt.currency, bt.amount, bt.exchange_rate], ['usd', 2023, 0.0067]);
    assert.equal(bt.fee, Math.round((2023 * 290) / 10000) + 30);
    assert.equal(bt.net, 2023 - bt.fee);
    assert.equal(bt.fee_details[0].currency, 'usd');
    assert.deepEqual(await bal('usd'), { available: 0, pending: bt.net });
    assert.deepEqual(await bal('jpy'), { available: 0, pending: 0 }, 'no jpy balance');

    const re = await stripe.refunds.create({ charge: ch.id, amount: 1001 });
    assert.deepEqual([re.currency, re.amount], ['jpy', 1001]);
    const rbt = await stripe.balanceTransactions.retrieve(re.balance_transaction);
    /* ¥1001 × 0.0067 = $6.7067 -> 671 cents */
    assert.deepEqual([rbt.currency, rbt.amount, rbt.fee, rbt.exchange_rate], ['usd', -671, 0, 0.0067]);
    const after = await bal('usd');
    assert.equal(after.available + after.pending, bt.net - 671);

    const dp = await emu.ctl('POST', `/__emu/charges/${ch.id}/dispute`);
    assert.deepEqual([dp.currency, dp.amount], ['jpy', 3020 - 1001]);
    const [wbt] = dp.balance_transactions;
    /* ¥2019 × 0.0067 = $13.5273 -> 1353 cents; the usd dispute fee */
    assert.deepEqual([wbt.currency, wbt.amount, wbt.fee, wbt.exchange_rate], ['usd', -1353, 1500, 0.0067]);
    const closed = await emu.ctl('POST', `/__emu/disputes/${dp.id}/close`, { outcome: 'won' });
    const back = closed.balance_transactions[1];
    assert.deepEqual([back.currency, back.amount, back.fee, back.exchange_rate], ['usd', 1353, 0, 0.0067]);
    const end = await bal('usd');
    assert.equal(end.available + end.pending, bt.net - 671 - 1500, 'the balance is the sum of the nets');
  });

  await t.test('default rates, halves away from zero, and the settlement switched off again', async () => {
    await emu.reset();
    await emu.ctl('POST', '/__emu/settlement', { currency: 'usd' });
    const pi = await paidIntent(emu, { amount: 1000, currency: 'eur' });
    const ch = await stripe.charges.retrieve(pi.latest_charge, { expand: ['balance_transaction'] });
    assert.deepEqual([ch.balance_transaction.currency, ch.balance_transaction.amount,
      ch.balance_transaction.exchange_rate], ['usd', 1080, 1.08]);
    await emu.ctl('POST', '/__emu/settlement', { exchange_rates: { eur: 1.2345 } });
    /* €2.10 × 1.2345 = $2.59245 -> 259; €0.50 × 1.2345 = $0.61725 -> 62 */
    const a = await paidIntent(emu, { amount: 210, currency: 'eur' });
    const b = await paidIntent(emu, { amount: 50, currency: 'eur' });
    for (const [p, want] of [[a, 259], [b, 62]]) {
      const c = await stripe.charges.retrieve(p.latest_charge, { expand: ['balance_transaction'] });
      assert.equal(c.balance_transaction.amount, want);
    }
    await assert.rejects(emu.ctl('POST', '/__emu/settlement', { currency: 'xyz' }), (e) => e.status === 400);
    await emu.ctl('POST', '/__emu/settlement', { currency: null });
    const usd = await paidIntent(emu, { amount: 1000, currency: 'usd' });
    const uc = await stripe.charges.retrieve(usd.latest_charge, { expand: ['balance_transaction'] });
    assert.deepEqual([uc.balance_transaction.currency, uc.balance_transaction.exchange_rate], ['usd', null]);
    const e2 = await paidIntent(emu, { amount: 1000, currency: 'eur' });
    const ec = await stripe.charges.retrieve(e2.latest_charge, { expand: ['balance_transaction'] });
    assert.deepEqual([ec.balance_transaction.currency, ec.balance_transaction.amount], ['eur', 1000]);
  });
});
