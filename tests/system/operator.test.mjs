/*
 * operator.test.mjs - the operator's tools (issue 15): tallyctl and
 * tallyd answer --help and -V (tallyctl help needs no configuration);
 * tallyctl reads the unit's environment file (--env-file, [tally]
 * env_file) and names a missing secret; list commands print a header;
 * tallyd -t checks what the start needs (socket and log directories,
 * sockets in use) and warns about a world-readable file of secrets;
 * a failed start says why on standard error as well as in the log file;
 * SIGUSR1 reopens the log files of the master and every worker without
 * rolling them; ./dev env prints what the stack runs, whatever the shell
 * holds.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { BIN, SRC, POOLS, req, renderIni, mergeConf, startStack } from './lib/stack.mjs';
import { run, sleep, waitFor } from './lib/proc.mjs';
import { assertLedger } from './lib/checkout_helpers.mjs';

const TALLYD = path.join(BIN, 'fcgi', 'tallyd');
const TALLYCTL = path.join(BIN, 'ctl', 'tallyctl');
let stack;

before(async () => {
  stack = await startStack({ name: 'operator' });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  await stack?.stop();
});

/* envWithout - process.env without the names given */
function envWithout(...names) {
  const env = { ...process.env };
  for (const n of names) delete env[n];
  return env;
}

/* confCopy - the stack's configuration, changed by 'over', in a new file */
function confCopy(name, over, mode = 0o600) {
  const file = path.join(stack.dir, name);
  fs.writeFileSync(file, renderIni(mergeConf(stack.confObj, over)), { mode });
  fs.chmodSync(file, mode);
  return file;
}

