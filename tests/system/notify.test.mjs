/*
 * notify.test.mjs - the email outbox against a real SMTP server
 *
 * A local SMTP server (the smtp-server package) requiring AUTH PLAIN /
 * LOGIN over plain SMTP receives what tallyd's "outbox" job sends
 * (interval 1 s, retry_base 1 s, max_attempts 3, a 5 s lease); each
 * message is parsed by mailparser, an independent MIME parser.  Per
 * recipient the server can refuse (451 after the data, 550 at RCPT) the
 * first N attempts or always, or hold the reply to the data forever.
 *
 *   - a paid checkout with receipt_email: one receipt, to that address,
 *     from [smtp] from, an RFC 2047 subject with the product's UTF-8
 *     name, the amounts in the body, a Message-ID made from the outbox
 *     row id; completing again queues nothing more;
 *   - the buyer token's email claim is the address when the checkout
 *     names none; no email at all: nothing queued;
 *   - 451 twice: retried with growing gaps (1 s, then 2 s), delivered
 *     once, the row sent after 3 attempts; the password never in a log;
 *   - 550 always: dead after 3 attempts, in `tallyctl outbox list
 *     --dead` (not in the default list once sent); `outbox retry`
 *     requeues it and it is delivered; a sent row refuses `retry`;
 *   - the job process killed while the server holds the data: the row
 *     stays 'sending', its lease expires, the restarted job sends it:
 *     delivered once, 2 attempts;
 *   - `tallyctl check` clean (exit 0), then one violation (a sent email
 *     without sent_at: exit 1, one line naming it), an unknown check
 *     (exit 2);
 *   - wrong credentials: nothing delivered, the row retried (not dead at
 *     once), and the reply code in last_error without the password.
 * After the file: assertLedger (which also runs `tallyctl check`).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

import {
  assertLedger, complete, esc, fastBuyer, flush, makeProduct, newBuyer, okCheckout, paid, paymentConf,
  sql1, until,
} from './lib/checkout_helpers.mjs';
import { POOLS, freePort, randomString, startStack } from './lib/stack.mjs';
import { childrenOf, sleep } from './lib/proc.mjs';

const SMTP_USER = 'tally-sender';
const SMTP_PASSWORD = `pw-${randomString(20)}`;
const FROM = 'receipts@shop.test';
/* tally.conf says password = env:TALLY_TEST_SMTP_PASSWORD: tallyd and tallyctl inherit it */
process.env.TALLY_TEST_SMTP_PASSWORD = SMTP_PASSWORD;

/*
 * smtpServer - the test's SMTP server: {port, received, rcptAt (address
 * -> times of its RCPT TO), rules, auths, held, to(addr), close()};
 * rules[addr] = {code: 451 | 550, fail: n (or Infinity)} or {hang: true}
 */
async function smtpServer() {
  const s = { received: [], rcptAt: new Map(), rules: {}, auths: [], held: [] };
  const srv = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, session, cb) {
      s.auths.push({ method: auth.method, username: auth.username });
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) return cb(null, { user: auth.username });
      const e = new Error('Invalid username or password');
      e.responseCode = 535;
      return cb(e);
    },
    onRcptTo(address, session, cb) {
      const a = address.address;
      if (!s.rcptAt.has(a)) s.rcptAt.set(a, []);
      s.rcptAt.get(a).push(Date.now());
      const r = s.rules[a];
      if (r && r.code === 550 && (r.fail === Infinity || s.rcptAt.get(a).length <= r.fail)) {
        const e = new Error('No such user here');
        e.responseCode = 550;
        return cb(e);
      }
      return cb();
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks);
        const rcpt = session.envelope.rcptTo.map((x) => x.address);
        const r = s.rules[rcpt[0]];
        const n = s.rcptAt.get(rcpt[0])?.length ?? 0;
        if (r?.hang) {
          s.held.push({ rcpt: rcpt[0], cb });
          return undefined;
        }
        if (r && r.code === 451 && n <= r.fail) {
          const e = new Error('Try again later');
          e.responseCode = 451;
          return cb(e);
        }
        s.received.push({
          rcpt, from: session.envelope.mailFrom.address, user: session.user, raw: raw.toString('latin1'),
          parsed: await simpleParser(raw),
        });
        return cb(null, 'queued');
      });
    },
  });
  srv.on('error', () => {});
  s.port = await freePort();
  await new Promise((resolve) => srv.listen(s.port, '127.0.0.1', resolve));
  s.close = () => new Promise((resolve) => srv.close(resolve));
  s.to = (addr) => s.received.filter((m) => m.rcpt.includes(addr));
  return s;
}

