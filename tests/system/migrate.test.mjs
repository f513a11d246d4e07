/*
 * migrate.test.mjs - tallyctl migrate (core/migrate.c) on a real
 * database: the stack's start applied every file of schema/; a second run
 * applies nothing; schema_migrations records each file with the SHA-256
 * of its bytes; an applied file that changed stops the run with a message
 * naming it; a new file is applied once; a failing file and two files
 * with one number stop the run and record nothing; 015 moves each
 * product's platform fee from fee_kind/fee_value to the column of its
 * unit (fee_fixed_cent or fee_bps) on a database migrated to 010 with
 * products in it.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { SRC, startStack } from './lib/stack.mjs';

let stack;
const schemaDir = path.join(SRC, 'schema');
const files = fs.readdirSync(schemaDir).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();

before(async () => {
  stack = await startStack({ name: 'migrate' });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  await stack?.stop();
});

/* schemaCopy - a copy of schema/ in the stack's dir, to be altered */
function schemaCopy(name) {
  const dir = path.join(stack.dir, name);
  fs.cpSync(schemaDir, dir, { recursive: true });
  return dir;
}

async function recorded() {
  return stack.sql('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
}

test('the first migrate applied every file; a second one applies nothing', async () => {
  assert.ok(files.length >= 1, 'schema/ has migrations');
  assert.match(stack.migrateOutput, new RegExp(`migrate: ${files.length} applied, 0 already current`),
    `the stack's first migrate (${stack.migrateOutput.trim()})`);
  const again = await stack.tallyctl('migrate');
  assert.equal(again.code, 0, `second migrate exit status (${again.stderr})`);
  assert.match(again.stderr, new RegExp(`migrate: 0 applied, ${files.length} already current`), 'a no-op');
});

test('schema_migrations: one row per file with the SHA-256 of its bytes', async () => {
  const rows = await recorded();
  assert.equal(rows.length, files.length, 'one row per file');
  for (const [i, f] of files.entries()) {
    const [version, name, checksum] = rows[i];
    assert.equal(Number(version), parseInt(f, 10), `${f}: version`);
    assert.equal(name, f, `${f}: name`);
    assert.match(checksum, /^[0-9a-f]{64}$/, `${f}: 64 hex digits`);
    const sum = crypto.createHash('sha256').update(fs.readFileSync(path.join(schemaDir, f))).digest('hex');
    assert.equal(checksum, sum, `${f}: the checksum is the file's SHA-256`);
  }
});

test('an applied file that changed stops the run, naming it', async () => {
  const dir = schemaCopy('schema-changed');
  const victim = path.join(dir, files[0]);
  const bytes = fs.readFileSync(victim);
  const at = bytes.indexOf('-- ') + 3; /* a byte of the first comment: the SQL still works */
  bytes[at] = bytes[at] === 0x58 ? 0x59 : 0x58;
  fs.writeFileSync(victim, bytes);
  const before = await recorded();
  const r = await stack.tallyctl('migrate', '--dir', dir);
  assert.notEqual(r.code, 0, 'non-zero exit status');
  assert.match(r.stderr, new RegExp(files[0].replace('.', '\\.')), `the message names the file (${r.stderr.trim()})`);
  assert.match(r.stderr, /changed/, 'the message says it was changed');
  assert.deepEqual(await recorded(), before, 'nothing recorded');
});

test('a new file is applied once and recorded', async () => {
  const dir = schemaCopy('schema-new');
  const name = '900_system_test.sql';
  fs.writeFileSync(path.join(dir, name),
    '-- system test\nCREATE TABLE IF NOT EXISTS system_test_t (id INT NOT NULL PRIMARY KEY);\n' +
    'INSERT INTO system_test_t VALUES (1);\n');
  const r = await stack.tallyctl('migrate', '--dir', dir);
  assert.equal(r.code, 0, `exit status (${r.stderr})`);
  assert.match(r.stderr, new RegExp(`migrate: 1 applied, ${files.length} already current`), 'one applied');
  const rows = await recorded();
  assert.equal(rows.at(-1)[1], name, 'recorded');
  assert.deepEqual(await stack.sql('SELECT id FROM system_test_t'), [['1']], 'its statements ran');
  const again = await stack.tallyctl('migrate', '--dir', dir);
  assert.match(again.stderr, new RegExp(`migrate: 0 applied, ${files.length + 1} already current`), 'not twice');
  assert.deepEqual(await stack.sql('SELECT id FROM system_test_t'), [['1']], 'its INSERT ran once');
});

test('a failing file stops the run and is not recorded', async () => {
  const dir = schemaCopy('schema-broken');
  fs.writeFileSync(path.join(dir, '901_broken.sql'), 'CREATE TABLE broken_t (id INT NOT NULL PRIMARY KEY;\n');
  const r = await stack.tallyctl('migrate', '--dir', dir);
  assert.notEqual(r.code, 0, 'non-zero exit status');
  assert.match(r.stderr, /901_broken\.sql/, `the message names the file (${r.stderr.trim()})`);
  const v = await stack.sql('SELECT version FROM schema_migrations WHERE version = 901');
  assert.equal(v.length, 0, 'not recorded');
});

test('two files with one number stop the run before any SQL', async () => {
  const dir = schemaCopy('schema-dup');
  fs.writeFileSync(path.join(dir, '902_a.sql'), 'CREATE TABLE dup_a (id INT);\n');
  fs.writeFileSync(path.join(dir, '902_b.sql'), 'CREATE TABLE dup_b (id INT);\n');
  const r = await stack.tallyctl('migrate', '--dir', dir);
  assert.notEqual(r.code, 0, 'non-zero exit status');
  assert.match(r.stderr, /same number/, `the message says why (${r.stderr.trim()})`);
  const t = await stack.sql("SHOW TABLES LIKE 'dup_%'");
  assert.equal(t.length, 0, 'neither file ran');
});

test('015: each product fee moves to the column of its unit; the CHECK wants exactly one', async () => {
  const db = `${stack.db.name}_m015`;
  const inDb = (q) => stack.sql(`USE ${db}; ${q}`);
  await stack.sql(`DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db} CHARACTER SET utf8mb4 ` +
    'COLLATE utf8mb4_unicode_ci');
  try {
    const [before15, at15] = [files.filter((f) => parseInt(f, 10) < 15), files.find((f) => /^015_/.test(f))];
    assert.ok(at15, 'schema/015_*.sql exists');
    for (const f of before15) await inDb(fs.readFileSync(path.join(schemaDir, f), 'utf8'));
    await inDb("INSERT INTO accounts (id, kind) VALUES ('acc_m15', 'talent'); " +
      'INSERT INTO products (id, name, seller_account_id, price_cent, currency, fee_kind, fee_value) VALUES ' +
      "('prod_f', 'fixed', 'acc_m15', 1000, 'usd', 'fixed', 500), ('prod_b', 'bps', 'acc_m15', 1000, 'usd', 'bps', 1500), " +
      "('prod_z', 'zero', 'acc_m15', 1000, 'usd', 'fixed', 0), ('prod_y', 'bps zero', 'acc_m15', 1000, 'usd', 'bps', 0)");
    await inDb(fs.readFileSync(path.join(schemaDir, at15), 'utf8'));
    assert.deepEqual(await inDb("SELECT id, IFNULL(fee_fixed_cent, 'null'), IFNULL(fee_bps, 'null') FROM products " +
      'ORDER BY id'), [['prod_b', 'null', '1500'], ['prod_f', '500', 'null'], ['prod_y', 'null', '0'],
      ['prod_z', '0', 'null']]);
    assert.deepEqual(await inDb("SHOW COLUMNS FROM products WHERE Field IN ('fee_kind', 'fee_value')"), [],
      'the one-column shape is gone');
    for (const [fixed, bps] of [['1', '1'], ['NULL', 'NULL'], ['-1', 'NULL'], ['NULL', '10001']]) {
      await assert.rejects(inDb('INSERT INTO products (id, name, seller_account_id, price_cent, currency, ' +
        `fee_fixed_cent, fee_bps) VALUES ('prod_x', 'x', 'acc_m15', 1, 'usd', ${fixed}, ${bps})`), /products_fee/,
      `fixed ${fixed}, bps ${bps}`);
    }
  } finally {
    await stack.sql(`DROP DATABASE IF EXISTS ${db}`);
  }
});
