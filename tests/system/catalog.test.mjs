/*
 * catalog.test.mjs - the catalog routes answer and refuse as documented
 * (docs/api.md, core/catalog.c), through nginx with a server API key:
 * - accounts: the four API kinds, the reserved kinds (422), bad kinds,
 *   emails and thresholds (400), unknown fields (400), 404s, the list's
 *   kind filter and cursor pagination (limit, starting_after, has_more);
 * - ambassador links and host partners: bps outside 0-10000, unknown
 *   accounts (404 naming the parameter), accounts of the wrong kind (422
 *   wrong_account_kind), a duplicate slug (409);
 * - products: unknown currency (400 currency_unsupported), negative and
 *   overflowing prices, rates outside 0-10000, unknown and wrong-kind
 *   accounts, fee rules that leave the seller negative (422
 *   negative_share) at creation and at update (the product unchanged),
 *   fields an update may not touch, pagination; the platform fee in two
 *   fields, fee_fixed_cent or fee_bps (one null, as the two columns of
 *   schema/015), never both, and the deprecated fee_kind/fee_value
 *   still accepted and answered;
 * - who may call: buyers read products but may not write them (403),
 *   nobody without credentials (401), payments are the server's.
 * No Stripe here: the catalog never calls it.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  asBuyer, assertErr, assertLedger, makeAccount, makeProduct, makeSeller, newBuyer, randomString, server,
} from './lib/checkout_helpers.mjs';
import { req, startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ name: 'catalog' });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  if (stack) await assertLedger(stack);
  await stack?.stop();
});

/* walk - every page of list 'path' with 'limit': {pages, ids} */
async function walk(path, limit, call = (p) => server(stack, 'GET', p)) {
  const pages = [];
  let after_ = null;
  for (let i = 0; i < 500; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await call(`${path}${sep}limit=${limit}${after_ ? `&starting_after=${after_}` : ''}`);
    assert.equal(res.status, 200, `${path} page ${i}: ${res.body}`);
    assert.equal(res.json.object, 'list');
    assert.ok(res.json.data.length <= limit, `page ${i} has at most ${limit} items`);
    pages.push(res.json);
    if (!res.json.has_more) break;
    assert.equal(res.json.data.length, limit, 'a page with has_more is full');
    after_ = res.json.data.at(-1).id;
  }
  assert.equal(pages.at(-1).has_more, false, 'the walk ended');
  return { pages, ids: pages.flatMap((p) => p.data.map((o) => o.id)) };
}

/* assertWalk - pages are disjoint, newest (highest id) first, complete */
function assertWalk(ids, full) {
  assert.equal(new Set(ids).size, ids.length, 'no item on two pages');
  assert.deepEqual(ids, [...ids].sort().reverse(), 'newest first (ids descending)');
  assert.deepEqual(ids, full, 'the pages together are the whole list');
}

