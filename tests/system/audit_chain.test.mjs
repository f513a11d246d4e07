/*
 * audit_chain.test.mjs - an audit log nobody can rewrite unseen
 * (core/audit_chain.c, core/migrate.c's grants, docs/operations.md):
 *   - the application's DB user may SELECT and INSERT audit_log and
 *     audit_chain, never UPDATE or DELETE them (tallyctl migrate ran as
 *     the migration user and granted it per table); other tables it may
 *     change; a database-wide grant from an older setup makes audit
 *     verify warn, and is replaced at the next migrate;
 *   - the "audit" job chains rows in id order once they are older than
 *     [audit] chain_horizon; younger rows stay unchained and verify
 *     counts them; each link is SHA-256 over the previous hash and the
 *     row's canonical content, recomputed here independently;
 *   - `tallyctl audit verify` names the first broken row: a row edited
 *     by hand, a row deleted, a row and its link deleted, a row inserted
 *     by hand; each repaired, the chain verifies again;
 *   - `tallyctl audit head` prints the verified head; verify --head
 *     ID:HASH catches a chain cut back behind a kept head.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { run } from './lib/proc.mjs';
import { startStack } from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ name: 'audit_chain', conf: { audit: { chain_horizon: 0 } } });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  await stack?.stop();
});

/* asApp - 'q' as the application's DB user: {code, stdout, stderr} */
function asApp(q) {
  const d = stack.db;
  return run('mariadb', [`--socket=${d.socket}`, `-u${d.user}`, `-p${d.password}`, '-N', '-B', d.name, '-e', q]);
}

async function ctl(...args) {
  return stack.tallyctl(...args);
}

async function chain() {
  const r = await ctl('job', 'run', 'audit');
  assert.equal(r.code, 0, r.stderr);
}

/* verify - tallyctl audit verify [...]: {code, line} */
async function verify(...extra) {
  const r = await ctl('audit', 'verify', ...extra);
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  return { code: r.code, line: r.stdout.trim(), stderr: r.stderr };
}

async function assertWhole(what) {
  const v = await verify();
  assert.equal(v.code, 0, `${what}: ${v.line} ${v.stderr}`);
  assert.match(v.line, /^ok\t/);
  return v.line;
}

