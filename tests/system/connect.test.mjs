/*
 * connect.test.mjs - Connect onboarding of payees (core/connect.c)
 * against the Stripe emulator:
 * - POST /api/v1/accounts/{id}/connect makes one Express account per
 *   payee: a retry and concurrent calls return the same connected
 *   account (one at the emulator), each with a fresh onboarding link;
 *   buyers, the platform and the Stripe-fee account are 422, an unknown
 *   account 404, no key 401;
 * - onboarding completed at the emulator sends account.updated to the
 *   Connect endpoint: payouts_enabled and charges_enabled become true in
 *   Tally and no requirement is due any more;
 * - an account.updated older than the state applied is ignored; a newer
 *   one applies (forward in time, whatever it says).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  all, assertErr, assertLedger, craftEvent, esc, eventRow, makeAccount, newBuyer, paymentConf, postWebhook,
  randomString, server, sql1, until,
} from './lib/checkout_helpers.mjs';
import { req, startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ name: 'connect', stripe: true, conf: paymentConf() });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) await assertLedger(stack);
  } finally {
    await stack?.stop();
  }
});

/* connect - POST /api/v1/accounts/{id}/connect */
function connect(id) {
  return server(stack, 'POST', `/api/v1/accounts/${id}/connect`);
}

/* flags - the account's Connect state as stored */
async function flags(id) {
  const rows = await stack.sql('SELECT charges_enabled, payouts_enabled, IFNULL(requirements_due, \'\'), ' +
    `connect_event_created FROM accounts WHERE id = ${esc(id)}`);
  const [ch, po, due, created] = rows[0];
  return { charges: ch === '1', payouts: po === '1', due, created: Number(created) };
}

/* emuAccounts - the emulator's connected accounts made for Tally account 'id' */
async function emuAccounts(id) {
  const list = (await stack.emu('GET', '/__emu/objects/accounts')).data;
  return list.filter((a) => a.metadata?.tally_id === id);
}