describe('accounts', () => {
  test('the four API kinds are created: 201 and readable', async () => {
    for (const kind of ['talent', 'agent', 'ambassador', 'host_partner']) {
      const a = await makeAccount(stack, kind, {
        email: `${kind}@example.test`, display_name: `A ${kind}`, payout_threshold_cent: 2000,
      });
      assert.equal(a.object, 'account');
      assert.match(a.id, /^acc_[A-Za-z0-9]+$/);
      assert.equal(a.kind, kind);
      assert.equal(a.email, `${kind}@example.test`);
      assert.equal(a.payout_threshold_cent, 2000);
      const g = await server(stack, 'GET', `/api/v1/accounts/${a.id}`);
      assert.equal(g.status, 200);
      assert.deepEqual(g.json, a, 'GET returns what POST returned');
    }
  });

  test('reserved kinds: 422 account_kind_reserved; unknown or missing kind: 400', async () => {
    for (const kind of ['buyer', 'platform', 'stripe_fee']) {
      assertErr(await server(stack, 'POST', '/api/v1/accounts', { kind }), 422, 'account_kind_reserved', 'kind', kind);
    }
    assertErr(await server(stack, 'POST', '/api/v1/accounts', { kind: 'alien' }), 400, 'parameter_invalid', 'kind');
    assertErr(await server(stack, 'POST', '/api/v1/accounts', {}), 400, 'parameter_missing', 'kind');
    assertErr(await server(stack, 'POST', '/api/v1/accounts', { kind: 7 }), 400, 'parameter_invalid_type', 'kind');
  });

  test('bad email, negative threshold, unknown field: 400 naming the parameter', async () => {
    assertErr(await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent', email: 'not-an-email' }),
      400, 'parameter_invalid', 'email');
    assertErr(await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent', payout_threshold_cent: -5 }),
      400, 'parameter_invalid', 'payout_threshold_cent');
    assertErr(await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent', balance_cent: 100 }),
      400, 'parameter_unknown', 'balance_cent');
  });

  test('an unknown account: 404 resource_missing', async () => {
    assertErr(await server(stack, 'GET', '/api/v1/accounts/acc_doesnotexist'), 404, 'resource_missing');
  });

  test('the list filters by kind and pages with limit / starting_after / has_more', async () => {
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push((await makeAccount(stack, 'agent')).id);
    const full = (await server(stack, 'GET', '/api/v1/accounts?kind=agent&limit=100')).json;
    assert.equal(full.has_more, false);
    assert.ok(full.data.every((a) => a.kind === 'agent'), 'only agents');
    const fullIds = full.data.map((a) => a.id);
    for (const id of mine) assert.ok(fullIds.includes(id), `${id} is listed`);
    const { ids, pages } = await walk('/api/v1/accounts?kind=agent', 2);
    assert.ok(pages.length >= 3, 'at least three pages of two');
    assertWalk(ids, fullIds);
    /* without a filter: buyers' and Tally's own accounts are listed too */
    const all = await walk('/api/v1/accounts', 7);
    assert.ok(all.ids.includes('acc_platform') && all.ids.includes('acc_stripe_fee'), 'Tally\'s accounts are listed');
    assertWalk(all.ids, all.ids);
  });

  test('bad list parameters: 400', async () => {
    for (const q of ['limit=0', 'limit=101', 'limit=x', 'starting_after=bad%20id', 'kind=alien']) {
      const res = await server(stack, 'GET', `/api/v1/accounts?${q}`);
      assert.equal(res.status, 400, `${q}: ${res.body}`);
      assert.equal(res.json.error.code, 'parameter_invalid', q);
    }
  });
});

describe('ambassador links', () => {
  test('a link is set, shown on the talent and replaced', async () => {
    const t = await makeSeller(stack);
    const a1 = await makeAccount(stack, 'ambassador');
    const a2 = await makeAccount(stack, 'ambassador');
    const r1 = await server(stack, 'POST', `/api/v1/accounts/${t.id}/ambassador`, { ambassador_account_id: a1.id });
    assert.equal(r1.status, 200, r1.body);
    assert.equal(r1.json.ambassador.account_id, a1.id);
    assert.equal(r1.json.ambassador.share_bps, 1000, 'the default share');
    assert.equal(r1.json.ambassador.active_until, null);
    const until = Math.floor(Date.now() / 1000) + 86400;
    const r2 = await server(stack, 'POST', `/api/v1/accounts/${t.id}/ambassador`,
      { ambassador_account_id: a2.id, share_bps: 2500, active_until: until });
    assert.equal(r2.status, 200, r2.body);
    assert.deepEqual([r2.json.ambassador.account_id, r2.json.ambassador.share_bps, r2.json.ambassador.active_until],
      [a2.id, 2500, until], 'the link was replaced');
    const g = await server(stack, 'GET', `/api/v1/accounts/${t.id}`);
    assert.equal(g.json.ambassador.account_id, a2.id);
  });

  test('refusals: bps range, dates, unknown accounts, wrong kinds', async () => {
    const t = await makeSeller(stack);
    const amb = await makeAccount(stack, 'ambassador');
    const agent = await makeAccount(stack, 'agent');
    const set = (id, body) => server(stack, 'POST', `/api/v1/accounts/${id}/ambassador`, body);
    assertErr(await set(t.id, { ambassador_account_id: amb.id, share_bps: 10001 }), 400, 'parameter_invalid', 'share_bps');
    assertErr(await set(t.id, { ambassador_account_id: amb.id, share_bps: -1 }), 400, 'parameter_invalid', 'share_bps');
    assertErr(await set(t.id, { ambassador_account_id: amb.id, active_from: 2000000000, active_until: 1900000000 }),
      400, 'parameter_invalid', 'active_until');
    assertErr(await set(t.id, { ambassador_account_id: 'acc_nobody' }), 404, 'resource_missing', 'ambassador_account_id');
    assertErr(await set('acc_nobody', { ambassador_account_id: amb.id }), 404, 'resource_missing', 'id');
    assertErr(await set(t.id, { ambassador_account_id: agent.id }), 422, 'wrong_account_kind', 'ambassador_account_id');
    assertErr(await set(agent.id, { ambassador_account_id: amb.id }), 422, 'wrong_account_kind', 'id');
    assertErr(await set(t.id, {}), 400, 'parameter_missing', 'ambassador_account_id');
    const g = await server(stack, 'GET', `/api/v1/accounts/${t.id}`);
    assert.equal(g.json.ambassador, null, 'no refused request left a link');
  });
});