/* outboxRow - the outbox row of cause 'dedupe' */
async function outboxRow(stack, dedupe) {
  const rows = await stack.sql('SELECT id, state, attempts, IFNULL(last_error, \'\'), sent_at IS NOT NULL, to_addr ' +
    `FROM outbox WHERE dedupe_key = ${esc(dedupe)}`);
  if (!rows.length) return null;
  const [id, state, attempts, lastError, sent, to] = rows[0];
  return { id, state, attempts: Number(attempts), lastError, sent: sent === '1', to };
}

/* buy - a paid, completed checkout of 'product' by 'b': the payment id */
async function buy(stack, b, product, body = {}) {
  const c = await okCheckout(stack, b, { product_id: product.id, ...body });
  await paid(stack, c.payment_intent_id);
  const res = await complete(stack, b, c.id);
  assert.equal(res.status, 200, res.body);
  return { checkout: c, payment: res.json };
}

/* receiptOf - the receipt row of payment 'pay' once it exists */
function receiptOf(stack, pay) {
  return until(() => outboxRow(stack, `receipt:${pay}`), `the receipt of ${pay} queued`);
}

describe('email notifications', () => {
  let stack;
  let smtp;

  before(async () => {
    smtp = await smtpServer();
    stack = await startStack({
      name: 'notify',
      stripe: true,
      conf: paymentConf({
        smtp: {
          url: `smtp://127.0.0.1:${smtp.port}`,
          from: FROM,
          username: SMTP_USER,
          password: 'env:TALLY_TEST_SMTP_PASSWORD',
          use_ssl: 'none',
          connect_timeout_ms: 1000,
          timeout_ms: 3000,
          batch: 1,
          lease: 5,
          max_attempts: 3,
          retry_base: 1,
          retry_max: 30,
        },
        'job.outbox': { interval: 1 },
      }),
    });
  });
  afterEach((t) => stack?.noteTest(t));
  after(async () => {
    try {
      if (stack) {
        await flush(stack);
        await assertLedger(stack);
        assert.ok(!stack.logText().includes(SMTP_PASSWORD), 'the SMTP password is in the log');
      }
    } finally {
      await stack?.stop();
      await smtp?.close();
    }
  });

  test('a paid checkout with receipt_email gets one receipt: headers, RFC 2047 subject, amounts, Message-ID', async () => {
    const name = `Café poster ✓ ${randomString(4)}`;
    const product = await makeProduct(stack, { name, price_cent: 2520 });
    const b = await newBuyer(stack);
    const to = `alice-${randomString(6).toLowerCase()}@buyer.test`;
    const { checkout, payment } = await buy(stack, b, product, { quantity: 2, receipt_email: to });
    const row = await receiptOf(stack, payment.id);
    assert.equal(row.to, to);
    await until(() => smtp.to(to).length === 1, 'the receipt delivered');
    const m = smtp.to(to)[0];
    assert.equal(m.from, FROM, 'envelope sender');
    assert.equal(m.user, SMTP_USER, 'sent after AUTH');
    assert.deepEqual(m.rcpt, [to]);
    assert.equal(m.parsed.to.text, to);
    assert.equal(m.parsed.from.text, FROM);
    assert.equal(m.parsed.subject, `Your receipt: ${name}`);
    assert.match(m.raw, /^Subject: =\?UTF-8\?B\?/m, 'the subject is encoded');
    assert.equal(m.parsed.messageId, `<${row.id}@shop.test>`);
    assert.ok(m.parsed.date instanceof Date && Math.abs(m.parsed.date - Date.now()) < 120000, 'Date');
    assert.equal(m.parsed.headers.get('mime-version'), '1.0');
    assert.match(m.parsed.headers.get('content-type').value, /^text\/plain$/);
    assert.equal(m.parsed.headers.get('content-type').params.charset, 'utf-8');
    const text = m.parsed.text;
    assert.match(text, new RegExp(`Product: +${name}`));
    assert.match(text, /Quantity: +2\n/);
    /* 2 x 25.20 + the 5.00 platform fee */
    assert.match(text, /Amount: +55\.40 USD\n/);
    assert.match(text, new RegExp(`Payment: +${payment.id}\\n`));
    assert.match(text, /Date: +\d{4}-\d\d-\d\d \d\d:\d\d UTC\n/);
    await until(async () => (await outboxRow(stack, `receipt:${payment.id}`)).sent, 'the row marked sent');
    const done = await outboxRow(stack, `receipt:${payment.id}`);
    assert.deepEqual([done.state, done.attempts, done.lastError], ['sent', 1, '']);
    /* completing again (the webhook has too) queues nothing new */
    const again = await complete(stack, b, checkout.id);
    assert.equal(again.status, 200, again.body);
    await flush(stack);
    await sleep(1500);
    assert.equal(Number(await sql1(stack, `SELECT COUNT(*) FROM outbox WHERE dedupe_key = ${esc(`receipt:${payment.id}`)}`)), 1);
    assert.equal(smtp.to(to).length, 1, 'delivered once');
  });

  test('the token\'s email claim is the address when the checkout names none; no email, no receipt', async () => {
    const product = await makeProduct(stack, { price_cent: 1000 });
    const claim = `claim-${randomString(6).toLowerCase()}@buyer.test`;
    const withClaim = await newBuyer(stack, { email: claim });
    const p1 = (await buy(stack, withClaim, product)).payment;
    assert.equal((await receiptOf(stack, p1.id)).to, claim);
    await until(() => smtp.to(claim).length === 1, 'the receipt to the claim\'s address');
    assert.match(smtp.to(claim)[0].parsed.text, /Amount: +15\.00 USD\n/);
    const none = fastBuyer(stack);
    const p2 = (await buy(stack, none, product)).payment;
    await flush(stack);
    assert.equal(await outboxRow(stack, `receipt:${p2.id}`), null, 'nothing queued without an address');
    assert.equal(Number(await sql1(stack, `SELECT COUNT(*) FROM outbox WHERE dedupe_key LIKE ${esc(`receipt:${p2.id}`)}`)), 0);
  });

  test('451 twice: retried with backoff, then delivered once', async () => {
    const product = await makeProduct(stack, { price_cent: 1000 });
    const to = `flaky-${randomString(6).toLowerCase()}@buyer.test`;
    smtp.rules[to] = { code: 451, fail: 2 };
    const { payment } = await buy(stack, await newBuyer(stack), product, { receipt_email: to });
    await until(() => smtp.to(to).length === 1, 'delivered after two refusals', 20000);
    await until(async () => (await outboxRow(stack, `receipt:${payment.id}`)).sent, 'marked sent');
    const row = await outboxRow(stack, `receipt:${payment.id}`);
    assert.deepEqual([row.state, row.attempts], ['sent', 3]);
    const at = smtp.rcptAt.get(to);
    assert.equal(at.length, 3, 'three attempts');
    /* retry_base 1 s: about 1 s after the first, about 2 s after the second */
    assert.ok(at[1] - at[0] >= 900, `first gap ${at[1] - at[0]} ms`);
    assert.ok(at[2] - at[1] >= 1900, `second gap ${at[2] - at[1]} ms`);
    const warn = stack.logLines().filter((l) => l.msg === 'email not sent: will retry' && l.message_id === row.id);
    assert.equal(warn.length, 2, 'each refusal logged');
    assert.match(warn[0].error, /451/);
    await sleep(1500);
    assert.equal(smtp.to(to).length, 1, 'never sent again');
  });

  test('550 always: dead after max_attempts, listed, requeued by tallyctl outbox retry and delivered', async () => {
    const product = await makeProduct(stack, { price_cent: 1000 });
    const to = `nobody-${randomString(6).toLowerCase()}@buyer.test`;
    smtp.rules[to] = { code: 550, fail: Infinity };
    const { payment } = await buy(stack, await newBuyer(stack), product, { receipt_email: to });
    const dedupe = `receipt:${payment.id}`;
    await until(async () => (await outboxRow(stack, dedupe)).state === 'dead', 'the row dead', 20000);
    const row = await outboxRow(stack, dedupe);
    assert.equal(row.attempts, 3);
    assert.match(row.lastError, /550/);
    assert.ok(!row.lastError.includes(SMTP_PASSWORD));
    assert.equal(smtp.rcptAt.get(to).length, 3, 'three attempts, then no more');
    const dead = await stack.tallyctl('outbox', 'list', '--dead');
    assert.equal(dead.code, 0, dead.stderr);
    const line = dead.stdout.split('\n').find((l) => l.startsWith(`${row.id}\t`));
    assert.ok(line, `the dead row listed:\n${dead.stdout}`);
    assert.deepEqual(line.split('\t').slice(0, 6), [row.id, 'receipt', 'dead', '3', to, dedupe]);
    /* the operator fixes the mailbox and retries */
    delete smtp.rules[to];
    const retry = await stack.tallyctl('outbox', 'retry', row.id);
    assert.equal(retry.code, 0, retry.stderr);
    await until(() => smtp.to(to).length === 1, 'delivered after the retry');
    await until(async () => (await outboxRow(stack, dedupe)).state === 'sent', 'sent');
    assert.equal(Number(await sql1(stack, `SELECT COUNT(*) FROM audit_log WHERE action = 'outbox.retry' AND object_id = ${esc(row.id)}`)), 1);
    const all = await stack.tallyctl('outbox', 'list');
    assert.equal(all.code, 0, all.stderr);
    assert.ok(!all.stdout.includes(row.id), 'a sent row is not in the backlog');
    const twice = await stack.tallyctl('outbox', 'retry', row.id);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /message_not_retryable/);
    const missing = await stack.tallyctl('outbox', 'retry', 'msg_nosuchmessage');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /resource_missing/);
    await sleep(1500);
    assert.equal(smtp.to(to).length, 1, 'delivered once');
  });

  test('the job killed while the server holds the data: the lease expires, sent once by the restarted job', async () => {
    const product = await makeProduct(stack, { price_cent: 1000 });
    const to = `slow-${randomString(6).toLowerCase()}@buyer.test`;
    smtp.rules[to] = { hang: true };
    const { payment } = await buy(stack, await newBuyer(stack), product, { receipt_email: to });
    const dedupe = `receipt:${payment.id}`;
    await until(() => smtp.held.some((h) => h.rcpt === to), 'the data held by the server');
    const row = await outboxRow(stack, dedupe);
    assert.equal(row.state, 'sending');
    const workers = new Set(POOLS.flatMap((p) => stack.workerPids(p)));
    const jobs = childrenOf(stack.masterPid()).filter((pid) => !workers.has(pid));
    assert.equal(jobs.length, 1, `one job process: ${jobs}`);
    process.kill(jobs[0], 'SIGKILL');
    delete smtp.rules[to];
    /* the lease (5 s) runs out; the master has restarted the job */
    await until(() => smtp.to(to).length === 1, 'sent by the restarted job', 20000);
    await until(async () => (await outboxRow(stack, dedupe)).state === 'sent', 'sent');
    const done = await outboxRow(stack, dedupe);
    assert.equal(done.attempts, 2);
    assert.equal(smtp.to(to)[0].parsed.messageId, `<${row.id}@shop.test>`, 'the same Message-ID');
    await sleep(1500);
    assert.equal(smtp.to(to).length, 1, 'delivered once');
  });

  test('tallyctl check: a sent email without sent_at is reported (exit 1), an unknown check is an error (exit 2)', async () => {
    const clean = await stack.tallyctl('check');
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.equal(clean.stdout, '');
    const id = await sql1(stack, "SELECT id FROM outbox WHERE state = 'sent' ORDER BY id LIMIT 1");
    assert.ok(id, 'a sent email');
    const at = await sql1(stack, `SELECT sent_at FROM outbox WHERE id = ${esc(id)}`);
    await stack.sql(`UPDATE outbox SET sent_at = NULL WHERE id = ${esc(id)}`);
    try {
      const bad = await stack.tallyctl('check');
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.equal(bad.stdout, `outbox_sent_at: message=${id} state=sent sent_at=NULL\n`);
      assert.match(bad.stderr, /check: (\d+) checks, \d+ passed, 1 failed, 1 violations/);
      const one = await stack.tallyctl('check', 'outbox_sent_at', 'split_sum');
      assert.equal(one.code, 1);
      assert.match(one.stderr, /check: 2 checks, 1 passed, 1 failed, 1 violations/);
    } finally {
      await stack.sql(`UPDATE outbox SET sent_at = '${at}' WHERE id = ${esc(id)}`);
    }
    const unknown = await stack.tallyctl('check', 'no_such_check');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no check 'no_such_check'/);
    const list = await stack.tallyctl('check', '--list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^payment_balance\t/m);
  });

  test('wrong SMTP credentials: retried, not dead at once; the reply in last_error, the password nowhere', async () => {
    const product = await makeProduct(stack, { price_cent: 1000 });
    const to = `auth-${randomString(6).toLowerCase()}@buyer.test`;
    const wrong = `wrong-${randomString(16)}`;
    stack.rewriteConf({ smtp: { password: wrong, max_attempts: 10 } });
    stack.reload();
    await sleep(3000);  /* the job process is rolled with the new file */
    const { payment } = await buy(stack, await newBuyer(stack), product, { receipt_email: to });
    const dedupe = `receipt:${payment.id}`;
    await until(async () => {
      const r = await outboxRow(stack, dedupe);
      return r?.attempts >= 2 && r.state === 'queued';
    }, 'two failed attempts recorded', 20000);
    const row = await outboxRow(stack, dedupe);
    assert.equal(row.state, 'queued');
    assert.match(row.lastError, /535|Login denied/i);
    assert.ok(!row.lastError.includes(wrong));
    assert.equal(smtp.to(to).length, 0);
    assert.ok(!stack.logText().includes(wrong), 'the password is in the log');
    stack.rewriteConf({ smtp: { password: 'env:TALLY_TEST_SMTP_PASSWORD', max_attempts: 3 } });
    stack.reload();
    /* the next attempt (after 4 s, then 8 s) goes through */
    await until(() => smtp.to(to).length === 1, 'delivered with the right password', 20000);
    await until(async () => (await outboxRow(stack, dedupe)).state === 'sent', 'sent');
  });
});
