/*
 * restore.test.mjs - the runbook's "Restoring from a backup"
 * (docs/operations.md) on the real stack, Stripe being the emulator:
 *   - a sale completed, the audit log chained, its head kept, then a
 *     mariadb-dump --single-transaction of the database;
 *   - after the backup: a buyer pays a checkout opened before it, and a
 *     payment completed before it is refunded from the Dashboard;
 *   - the database is lost and restored from the dump (tallyd stopped
 *     meanwhile); tallyctl migrate (as the migration user: grants),
 *     tallyctl check is clean, tallyctl audit verify --head with the
 *     kept head holds; a reconcile reports what the backup lacks
 *     (the charge and the refund missing in Tally);
 *   - tallyd started again, the catch-up job books the events of the
 *     time after the backup, and the next reconcile is clean.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  assertLedger, esc, newBuyer, okCheckout, paid, paymentConf, piOf, richProduct, sql1, until,
} from './lib/checkout_helpers.mjs';
import { run } from './lib/proc.mjs';
import { startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ name: 'restore', stripe: true, conf: paymentConf({ audit: { chain_horizon: 0 } }) });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  try {
    if (stack) await assertLedger(stack);
  } finally {
    await stack?.stop();
  }
});

async function ctl(...args) {
  const r = await stack.tallyctl(...args);
  return r;
}

function mariadbAdmin(args, input) {
  return run('mariadb', [`--socket=${stack.db.socket}`, `-u${stack.db.admin}`, ...args], { input, timeoutMs: 120000 });
}

/* reconcileLines - tallyctl reconcile --since today: {code, lines} */
async function reconcile(today) {
  const r = await ctl('reconcile', '--since', today);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  return { code: r.code, stderr: r.stderr, lines: r.stdout.trim().split('\n').slice(1).map((l) => l.split('\t')) };
}

test('restore from a dump: check, audit verify with the kept head, reconcile, catch-up, reconcile clean', async () => {
  const today = new Date().toISOString().slice(0, 10);
  /* before the backup */
  const { product, slug } = await richProduct(stack);
  const b1 = await newBuyer(stack);
  const c1 = await okCheckout(stack, b1, { product_id: product.id, host_partner_slug: slug });
  await paid(stack, c1.payment_intent_id);
  const charge1 = (await piOf(stack, c1.payment_intent_id)).latest_charge;
  await until(async () => (await sql1(stack, `SELECT status FROM payments WHERE checkout_id = ${esc(c1.id)}`)) !==
    null, 'sale 1 completed');
  const b2 = await newBuyer(stack);
  const c2 = await okCheckout(stack, b2, { product_id: product.id, host_partner_slug: slug });
  await stack.createApiKey('before-backup');
  assert.equal((await ctl('job', 'run', 'events')).code, 0, 'the cursors exist before the backup');
  assert.equal((await ctl('job', 'run', 'audit')).code, 0);
  const head = await ctl('audit', 'head');
  assert.equal(head.code, 0, head.stderr);
  const kept = head.stdout.trim().replace(' ', ':');
  const dumpFile = path.join(stack.dir, 'backup.sql');
  const dump = await run('mariadb-dump', [`--socket=${stack.db.socket}`, `-u${stack.db.admin}`,
    '--single-transaction', '--routines', '--triggers', '--default-character-set=utf8mb4', stack.db.name],
  { timeoutMs: 120000 });
  assert.equal(dump.code, 0, dump.stderr);
  fs.writeFileSync(dumpFile, dump.stdout);

  /* after the backup: a payment of the open checkout, a Dashboard refund of sale 1 */
  await paid(stack, c2.payment_intent_id);
  await until(async () => (await sql1(stack, `SELECT status FROM payments WHERE checkout_id = ${esc(c2.id)}`)) !==
    null, 'sale 2 completed');
  const re = await stack.emu('POST', `/__emu/charges/${charge1}/dashboard_refund`, { amount: 500 });
  await until(async () => (await sql1(stack, `SELECT booked FROM refunds WHERE stripe_refund_id = ${esc(re.id)}`)) ===
    '1', 'the refund booked');
  await stack.emu('POST', '/__emu/webhooks/flush', {});

  /* the database is lost; restored from the dump with tallyd stopped */
  await stack.stopTallyd();
  const db = stack.db.name;
  const drop = await mariadbAdmin(['-e', `DROP DATABASE ${db}; CREATE DATABASE ${db} CHARACTER SET utf8mb4 ` +
    'COLLATE utf8mb4_unicode_ci']);
  assert.equal(drop.code, 0, drop.stderr);
  const load = await mariadbAdmin([db], fs.readFileSync(dumpFile, 'utf8'));
  assert.equal(load.code, 0, load.stderr);
  assert.equal(await sql1(stack, `SELECT COUNT(*) FROM payments WHERE checkout_id = ${esc(c2.id)}`), '0',
    'the restore lacks sale 2');
  const mig = await ctl('migrate');
  assert.equal(mig.code, 0, mig.stderr);
  const check = await ctl('check');
  assert.equal(check.code, 0, `tallyctl check: ${check.stdout}${check.stderr}`);
  const verify = await ctl('audit', 'verify', '--head', kept);
  assert.equal(verify.code, 0, verify.stdout);
  assert.match(verify.stdout, /^ok\t/);
  const gap = await reconcile(today);
  assert.equal(gap.code, 1, 'what happened after the backup is missing in Tally');
  const missing = gap.lines.filter((l) => l[3] !== 'matched').map((l) => [l[2], l[3], l[5]]).sort();
  const charge2 = (await piOf(stack, c2.payment_intent_id)).latest_charge;
  assert.deepEqual(missing, [['charge', 'missing_in_tally', charge2], ['refund', 'missing_in_tally', re.id]].sort());

  /* tallyd back; the catch-up books the events after the backup */
  await stack.startTallyd();
  const cu = await ctl('job', 'run', 'events');
  assert.equal(cu.code, 0, cu.stderr);
  assert.equal(await sql1(stack, `SELECT COUNT(*) FROM payments WHERE checkout_id = ${esc(c2.id)}`), '1');
  assert.equal(await sql1(stack, `SELECT booked FROM refunds WHERE stripe_refund_id = ${esc(re.id)}`), '1');
  const clean = await reconcile(today);
  assert.equal(clean.code, 0, clean.stderr + JSON.stringify(clean.lines.filter((l) => l[3] !== 'matched')));
  assert.equal((await ctl('check')).code, 0);
  assert.equal((await ctl('job', 'run', 'audit')).code, 0);
  assert.equal((await ctl('audit', 'verify', '--head', kept)).code, 0, 'the kept head still holds');
});