describe('host partners', () => {
  test('created once per slug: 201 then 409 slug_taken', async () => {
    const hp = await makeAccount(stack, 'host_partner');
    const slug = `hp-${randomString(6).toLowerCase()}`;
    const r1 = await server(stack, 'POST', '/api/v1/host_partners', { slug, account_id: hp.id });
    assert.equal(r1.status, 201, r1.body);
    assert.deepEqual(r1.json, { object: 'host_partner', slug, account_id: hp.id, share_bps: 1000 });
    const hp2 = await makeAccount(stack, 'host_partner');
    assertErr(await server(stack, 'POST', '/api/v1/host_partners', { slug, account_id: hp2.id, share_bps: 500 }),
      409, 'slug_taken', 'slug');
    const n = await stack.sql(`SELECT account_id, share_bps FROM host_partners WHERE slug = '${slug}'`);
    assert.deepEqual(n, [[hp.id, '1000']], 'the first one stays');
  });

  test('refusals: bad slug, bps range, unknown account, wrong kind', async () => {
    const hp = await makeAccount(stack, 'host_partner');
    const t = await makeSeller(stack);
    const mk = (body) => server(stack, 'POST', '/api/v1/host_partners', body);
    assertErr(await mk({ slug: 'Bad Slug', account_id: hp.id }), 400, 'parameter_invalid', 'slug');
    assertErr(await mk({ slug: 'ok-slug-1', account_id: hp.id, share_bps: 10001 }), 400, 'parameter_invalid', 'share_bps');
    assertErr(await mk({ slug: 'ok-slug-2', account_id: hp.id, share_bps: -10 }), 400, 'parameter_invalid', 'share_bps');
    assertErr(await mk({ slug: 'ok-slug-3', account_id: 'acc_nobody' }), 404, 'resource_missing', 'account_id');
    assertErr(await mk({ slug: 'ok-slug-4', account_id: t.id }), 422, 'wrong_account_kind', 'account_id');
    const n = await stack.sql("SELECT COUNT(*) FROM host_partners WHERE slug LIKE 'ok-slug-%'");
    assert.equal(n[0][0], '0', 'nothing refused was stored');
  });
});

