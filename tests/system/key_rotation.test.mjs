/*
 * key_rotation.test.mjs - rotating the Stripe API key with no downtime,
 * as docs/operations.md's runbook says ("Rotating the Stripe API key with
 * no downtime"), on the real stack under a steady load of checkouts
 * (each calls Stripe: POST /v1/payment_intents):
 *   1. the key is rolled at "Stripe" (the emulator's POST
 *      /__emu/keys/roll, the old key valid for an hour);
 *   2. the new key is written to tally.env (STRIPE_SECRET_KEY, which
 *      [stripe] secret_key = env:STRIPE_SECRET_KEY reads through
 *      [tally] env_file) and tallyd is reloaded (SIGHUP): the workers
 *      roll one by one;
 *   3. the old key expires (the emulator refuses it with 401
 *      api_key_expired from then on).
 * No checkout fails; once the old workers are gone every Stripe call
 * carries the new key (the emulator's request log); none was refused:
 * tally_stripe_requests_total{code="401"} stays 0.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  assertLedger, checkout, fastBuyer, makeProduct, paymentConf,
} from './lib/checkout_helpers.mjs';
import { startLoad } from './lib/load.mjs';
import { alive } from './lib/proc.mjs';
import { randomString, req, sleep, startStack, waitFor } from './lib/stack.mjs';

const TOKEN = randomString(32);
let stack;

before(async () => {
  stack = await startStack({
    name: 'key_rotation', stripe: true, conf: paymentConf({ metrics: { token: TOKEN } }),
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

/* mask - the emulator's (Stripe's) masking of a secret key */
const mask = (k) => `sk_test_${'*'.repeat(k.length - 12)}${k.slice(-4)}`;

/* stripe401 - the sum of tally_stripe_requests_total{…,code="401"}, and the exposition */
async function stripeCounts() {
  const r = await req(stack, 'GET', '/metrics', { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.status, 200, r.body);
  const lines = r.body.split('\n').filter((l) => l.startsWith('tally_stripe_requests_total{'));
  const sum = (re) => lines.filter((l) => re.test(l)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  return {
    unauthorized: sum(/code="401"/),
    created: sum(/method="POST",endpoint="\/v1\/payment_intents",code="200"/),
    text: lines.join('\n'),
  };
}

/* allWorkers - every worker pid of every pool */
function allWorkers() {
  return ['api', 'webhook', 'admin'].flatMap((p) => stack.workerPids(p));
}

/* rollWorkers - SIGHUP, then until every worker is new and the old ones are gone */
async function rollWorkers() {
  const old = allWorkers();
  stack.reload();
  await waitFor(() => {
    const now = allWorkers();
    return now.length === old.length && now.every((p) => !old.includes(p)) && old.every((p) => !alive(p));
  }, { timeoutMs: 20000, interval: 20, what: 'every worker rolled after SIGHUP' });
}

test('the Stripe key rolled under load: no failed request, the new key after the reload, no 401', async (t) => {
  /* the production layout: the key in tally.env, read through env: */
  const envFile = path.join(stack.dir, 'tally.env');
  const oldKey = stack.stripeKey;
  fs.writeFileSync(envFile, `# Stripe\nSTRIPE_SECRET_KEY=${oldKey}\n`, { mode: 0o600 });
  stack.rewriteConf({ tally: { env_file: envFile }, stripe: { secret_key: 'env:STRIPE_SECRET_KEY' } });
  await rollWorkers();

  const product = await makeProduct(stack, { price_cent: 1500 });
  /* a fresh buyer per checkout: a buyer's open checkout would be answered again, with no Stripe call */
  const warm = await checkout(stack, fastBuyer(stack), { product_id: product.id });
  assert.equal(warm.status, 200, warm.body);
  const before_ = await stripeCounts();
  assert.equal(before_.unauthorized, 0, before_.text);

  const load = startLoad({
    concurrency: 4, durationMs: 60000, maxMs: 90000, perLoopRate: 4,
    fn: () => checkout(stack, fastBuyer(stack), { product_id: product.id }, { timeoutMs: 20000 }),
  });
  await sleep(1500);

  /* 1. roll the key at Stripe: the old one stays valid for an hour */
  const rolled = await stack.emu('POST', '/__emu/keys/roll', { expires_in: 3600 });
  const newKey = rolled.secret;
  assert.notEqual(newKey, oldKey);
  await sleep(1000);

  /* 2. the new key where tally reads it, and a reload: the workers roll */
  fs.writeFileSync(envFile, `# Stripe, rolled\nSTRIPE_SECRET_KEY=${newKey}\n`, { mode: 0o600 });
  await rollWorkers();
  const switched = Date.now();
  stack.stripeKey = newKey;		/* the test's own calls too */
  await sleep(1500);

  /* 3. the old key expires */
  await stack.emu('POST', '/__emu/keys/expire', { key: oldKey });
  const refused = await stack.stripe('GET', '/v1/balance', {}, { Authorization: `Bearer ${oldKey}` });
  assert.equal(refused.status, 401, 'the old key is refused now');
  assert.equal(refused.json.error.code, 'api_key_expired');
  await sleep(2500);
  const r = await load.stop();
  t.diagnostic(`${r.total} checkouts, statuses ${JSON.stringify(r.statuses)}`);

  assert.ok(r.total >= 40, `a steady load (${r.total} checkouts)`);
  assert.equal(r.failures.length, 0, `no failed checkout: ${JSON.stringify(r.statuses)} ` +
    `${JSON.stringify(r.errors.slice(0, 3))} ${r.failures.slice(0, 2).map((f) => f.res?.body).join(' ')}`);

  /* the emulator's log: the old key before, only the new one after the workers rolled */
  const log = (await stack.emu('GET', '/__emu/requests')).requests
    .filter((e) => e.path === '/v1/payment_intents' && e.method === 'POST');
  const early = log.filter((e) => Date.parse(e.time) < switched);
  const late = log.filter((e) => Date.parse(e.time) >= switched);
  assert.ok(early.some((e) => e.api_key === mask(oldKey)), 'checkouts used the old key before the reload');
  assert.ok(late.length >= 10, `checkouts called Stripe after the reload (${late.length})`);
  const stale = late.filter((e) => e.api_key !== mask(newKey));
  assert.deepEqual(stale.map((e) => [e.time, e.api_key, e.status]), [], 'every call after the reload: the new key');
  assert.ok(late.every((e) => e.status === 200), 'and each answered 200');

  /* nobody was refused */
  const after_ = await stripeCounts();
  assert.equal(after_.unauthorized, 0, `tally_stripe_requests_total{code="401"} stays 0:\n${after_.text}`);
  assert.ok(after_.created - before_.created >= r.total, 'every checkout of the load counted its Stripe call');
});