test('--help and -V answer without a configuration; tallyctl help too', async () => {
  const env = { ...process.env, TALLY_CONF: path.join(stack.dir, 'no-such.conf') };
  for (const args of [['help'], ['--help'], ['-h']]) {
    const r = await run(TALLYCTL, args, { env });
    assert.equal(r.code, 0, `tallyctl ${args}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: tallyctl/, `tallyctl ${args} prints the usage`);
    assert.match(r.stdout, /--env-file FILE/);
    assert.match(r.stdout, /check \[NAME \.\.\.\]/, 'the commands');
  }
  for (const args of [['-V'], ['--version']]) {
    const c = await run(TALLYCTL, args, { env });
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^tallyctl \d+\.\d+\.\d+\n$/);
    const d = await run(TALLYD, args, { env });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^tallyd \d+\.\d+\.\d+\n$/);
  }
  for (const args of [['-h'], ['--help']]) {
    const d = await run(TALLYD, args, { env });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^usage: tallyd/);
    assert.match(d.stdout, /USR1/, 'the signals');
  }
  const bad = await run(TALLYCTL, ['--no-such-option'], { env });
  assert.equal(bad.code, 2, 'a usage error');
  assert.match(bad.stderr, /usage: tallyctl/);
  const none = await run(TALLYCTL, ['migrate'], { env });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no-such\.conf/, 'a command needs the configuration');
});

test('tallyctl reads the unit\'s environment file and names a missing secret', async () => {
  const envFile = path.join(stack.dir, 'tally.env');
  fs.writeFileSync(envFile, `# as systemd's EnvironmentFile\nTLY_OP_DB_PASSWORD="${stack.db.password}"\n`,
    { mode: 0o640 });
  const conf = confCopy('env.conf', { db: { password: 'env:TLY_OP_DB_PASSWORD' } });
  const env = envWithout('TLY_OP_DB_PASSWORD');

  /* without the file: the variable is named, and where to point */
  const bare = await run(TALLYCTL, ['-c', conf, 'admin', 'list'], { env });
  assert.equal(bare.code, 1);
  assert.match(bare.stderr, /\[db\] password: environment variable TLY_OP_DB_PASSWORD is not set/,
    bare.stderr);
  assert.match(bare.stderr, /env_file|--env-file/, 'says how to give the file');

  /* --env-file */
  const withOpt = await run(TALLYCTL, ['-c', conf, '--env-file', envFile, 'admin', 'list'], { env });
  assert.equal(withOpt.code, 0, withOpt.stderr);
  assert.match(withOpt.stdout, /^ID\tUSER\tROLE\tSTATE\n/);

  /* [tally] env_file; the file wins over a stale value in the shell */
  const keyed = confCopy('env-key.conf', {
    tally: { env_file: envFile }, db: { password: 'env:TLY_OP_DB_PASSWORD' },
  });
  const stale = { ...env, TLY_OP_DB_PASSWORD: 'a stale password from the shell' };
  const withKey = await run(TALLYCTL, ['-c', keyed, 'apikey', 'list'], { env: stale });
  assert.equal(withKey.code, 0, withKey.stderr);

  /* the file lacks the variable: the message names the variable and the file */
  fs.writeFileSync(envFile, 'SOMETHING_ELSE=1\n');
  const missing = await run(TALLYCTL, ['-c', keyed, 'apikey', 'list'], { env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /TLY_OP_DB_PASSWORD is not set \(neither in the environment nor in /);
  assert.ok(missing.stderr.includes(envFile), missing.stderr);
  /* tallyd -t reads it the same way */
  const t = await run(TALLYD, ['-t', '-c', keyed], { env });
  assert.equal(t.code, 1);
  assert.match(t.stderr, /TLY_OP_DB_PASSWORD is not set/);
});

test('list commands print a header line', async () => {
  await stack.createApiKey('listed');
  const want = {
    'apikey list': 'ID\tNAME\tPREFIX\tSTATE',
    'admin list': 'ID\tUSER\tROLE\tSTATE',
    'job list': 'JOB\tWHAT',
    'webhook list': 'EVENT\tTYPE\tSTATUS\tATTEMPTS\tLAST_ERROR',
    'outbox list': 'ID\tKIND\tSTATE\tATTEMPTS\tTO\tCAUSE\tLAST_ERROR',
    'check --list': 'CHECK\tINVARIANT',
  };
  for (const [cmd, header] of Object.entries(want)) {
    const r = await stack.tallyctl(...cmd.split(' '));
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], header, `${cmd}: the header`);
    if (cmd === 'apikey list') {
      const row = lines.find((l) => l.split('\t')[1] === 'listed');
      assert.ok(row, `the key is listed under it: ${r.stdout}`);
      assert.equal(row.split('\t').length, header.split('\t').length, 'as many columns');
    }
  }
});

test('tallyd -t: socket and log directories, sockets in use, readable secrets', async () => {
  const runDir = path.join(stack.dir, 'run-t');
  fs.mkdirSync(runDir, { recursive: true });
  const pools = (dir) => Object.fromEntries(POOLS.map((p) => [p, { socket: path.join(dir, `${p}.sock`) }]));

  const ok = confCopy('t-ok.conf', { ...pools(runDir), tally: { pid_file: null } });
  const good = await run(TALLYD, ['-t', '-c', ok]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /configuration ok/);
  assert.equal(good.stderr, '', 'no warning for a 0600 file');

  /* the running stack serves its sockets: the start would fail */
  const inUse = await run(TALLYD, ['-t', '-c', stack.conf]);
  assert.equal(inUse.code, 1, 'sockets in use fail the check');
  assert.match(inUse.stderr, /\[api\] socket .*: in use by another process/);

  const missingDir = path.join(stack.dir, 'no-such-run-dir');
  const noDir = confCopy('t-nodir.conf', pools(missingDir));
  const r1 = await run(TALLYD, ['-t', '-c', noDir]);
  assert.equal(r1.code, 1);
  assert.ok(r1.stderr.includes(`directory ${missingDir}: No such file or directory`), r1.stderr);
  assert.doesNotMatch(r1.stdout, /configuration ok/);

  const noLog = confCopy('t-nolog.conf', {
    ...pools(runDir), tally: { log_file: path.join(stack.dir, 'no-such-log-dir', 'tallyd.log'), pid_file: null },
  });
  const r2 = await run(TALLYD, ['-t', '-c', noLog]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /\[tally\] log_file .*no-such-log-dir: No such file or directory/);

  const notSock = path.join(runDir, 'plain-file');
  fs.writeFileSync(notSock, '');
  const r3 = await run(TALLYD, ['-t', '-c', confCopy('t-notsock.conf',
    { ...pools(runDir), api: { socket: notSock }, tally: { pid_file: null } })]);
  assert.equal(r3.code, 1);
  assert.match(r3.stderr, /exists and is not a socket/);

  const r4 = await run(TALLYD, ['-t', '-c', confCopy('t-group.conf',
    { ...pools(runDir), api: { socket: path.join(runDir, 'api.sock'), socket_group: 'no-such-group-t' },
      tally: { pid_file: null } })]);
  assert.equal(r4.code, 1);
  assert.match(r4.stderr, /\[api\] socket_group: no group 'no-such-group-t'/);

  /* literal secrets (the stack's db password) in a world-readable file */
  const open = confCopy('t-open.conf', { ...pools(runDir), tally: { pid_file: null } }, 0o644);
  const r5 = await run(TALLYD, ['-t', '-c', open]);
  assert.equal(r5.code, 0, 'a warning, not an error');
  assert.match(r5.stderr, /warning: .*t-open\.conf holds secrets and is readable by every user \(mode 0644\)/);
});

test('a failed start says why on standard error as well as in the log file', async () => {
  /* a second tallyd on the stack's configuration: its sockets are served */
  const before = stack.logText().length;
  const r = await run(TALLYD, ['-c', stack.conf], { timeoutMs: 20000 });
  assert.notEqual(r.code, 0, 'the start fails');
  assert.match(r.stderr, /in use by another process/, `on standard error: ${r.stderr}`);
  assert.match(stack.logText().slice(before), /in use by another process/, 'and in the log file');
  /* the running tallyd was not disturbed */
  assert.equal((await req(stack, 'GET', '/api/v1/health')).status, 200);
});

test('SIGUSR1: the master and every worker reopen the log file, no worker rolled', async () => {
  const workers = Object.fromEntries(POOLS.map((p) => [p, stack.workerPids(p)]));
  const rotated = `${stack.logFile}.1`;
  fs.renameSync(stack.logFile, rotated);
  process.kill(stack.masterPid(), 'SIGUSR1');
  await waitFor(() => fs.existsSync(stack.logFile) &&
    /log file reopened/.test(fs.readFileSync(stack.logFile, 'utf8')),
  { timeoutMs: 10000, interval: 50, what: 'the master to reopen' });
  await sleep(300); /* the workers reopen on their next wake-up: now */
  const oldSize = fs.statSync(rotated).size;
  /* requests to every pool: their access lines go to the new file */
  for (let i = 0; i < 20; i++) {
    assert.equal((await req(stack, 'GET', '/api/v1/health')).status, 200);
  }
  for (let i = 0; i < 5; i++) {
    await req(stack, 'POST', '/admin/api/v1/login', { json: { username: 'nobody', password: 'x' } });
    await req(stack, 'POST', '/webhooks/stripe', { body: '{}', headers: { 'content-type': 'application/json' } });
  }
  const lines = await waitFor(() => {
    const l = stack.logLines().filter((x) => x.msg === 'request');
    const procs = new Set(l.map((x) => x.proc));
    /* access lines are deferred until a worker idles for a second */
    return POOLS.every((p) => procs.has(p)) && l.length >= 30 ? l : null;
  }, { timeoutMs: 10000, interval: 100, what: 'access lines of every pool in the new file' });
  assert.ok(lines.length >= 30, `the new file has the requests (${lines.length})`);
  assert.equal(fs.statSync(rotated).size, oldSize, 'nothing more went to the renamed file');
  for (const p of POOLS) {
    assert.deepEqual(stack.workerPids(p), workers[p], `${p}: the same workers (not rolled)`);
  }
  assert.ok(!stack.logLines().some((x) => /reloaded/.test(x.msg)), 'the configuration was not re-read');
  await assertLedger(stack);
});

test('./dev env prints what the stack runs, not what the shell holds', async () => {
  const state = path.join(stack.dir, 'dev-state');
  fs.mkdirSync(state, { recursive: true });
  fs.writeFileSync(path.join(state, 'env'), [
    'DB_PORT=13306', 'HTTP_PORT=18080', 'EMU_PORT=12111', 'DB_PASSWORD=x', 'JWT_SECRET=y',
    'ADMIN_PASSWORD=adminpw', 'STRIPE_TEST_KEY=sk_test_emu', 'STRIPE_TEST_PK=pk_test_emu',
    'WEBHOOK_SECRET=whsec_emu', 'CONNECT_WEBHOOK_SECRET=whsec_emuc', '',
  ].join('\n'));
  fs.writeFileSync(path.join(state, 'api_key'), 'tly_demo_key\n');
  /* the tally.conf './dev up' renders for the emulator */
  fs.writeFileSync(path.join(state, 'tally.conf'), renderIni(mergeConf(stack.confObj, {
    tally: { public_url: 'http://127.0.0.1:18080' },
    stripe: {
      api_base: 'http://127.0.0.1:12111', secret_key: 'sk_test_emu', publishable_key: 'pk_test_emu',
      webhook_secret: 'whsec_emu',
    },
  })), { mode: 0o600 });
  const env = {
    ...process.env, TALLY_DEV_STATE: state,
    STRIPE_SECRET_KEY: 'sk_live_from_the_shell', STRIPE_PUBLISHABLE_KEY: 'pk_live_shell',
    STRIPE_WEBHOOK_SECRET: 'whsec_shell',
  };
  const r = await run(path.join(SRC, 'dev'), ['env'], { env });
  assert.equal(r.code, 0, r.stderr);
  const got = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.equal(got.STRIPE_API_BASE, 'http://127.0.0.1:12111', 'the emulator the stack runs');
  assert.equal(got.STRIPE_SECRET_KEY, 'sk_test_emu');
  assert.equal(got.STRIPE_PUBLISHABLE_KEY, 'pk_test_emu');
  assert.equal(got.STRIPE_WEBHOOK_SECRET, 'whsec_emu');
  assert.equal(got.TALLY_URL, 'http://127.0.0.1:18080');
  assert.equal(got.TALLY_API_KEY, 'tly_demo_key');
  assert.match(got.TALLY_BUYER_JWT, /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
});