describe('products', () => {
  test('a product with the defaults: fixed fee 500, unlimited stock, active', async () => {
    const p = await makeProduct(stack, { price_cent: 1999 });
    assert.equal(p.object, 'product');
    assert.match(p.id, /^prod_[A-Za-z0-9]+$/);
    assert.deepEqual([p.price_cent, p.currency, p.fee_fixed_cent, p.fee_bps, p.stock, p.active, p.agent_bps],
      [1999, 'usd', 500, null, null, true, 0]);
    assert.deepEqual([p.fee_kind, p.fee_value], ['fixed', 500], 'the deprecated fields, derived');
    const g = await server(stack, 'GET', `/api/v1/products/${p.id}`);
    assert.deepEqual(g.json, p);
  });

  test('currency: anything but the configured usd is 400 currency_unsupported', async () => {
    const t = await makeSeller(stack);
    for (const currency of ['eur', 'xyz', 'USD', '']) {
      assertErr(await server(stack, 'POST', '/api/v1/products',
        { name: 'x', seller_account_id: t.id, price_cent: 1000, currency }), 400, 'currency_unsupported', 'currency', currency);
    }
  });

  test('price: negative or above the maximum is refused, an integer overflow too', async () => {
    const t = await makeSeller(stack);
    const mk = (price) => server(stack, 'POST', '/api/v1/products',
      { name: 'x', seller_account_id: t.id, price_cent: price, currency: 'usd' });
    assertErr(await mk(-1), 422, 'amount_out_of_range', 'price_cent');
    assertErr(await mk(100000000), 422, 'amount_out_of_range', 'price_cent', 'above 99999999');
    assertErr(await mk(99999999), 422, 'amount_too_large', undefined, 'the maximum plus the fee is above the maximum');
    /* 2^63 does not fit an int64: the JSON layer refuses it */
    const raw = await req(stack, 'POST', '/api/v1/products', {
      headers: { Authorization: `Bearer ${await stack.apiKey()}`, 'Content-Type': 'application/json' },
      body: `{"name":"x","seller_account_id":"${t.id}","price_cent":9223372036854775808,"currency":"usd"}`,
    });
    assertErr(raw, 400, 'parameter_invalid_integer', 'price_cent');
    assertErr(await mk(12.5), 400, 'parameter_invalid_integer', 'price_cent');
    assertErr(await mk('100'), 400, 'parameter_invalid_type', 'price_cent');
  });

  test('rates outside 0-10000: agent_bps 400, fee_value in bps 400', async () => {
    const t = await makeSeller(stack);
    const ag = await makeAccount(stack, 'agent');
    const mk = (over) => server(stack, 'POST', '/api/v1/products',
      { name: 'x', seller_account_id: t.id, price_cent: 5000, currency: 'usd', ...over });
    assertErr(await mk({ agent_account_id: ag.id, agent_bps: 10001 }), 400, 'parameter_invalid', 'agent_bps');
    assertErr(await mk({ agent_account_id: ag.id, agent_bps: -1 }), 400, 'parameter_invalid', 'agent_bps');
    assertErr(await mk({ agent_bps: 100 }), 400, 'parameter_invalid', 'agent_bps', 'agent_bps without an agent');
    assertErr(await mk({ fee_kind: 'percent', fee_value: 10 }), 400, 'parameter_invalid', 'fee_kind');
    assertErr(await mk({ fee_kind: 'bps', fee_value: -2 }), 400, 'parameter_invalid', 'fee_value');
    assertErr(await mk({ stock: -2 }), 400, 'parameter_invalid', 'stock');
  });

  /*
   * -1 is what the edge uses internally for "not given" (i64_or(…, -1) in
   * fcgi/routes_catalog.c): an explicit -1 must still be refused like -2.
   */
  test('an explicit negative fee, stock or threshold is refused (-1 included)', async () => {
    const t = await makeSeller(stack);
    const bad = [];
    const check = (what, res) => { if (res.status !== 400) bad.push(`${what}: ${res.status} ${res.body.slice(0, 160)}`); };
    const mk = (over) => server(stack, 'POST', '/api/v1/products',
      { name: 'x', seller_account_id: t.id, price_cent: 5000, currency: 'usd', ...over });
    check('create fee_value -1', await mk({ fee_kind: 'fixed', fee_value: -1 }));
    check('create fee_value -2', await mk({ fee_kind: 'fixed', fee_value: -2 }));
    check('create stock -1', await mk({ stock: -1 }));
    const p = await makeProduct(stack, { stock: 3 });
    check('update stock -1', await server(stack, 'POST', `/api/v1/products/${p.id}`, { stock: -1 }));
    check('update fee_value -1', await server(stack, 'POST', `/api/v1/products/${p.id}`, { fee_kind: 'fixed', fee_value: -1 }));
    check('account payout_threshold_cent -1',
      await server(stack, 'POST', '/api/v1/accounts', { kind: 'talent', payout_threshold_cent: -1 }));
    assert.deepEqual(bad, [], bad.join('\n'));
  });

  test('a bps platform fee above 10000: 400 as documented for rates', async () => {
    const t = await makeSeller(stack);
    const res = await server(stack, 'POST', '/api/v1/products',
      { name: 'x', seller_account_id: t.id, price_cent: 5000, currency: 'usd', fee_kind: 'bps', fee_value: 10001 });
    assert.equal(res.status, 400, res.body);
    assert.equal(res.json.error.param, 'fee_value', res.body);
  });

  test('the platform fee: fee_fixed_cent or fee_bps, one column each, never both', async () => {
    const t = await makeSeller(stack);
    const mk = (over) => server(stack, 'POST', '/api/v1/products',
      { name: 'x', seller_account_id: t.id, price_cent: 5000, currency: 'usd', ...over });
    const cols = async (id) => (await stack.sql('SELECT IFNULL(fee_fixed_cent, \'null\'), IFNULL(fee_bps, \'null\') ' +
      `FROM products WHERE id = '${id}'`))[0];
    let r = await mk({ fee_bps: 1200 });
    assert.equal(r.status, 201, r.body);
    assert.deepEqual([r.json.fee_fixed_cent, r.json.fee_bps, r.json.fee_kind, r.json.fee_value], [null, 1200, 'bps', 1200]);
    assert.deepEqual(await cols(r.json.id), ['null', '1200']);
    const bps = r.json;
    r = await mk({ fee_fixed_cent: 250 });
    assert.equal(r.status, 201, r.body);
    assert.deepEqual([r.json.fee_fixed_cent, r.json.fee_bps, r.json.fee_kind, r.json.fee_value], [250, null, 'fixed', 250]);
    assert.deepEqual(await cols(r.json.id), ['250', 'null']);
    r = await mk({ fee_fixed_cent: null });
    assert.deepEqual([r.status, r.json.fee_fixed_cent, r.json.fee_bps], [201, 500, null], 'null: the currency default');
    assertErr(await mk({ fee_fixed_cent: 100, fee_bps: 100 }), 400, 'parameter_invalid', 'fee_bps', 'both');
    assertErr(await mk({ fee_bps: 10001 }), 400, 'parameter_invalid', 'fee_bps');
    assertErr(await mk({ fee_bps: -1 }), 400, 'parameter_invalid', 'fee_bps');
    assertErr(await mk({ fee_fixed_cent: -1 }), 400, 'parameter_invalid', 'fee_fixed_cent');
    assertErr(await mk({ fee_fixed_cent: 100, fee_kind: 'fixed', fee_value: 100 }), 400, 'parameter_invalid', 'fee_value',
      'the new and the deprecated shape together');
    assertErr(await mk({ fee_bps: 100, fee_value: 100 }), 400, 'parameter_invalid', 'fee_value');
    /* an update names the whole policy in the new shape: the other column is cleared */
    const upd = (body) => server(stack, 'POST', `/api/v1/products/${bps.id}`, body);
    r = await upd({ fee_fixed_cent: 300 });
    assert.deepEqual([r.status, r.json.fee_fixed_cent, r.json.fee_bps, r.json.fee_kind], [200, 300, null, 'fixed'], r.body);
    assert.deepEqual(await cols(bps.id), ['300', 'null']);
    r = await upd({ fee_bps: 800 });
    assert.deepEqual([r.status, r.json.fee_fixed_cent, r.json.fee_bps], [200, null, 800], r.body);
    assert.deepEqual(await cols(bps.id), ['null', '800']);
    assertErr(await upd({ fee_fixed_cent: 1, fee_bps: 1 }), 400, 'parameter_invalid', 'fee_bps');
    assertErr(await upd({ fee_bps: null }), 400, 'parameter_invalid_type', 'fee_bps');
    assert.deepEqual(await cols(bps.id), ['null', '800'], 'the refused updates changed nothing');
  });

  test('the deprecated fee_kind/fee_value shape: stored in the column of its unit', async () => {
    const t = await makeSeller(stack);
    const mk = (over) => server(stack, 'POST', '/api/v1/products',
      { name: 'x', seller_account_id: t.id, price_cent: 5000, currency: 'usd', ...over });
    let r = await mk({ fee_kind: 'bps', fee_value: 900 });
    assert.deepEqual([r.status, r.json.fee_fixed_cent, r.json.fee_bps], [201, null, 900], r.body);
    r = await mk({ fee_kind: 'fixed', fee_value: 0 });
    assert.deepEqual([r.status, r.json.fee_fixed_cent, r.json.fee_bps], [201, 0, null], r.body);
    r = await mk({ fee_kind: 'fixed' });
    assert.deepEqual([r.status, r.json.fee_fixed_cent, r.json.fee_bps], [201, 500, null], 'a fixed fee: the default');
    assertErr(await mk({ fee_kind: 'bps' }), 400, 'parameter_invalid', 'fee_value', 'a bps fee needs its value');
    /* half a policy keeps the other half, in either direction */
    const p = r.json;
    const upd = (body) => server(stack, 'POST', `/api/v1/products/${p.id}`, body);
    r = await upd({ fee_value: 450 });
    assert.deepEqual([r.status, r.json.fee_fixed_cent, r.json.fee_bps], [200, 450, null], r.body);
    r = await upd({ fee_kind: 'bps' });
    assert.deepEqual([r.status, r.json.fee_fixed_cent, r.json.fee_bps], [200, null, 450], r.body);
    assertErr(await upd({ fee_value: 10001 }), 400, 'parameter_invalid', 'fee_value');
  });

  test('accounts: unknown 404 naming the parameter, wrong kind 422 wrong_account_kind', async () => {
    const t = await makeSeller(stack);
    const ag = await makeAccount(stack, 'agent');
    const amb = await makeAccount(stack, 'ambassador');
    const mk = (over) => server(stack, 'POST', '/api/v1/products',
      { name: 'x', seller_account_id: t.id, price_cent: 5000, currency: 'usd', ...over });
    assertErr(await mk({ seller_account_id: 'acc_nobody' }), 404, 'resource_missing', 'seller_account_id');
    assertErr(await mk({ agent_account_id: 'acc_nobody', agent_bps: 100 }), 404, 'resource_missing', 'agent_account_id');
    assertErr(await mk({ seller_account_id: ag.id }), 422, 'wrong_account_kind', 'seller_account_id');
    assertErr(await mk({ seller_account_id: amb.id }), 422, 'wrong_account_kind', 'seller_account_id');
    assertErr(await mk({ agent_account_id: t.id, agent_bps: 100 }), 422, 'wrong_account_kind', 'agent_account_id');
    assertErr(await mk({ seller_account_id: 'acc_platform' }), 422, 'wrong_account_kind', 'seller_account_id');
  });

  test('fees that leave the seller negative: 422 negative_share at creation', async () => {
    const t = await makeSeller(stack);
    const ag = await makeAccount(stack, 'agent');
    const mk = (over) => server(stack, 'POST', '/api/v1/products',
      { name: 'x', seller_account_id: t.id, price_cent: 100, currency: 'usd', ...over });
    /* agent 100% of the price: the Stripe fee has nobody to come from */
    assertErr(await mk({ agent_account_id: ag.id, agent_bps: 10000 }), 422, 'negative_share');
    /* a free product: the fixed fee is the platform's, the Stripe fee the seller's */
    assertErr(await mk({ price_cent: 0 }), 422, 'negative_share');
    const before_ = await stack.sql(`SELECT COUNT(*) FROM products WHERE seller_account_id = '${t.id}'`);
    assert.equal(before_[0][0], '0', 'nothing was stored');
    /* the largest agent share that still leaves the seller >= 0 is accepted */
    const ok = await mk({ price_cent: 10000, agent_account_id: ag.id, agent_bps: 9600 });
    assert.equal(ok.status, 201, ok.body);
  });

  test('an update that would leave the seller negative: 422, the product unchanged', async () => {
    const ag = await makeAccount(stack, 'agent');
    const p = await makeProduct(stack, { price_cent: 2500 });
    const upd = (body) => server(stack, 'POST', `/api/v1/products/${p.id}`, body);
    assertErr(await upd({ agent_account_id: ag.id, agent_bps: 10000 }), 422, 'negative_share');
    assertErr(await upd({ price_cent: 0 }), 422, 'negative_share');
    /* a fixed fee so large that host partner and ambassador shares and the
     * Stripe fee on it exceed the price */
    assertErr(await upd({ fee_kind: 'fixed', fee_value: 100000 }), 422, 'negative_share');
    const g = await server(stack, 'GET', `/api/v1/products/${p.id}`);
    assert.deepEqual(g.json, p, 'the refused updates changed nothing');
  });

  test('updates: name, price, agent, fee policy, stock, active; refused fields and unknown ids', async () => {
    const ag = await makeAccount(stack, 'agent');
    const p = await makeProduct(stack, { price_cent: 2500, stock: 3 });
    const upd = (body, id = p.id) => server(stack, 'POST', `/api/v1/products/${id}`, body);
    let r = await upd({ name: 'Renamed', price_cent: 4000, agent_account_id: ag.id, agent_bps: 1500 });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual([r.json.name, r.json.price_cent, r.json.agent_account_id, r.json.agent_bps],
      ['Renamed', 4000, ag.id, 1500]);
    r = await upd({ fee_kind: 'bps', fee_value: 1000 });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual([r.json.fee_kind, r.json.fee_value], ['bps', 1000]);
    r = await upd({ fee_value: 700 });
    assert.deepEqual([r.status, r.json.fee_kind, r.json.fee_value], [200, 'bps', 700], 'half a fee policy keeps the other half');
    r = await upd({ stock: null, active: false });
    assert.deepEqual([r.status, r.json.stock, r.json.active], [200, null, false]);
    r = await upd({ stock: 7 });
    assert.deepEqual([r.status, r.json.stock], [200, 7]);
    assertErr(await upd({ stock: -5 }), 400, 'parameter_invalid', 'stock');
    assertErr(await upd({ seller_account_id: ag.id }), 400, 'parameter_unknown', 'seller_account_id');
    assertErr(await upd({ currency: 'usd' }), 400, 'parameter_unknown', 'currency');
    assertErr(await upd({ agent_account_id: 'acc_nobody', agent_bps: 10 }), 404, 'resource_missing', 'agent_account_id');
    assertErr(await upd({ name: 'x' }, 'prod_nothere'), 404, 'resource_missing');
    assertErr(await server(stack, 'GET', '/api/v1/products/prod_nothere'), 404, 'resource_missing');
  });

  test('the list pages with limit / starting_after / has_more', async () => {
    for (let i = 0; i < 3; i++) await makeProduct(stack);
    const full = (await server(stack, 'GET', '/api/v1/products?limit=100')).json;
    assert.ok(full.data.length >= 3);
    const { ids } = await walk('/api/v1/products', 2);
    assertWalk(ids, full.data.map((p) => p.id));
  });
});