async function assertBroken(id, re, what) {
  const v = await verify();
  assert.equal(v.code, 1, `${what}: ${v.line}`);
  const [word, row, why] = v.line.split('\t');
  assert.equal(word, 'broken');
  assert.equal(row, String(id), `${what}: the first broken row (${v.line})`);
  assert.match(why, re, what);
  assert.match(v.stderr, /"level":"alert".*audit log's hash chain is broken/, 'an ALERT line');
}

async function maxId() {
  return Number((await stack.sql('SELECT IFNULL(MAX(id), 0) FROM audit_log'))[0][0]);
}

/* expectedChain - the links recomputed from audit_log as documented */
async function expectedChain() {
  const rows = await stack.sql('SELECT JSON_ARRAY(id, DATE_FORMAT(at, \'%Y-%m-%d %H:%i:%s.%f\'), actor_kind, ' +
    'actor_id, action, object_id, detail, request_id) FROM audit_log ORDER BY id');
  let prev = '0'.repeat(64);
  const out = [];
  for (const [json] of rows) {
    const cols = JSON.parse(json);
    let s = `${prev}\n`;
    for (const v of [String(cols[0]), ...cols.slice(1)]) s += v === null ? '~|' : `${Buffer.byteLength(v)}:${v}|`;
    const hash = crypto.createHash('sha256').update(s).digest('hex');
    out.push([String(cols[0]), prev, hash]);
    prev = hash;
  }
  return out;
}

test('the application user may SELECT and INSERT the audit tables, never UPDATE or DELETE them', async () => {
  await stack.createApiKey('grants');
  for (const t of ['audit_log', 'audit_chain']) {
    const u = await asApp(`UPDATE ${t} SET ${t === 'audit_log' ? 'detail' : 'hash'} = 'x'`);
    assert.notEqual(u.code, 0, `UPDATE ${t} refused`);
    assert.match(u.stderr, /UPDATE command denied/);
    const d = await asApp(`DELETE FROM ${t}`);
    assert.notEqual(d.code, 0, `DELETE ${t} refused`);
    assert.match(d.stderr, /DELETE command denied/);
    const s = await asApp(`SELECT COUNT(*) >= 0 FROM ${t}`);
    assert.equal(s.code, 0, s.stderr);
  }
  const other = await asApp('UPDATE accounts SET email = email WHERE id = \'none\'');
  assert.equal(other.code, 0, `the other tables stay writable: ${other.stderr}`);
  const grants = await asApp('SHOW GRANTS');
  assert.doesNotMatch(grants.stdout, new RegExp(`ON \`${stack.db.name}\`\\.\\* `), 'no database-wide grant');
  assert.match(grants.stdout, /GRANT SELECT, INSERT ON `[^`]+`\.`audit_log`/);
  assert.ok(await maxId() > 0);
});

test('an older setup\'s database-wide grant is replaced by tallyctl migrate: the audit log is append-only again',
  async () => {
    const d = stack.db;
    const quiet = await ctl('audit', 'verify');
    assert.doesNotMatch(quiet.stderr, /warning/, 'no warning with the grants of migrate');
    await stack.sql(`GRANT ALL ON ${d.name}.* TO '${d.user}'@'localhost'`);
    const before = await asApp('UPDATE audit_log SET detail = detail WHERE id = 0');
    assert.equal(before.code, 0, 'the old grant allowed it');
    const warned = await ctl('audit', 'verify');
    assert.match(warned.stderr, /warning: the database user Tally connects as may UPDATE or DELETE the audit log/);
    const m = await ctl('migrate');
    assert.equal(m.code, 0, m.stderr);
    assert.doesNotMatch((await ctl('audit', 'verify')).stderr, /warning/, 'no warning once migrate granted again');
    const u = await asApp('UPDATE audit_log SET detail = detail WHERE id = 0');
    assert.match(u.stderr, /UPDATE command denied/, 'refused again');
    const d2 = await asApp('DELETE FROM audit_chain WHERE audit_id = 0');
    assert.match(d2.stderr, /DELETE command denied/);
    const other = await asApp('UPDATE accounts SET email = email WHERE id = \'none\'');
    assert.equal(other.code, 0, other.stderr);
    const sm = await asApp('INSERT INTO schema_migrations (version, name, checksum) VALUES (999, \'x\', \'y\')');
    assert.match(sm.stderr, /INSERT command denied/, 'schema_migrations is read-only for the application');
  });

test('chained after the horizon; edit, delete, delete with its link, insert: each named; head and kept heads', async () => {
  for (let i = 0; i < 5; i++) await stack.createApiKey(`chain-${i}`);
  const gap = (await maxId()) + 3;
  await stack.sql(`ALTER TABLE audit_log AUTO_INCREMENT = ${gap + 3}`);
  for (let i = 5; i < 8; i++) await stack.createApiKey(`chain-${i}`);

  /* younger than the horizon: not chained, counted */
  stack.rewriteConf({ audit: { chain_horizon: 3600 } });
  await chain();
  const all = Number((await stack.sql('SELECT COUNT(*) FROM audit_log'))[0][0]);
  assert.equal(Number((await stack.sql('SELECT COUNT(*) FROM audit_chain'))[0][0]), 0, 'nothing chained yet');
  assert.match(await assertWhole('nothing chained'), new RegExp(`^ok\\t0 rows\\thead 0 0{64}\\tunchained ${all}$`));
  stack.rewriteConf({ audit: { chain_horizon: 0 } });
  await chain();
  const links = await stack.sql('SELECT audit_id, prev_hash, hash FROM audit_chain ORDER BY audit_id');
  assert.deepEqual(links, await expectedChain(), 'each link as documented, in id order');
  const [headId, , headHash] = links[links.length - 1];
  assert.equal(await assertWhole('chained'), `ok\t${all} rows\thead ${headId} ${headHash}\tunchained 0`);
  const h = await ctl('audit', 'head');
  assert.equal(h.code, 0, h.stderr);
  assert.equal(h.stdout, `${headId} ${headHash}\n`);
  assert.equal((await verify('--head', `${headId}:${headHash}`)).code, 0);

  const ids = links.map(([id]) => Number(id));
  const save = async (id) => {
    await stack.sql(`DROP TABLE IF EXISTS saved_row; CREATE TABLE saved_row AS SELECT * FROM audit_log WHERE id = ${id};` +
      `DROP TABLE IF EXISTS saved_link; CREATE TABLE saved_link AS SELECT * FROM audit_chain WHERE audit_id = ${id}`);
  };

  /* an edit */
  const edited = ids[2];
  await save(edited);
  await stack.sql(`UPDATE audit_log SET detail = 'nothing to see' WHERE id = ${edited}`);
  await assertBroken(edited, /edited/, 'a row edited by hand');
  await stack.sql('UPDATE audit_log a JOIN saved_row s ON s.id = a.id SET a.detail = s.detail');
  await assertWhole('the edit undone');

  /* a deletion */
  const deleted = ids[4];
  await save(deleted);
  await stack.sql(`DELETE FROM audit_log WHERE id = ${deleted}`);
  await assertBroken(deleted, /deleted/, 'a row deleted');
  /* the row and its link: the next link no longer follows */
  await stack.sql(`DELETE FROM audit_chain WHERE audit_id = ${deleted}`);
  await assertBroken(ids[5], /does not follow/, 'a row and its link deleted');
  await stack.sql('INSERT INTO audit_log SELECT * FROM saved_row; INSERT INTO audit_chain SELECT * FROM saved_link');
  await assertWhole('the row and its link back');

  /* an insertion, in a gap of the ids */
  assert.ok(!ids.includes(gap), 'the gap is free');
  await stack.sql(`INSERT INTO audit_log (id, actor_kind, actor_id, action, object_id) VALUES (${gap}, 'admin', ` +
    '\'adm_forged\', \'refund.create\', \'re_forged\')');
  await assertBroken(gap, /inserted by hand/, 'a row inserted by hand');
  await stack.sql(`DELETE FROM audit_log WHERE id = ${gap}`);
  await assertWhole('the insertion undone');

  /* a kept head: the chain cut back behind it is caught */
  await stack.createApiKey('after-head');
  await chain();
  const kept = (await ctl('audit', 'head')).stdout.trim().replace(' ', ':');
  const keptId = Number(kept.split(':')[0]);
  assert.ok(keptId > Number(headId));
  await stack.sql(`DELETE FROM audit_log WHERE id = ${keptId}; DELETE FROM audit_chain WHERE audit_id = ${keptId}`);
  await assertWhole('a cut chain verifies on its own');
  const v = await verify('--head', kept);
  assert.equal(v.code, 1, v.line);
  assert.match(v.line, new RegExp(`^broken\\t${keptId}\\tthe kept head is no longer in the chain`));
  /* and rows appended later chain on */
  await stack.sql('DROP TABLE saved_row; DROP TABLE saved_link');
  await stack.createApiKey('later');
  await chain();
  assert.equal((await stack.sql('SELECT COUNT(*) FROM audit_log a LEFT JOIN audit_chain c ON c.audit_id = a.id ' +
    'WHERE c.audit_id IS NULL'))[0][0], '0');
  await assertWhole('appended rows chained');
  const bad = await ctl('audit', 'verify', '--head', 'nonsense');
  assert.equal(bad.code, 2, 'a usage error');
});