describe('onboarding', () => {
  test('one Express account per payee: retries and concurrent calls get the same one, each a fresh link', async () => {
    const talent = await makeAccount(stack, 'talent', { email: `t-${randomString(6).toLowerCase()}@example.test` });
    const first = await connect(talent.id);
    assert.equal(first.status, 200, first.body);
    const c = first.json;
    assert.equal(c.account_id, talent.id);
    assert.match(c.connect_account_id, /^acct_/);
    assert.match(c.onboarding_url, new RegExp(`/__emu/onboarding/${c.connect_account_id}\\?link=`));
    assert.equal(c.payouts_enabled, false);
    assert.equal(c.charges_enabled, false);
    assert.ok(Array.isArray(c.requirements_due), 'requirements_due is a list');

    const again = await connect(talent.id);
    assert.equal(again.status, 200, again.body);
    assert.equal(again.json.connect_account_id, c.connect_account_id, 'the retry returns the same account');
    assert.notEqual(again.json.onboarding_url, c.onboarding_url, 'a fresh link each call');
    const acct = (await emuAccounts(talent.id));
    assert.equal(acct.length, 1, 'one account at Stripe');
    assert.equal(acct[0].type, 'express');
    assert.equal(acct[0].email, talent.email);
    assert.equal(acct[0].capabilities.transfers, 'inactive', 'transfers requested, not active yet');

    /* every payee kind; ten calls at once for one new payee */
    for (const kind of ['agent', 'ambassador', 'host_partner']) {
      const a = await makeAccount(stack, kind);
      const rs = await all(10, () => connect(a.id));
      for (const r of rs) assert.equal(r.status, 200, `${kind}: ${r.body}`);
      assert.equal(new Set(rs.map((r) => r.json.connect_account_id)).size, 1, `${kind}: one connected account`);
      assert.equal((await emuAccounts(a.id)).length, 1, `${kind}: one account at Stripe`);
      assert.equal(await sql1(stack, `SELECT connect_account_id FROM accounts WHERE id = ${esc(a.id)}`),
        rs[0].json.connect_account_id);
    }
  });

  test('only payees: buyers and system accounts 422, unknown 404, no key 401', async () => {
    const b = await newBuyer(stack);
    await req(stack, 'GET', '/api/v1/me', { headers: b.headers });
    const buyerAcc = await sql1(stack, `SELECT account_id FROM buyer_identities WHERE sub = '${b.sub}'`);
    assert.ok(buyerAcc, 'the buyer has an account');
    for (const id of [buyerAcc, 'acc_platform', 'acc_stripe_fee']) {
      assertErr(await connect(id), 422, 'wrong_account_kind', 'id', id);
      assert.equal((await emuAccounts(id)).length, 0, `${id}: nothing at Stripe`);
    }
    assertErr(await connect('acc_doesnotexist'), 404, 'resource_missing', 'id');
    const talent = await makeAccount(stack, 'talent');
    const anon = await req(stack, 'POST', `/api/v1/accounts/${talent.id}/connect`, { json: {} });
    assert.equal(anon.status, 401, anon.body);
    assertErr(await server(stack, 'POST', `/api/v1/accounts/${talent.id}/connect`, { colour: 'red' }), 400,
      'parameter_unknown', 'colour');
    assert.equal((await emuAccounts(talent.id)).length, 0, 'refused calls make no account');
  });

  test('onboarding at the emulator -> account.updated -> payouts_enabled in Tally; older events ignored', async () => {
    const talent = await makeAccount(stack, 'talent');
    const c = (await connect(talent.id)).json;
    assert.equal((await flags(talent.id)).payouts, false);
    await stack.emu('POST', `/__emu/accounts/${c.connect_account_id}/complete_onboarding`);
    await until(async () => (await flags(talent.id)).payouts, 'account.updated to enable payouts in Tally');
    const f = await flags(talent.id);
    assert.equal(f.charges, true);
    assert.equal(f.due, '', 'nothing due after onboarding');
    assert.ok(f.created > 0, 'the applied event time is kept');
    const shown = await server(stack, 'GET', `/api/v1/accounts/${talent.id}`);
    assert.equal(shown.json.payouts_enabled, true, shown.body);
    const again = await connect(talent.id);
    assert.equal(again.json.payouts_enabled, true);
    assert.deepEqual(again.json.requirements_due, []);

    /* an older event saying "disabled" changes nothing */
    const obj = (await stack.stripe('GET', `/v1/accounts/${c.connect_account_id}`)).json;
    const stale = {
      ...craftEvent('account.updated', {
        ...obj, payouts_enabled: false, charges_enabled: false,
        requirements: { ...obj.requirements, currently_due: ['external_account'] },
      }, { created: f.created - 100 }),
      account: c.connect_account_id,
    };
    const r = await postWebhook(stack, stale, { connect: true });
    assert.equal(r.status, 200, r.body);
    assert.equal((await eventRow(stack, stale.id)).status, 'ignored');
    assert.deepEqual(await flags(talent.id), f, 'an older event is ignored');

    /* a newer one applies, whatever it says; then the next newer one */
    const newer = { ...stale, id: `evt_test${randomString(20)}`, created: f.created + 100 };
    assert.equal((await postWebhook(stack, newer, { connect: true })).status, 200);
    assert.equal((await eventRow(stack, newer.id)).status, 'processed');
    const g = await flags(talent.id);
    assert.deepEqual([g.payouts, g.charges, g.due, g.created], [false, false, 'external_account', f.created + 100]);
    const back = {
      ...craftEvent('account.updated', obj, { created: f.created + 200 }), account: c.connect_account_id,
    };
    assert.equal((await postWebhook(stack, back, { connect: true })).status, 200);
    const h = await flags(talent.id);
    assert.deepEqual([h.payouts, h.charges, h.due], [true, true, '']);
  });

  test('account.updated for an account Tally does not have is stored ignored', async () => {
    const acct = (await stack.stripe('POST', '/v1/accounts', { type: 'express' })).json;
    const ev = { ...craftEvent('account.updated', acct), account: acct.id };
    const r = await postWebhook(stack, ev, { connect: true });
    assert.equal(r.status, 200, r.body);
    assert.equal((await eventRow(stack, ev.id)).status, 'ignored');
  });
});