describe('who may call', () => {
  test('buyers read products, but may not create or change them (403) nor manage accounts', async () => {
    const b = await newBuyer(stack);
    const p = await makeProduct(stack);
    const list = await asBuyer(stack, b, 'GET', '/api/v1/products?limit=5');
    assert.equal(list.status, 200, list.body);
    const one = await asBuyer(stack, b, 'GET', `/api/v1/products/${p.id}`);
    assert.deepEqual([one.status, one.json.id], [200, p.id]);
    const t = await makeSeller(stack);
    const body = { name: 'x', seller_account_id: t.id, price_cent: 1000, currency: 'usd' };
    assertErr(await asBuyer(stack, b, 'POST', '/api/v1/products', body), 403, 'forbidden');
    assertErr(await asBuyer(stack, b, 'POST', `/api/v1/products/${p.id}`, { price_cent: 1 }), 403, 'forbidden');
    assertErr(await asBuyer(stack, b, 'POST', '/api/v1/accounts', { kind: 'talent' }), 403, 'forbidden');
    assertErr(await asBuyer(stack, b, 'GET', '/api/v1/accounts'), 403, 'forbidden');
    assertErr(await asBuyer(stack, b, 'POST', '/api/v1/host_partners', { slug: 'x', account_id: t.id }), 403, 'forbidden');
    assertErr(await asBuyer(stack, b, 'GET', '/api/v1/payments/pay_x'), 403, 'forbidden');
    const g = await server(stack, 'GET', `/api/v1/products/${p.id}`);
    assert.equal(g.json.price_cent, p.price_cent, 'the product is unchanged');
  });

  test('no credentials: 401 on every catalog route', async () => {
    for (const [m, p] of [['GET', '/api/v1/products'], ['POST', '/api/v1/products'], ['GET', '/api/v1/accounts'],
      ['POST', '/api/v1/accounts'], ['POST', '/api/v1/host_partners'], ['GET', '/api/v1/payments/pay_x']]) {
      const res = await req(stack, m, p, m === 'POST' ? { json: {} } : {});
      assert.equal(res.status, 401, `${m} ${p}: ${res.body}`);
    }
  });

  test('payments: the server reads them; an unknown one is 404', async () => {
    assertErr(await server(stack, 'GET', '/api/v1/payments/pay_nothere'), 404, 'resource_missing');
  });
});
