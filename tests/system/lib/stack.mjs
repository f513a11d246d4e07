/*
 * stack.mjs - one Tally stack for a system test file: a database,
 * tallyd (the sanitizer build) and nginx in front, all in a temp dir
 *
 *   const stack = await startStack({ conf: { api: { workers: 2 } } });
 *   const res = await req(stack, 'GET', '/api/v1/health');
 *   await stack.stop();
 *
 * What it does, in the manner of ./dev up (render_tally_conf,
 * render_nginx), with everything private to the stack:
 * - the database: a fresh 't_<random>' database, its application user
 *   and its migration user 't_<random>_m' (random passwords; the
 *   migration user owns the schema, tallyctl migrate grants the
 *   application user its per-table privileges, as in production) on the
 *   run's MariaDB (TALLY_TEST_DB_SOCKET,
 *   exported by tests/run), or with 'privateDb' a mariadbd of its own in
 *   the stack's dir, for tests that stop and restart MariaDB;
 * - tally.conf: sockets, log and pid file in the dir, socket_mode 0660,
 *   cookie_secure no, fast scrypt, an HS256 issuer [jwt.test] (random
 *   secret) and with 'rsa' an RS256 issuer [jwt.rsa] (a fresh 2048-bit
 *   key pair); 'conf' ({section: {key: value}}) is merged over it, a
 *   null value removes a key;
 * - tallyctl migrate (as the migration user: TALLY_DB_MIGRATE_PASSWORD in
 *   the environment of stack.tallyctl()), then tallyd -c tally.conf (not detached: it dies
 *   with the test file, see proc.mjs);
 * - nginx from nginx/tally.conf with the same substitutions as ./dev's
 *   render_nginx, in the foreground (daemon off, so the harness owns its
 *   pid), on a free port of 127.0.0.1.
 * - with 'stripe', the Stripe emulator (tests/stripe-emulator) on a free
 *   port, tally.conf's [stripe] pointing at it, and its webhooks posted to
 *   this stack's nginx (platform and Connect endpoints, their own secrets);
 * - 'tallydEnv' adds environment variables to tallyd (TALLY_FAULTS).
 * It returns when every pool has its workers and GET /api/v1/health
 * answers 200 through nginx.
 *
 * The stack: url, port, dir, conf (the file), confObj, socket(pool),
 * tallyctl(...args, {input}), sql(query), apiKey(), createApiKey(name),
 * buyerJwt(sub, {ttl, email}), signJwt(header, payload, {secret, key,
 * signature}), createAdmin(user, role, pw), adminLogin(user, pw),
 * masterPid(), workerPids(pool), reload(), rewriteConf(over),
 * writeConfText(text), confText(), startTallyd(), stopTallyd({signal}),
 * logText(), logLines(), waitForLog(pred), nginxErrors(), stopDb(),
 * startDb(), stop(); with 'stripe': stripeUrl, stripeKey, stripePk,
 * whsec, whsecConnect, emu(method, path, body) (the control API),
 * stripe(method, path, form) (the /v1 API with the secret key),
 * signWebhook(payload, secret) (a Stripe-Signature header).
 *
 * stop() drains and stops everything, drops the database (or stops the
 * private mariadbd) and removes the dir unless a test of the file failed
 * (noteTest() from an afterEach hook records that) or TALLY_KEEP_STACK=1.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  alive, fatal, poolOfChildren, run, sleep, spawnTracked, waitFor,
} from './proc.mjs';

export const SRC = process.env.TALLY_SRC ||
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.TALLY_BIN || path.join(SRC, 'build-asan');
const TMP = process.env.TALLY_TEST_TMP || os.tmpdir();
const IS_ROOT = process.getuid?.() === 0;
const OS_USER = os.userInfo().username;

export const POOLS = ['api', 'webhook', 'admin'];
export const HS_ISSUER = 'https://auth.test';
export const RSA_ISSUER = 'https://auth-rsa.test';
export const AUDIENCE = 'tally';

/* randomString - 'n' characters of [A-Za-z0-9] */
export function randomString(n) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += abc[bytes[i] % abc.length];
  return s;
}

/* freePort - a port of 127.0.0.1 nobody listens on right now */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/*
 * holdPort - a free port of 127.0.0.1, held (listened on by this process)
 * until release(): a port picked early and bound late by another program
 * (nginx) cannot be taken meanwhile by another stack on the machine
 */
export function holdPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      resolve({ port: srv.address().port, release: () => new Promise((r) => srv.close(() => r())) });
    });
  });
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

/* renderIni - {section: {key: value}} as tally.conf text */
export function renderIni(conf) {
  const out = ['# tally.conf of a system test stack (tests/system/lib/stack.mjs)'];
  for (const [section, keys] of Object.entries(conf)) {
    if (keys === null) continue;
    out.push('', `[${section}]`);
    for (const [k, v] of Object.entries(keys)) {
      if (v !== null && v !== undefined) out.push(`${k} = ${v}`);
    }
  }
  return out.join('\n') + '\n';
}

/* mergeConf - 'over' merged into a copy of 'base', section by section */
export function mergeConf(base, over = {}) {
  const out = structuredClone(base);
  for (const [section, keys] of Object.entries(over)) {
    if (keys === null) {
      delete out[section];
      continue;
    }
    out[section] = { ...(out[section] || {}) };
    for (const [k, v] of Object.entries(keys)) {
      if (v === null) delete out[section][k];
      else out[section][k] = v;
    }
  }
  return out;
}

/* --- the database ------------------------------------------------------- */

function mariadb(socket, user, args, input) {
  return run('mariadb', [`--socket=${socket}`, `-u${user}`, ...args], { input, timeoutMs: 30000 });
}

async function sqlOrThrow(socket, user, db, query) {
  const args = ['-N', '-B'];
  if (db) args.push(db);
  const r = await mariadb(socket, user, [...args, '-e', query]);
  if (r.code !== 0) throw new Error(`SQL failed (${query.slice(0, 200)}): ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

/*
 * usersSql - the two users of database 'db', as docs/operations.md
 * ("Database users") has them: the migration user owns the schema (with
 * GRANT OPTION), the application user gets its privileges per table from
 * tallyctl migrate (none on audit_log beyond SELECT and INSERT)
 */
function usersSql(db, user, password, migrateUser, migratePassword) {
  return `CREATE USER '${user}'@'localhost' IDENTIFIED BY '${password}';` +
    `CREATE USER '${migrateUser}'@'localhost' IDENTIFIED BY '${migratePassword}';` +
    `GRANT ALL ON ${db}.* TO '${migrateUser}'@'localhost' WITH GRANT OPTION;`;
}

/* a database and user on the run's MariaDB */
async function sharedDb() {
  const socket = process.env.TALLY_TEST_DB_SOCKET;
  const admin = process.env.TALLY_TEST_DB_USER || OS_USER;
  if (!socket) throw new Error('TALLY_TEST_DB_SOCKET is not set: run the suite with tests/run system');
  const name = `t_${randomString(10).toLowerCase()}`;
  const password = randomString(24);
  const migrateUser = `${name}_m`;
  const migratePassword = randomString(24);
  await sqlOrThrow(socket, admin, null,
    `CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;` + usersSql(name, name,
      password, migrateUser, migratePassword));
  return {
    socket, admin, name, user: name, password, migrateUser, migratePassword,
    async drop() {
      await sqlOrThrow(socket, admin, null,
        `DROP DATABASE IF EXISTS ${name}; DROP USER IF EXISTS '${name}'@'localhost';` +
        `DROP USER IF EXISTS '${migrateUser}'@'localhost';`);
    },
  };
}

/* a mariadbd of the stack's own, which a test may stop and start */
async function privateDb(dir) {
  const d = path.join(dir, 'mysql');
  const socket = path.join(dir, 'run', 'mysql.sock');
  const cnf = path.join(dir, 'my.cnf');
  const port = await freePort();
  fs.writeFileSync(cnf, [
    '[mysqld]',
    IS_ROOT ? 'user = root' : '',
    `datadir = ${d}`,
    `socket = ${socket}`,
    `pid-file = ${path.join(dir, 'run', 'mysqld.pid')}`,
    `log-error = ${path.join(dir, 'log', 'mariadbd.err')}`,
    `port = ${port}`,
    'bind-address = 127.0.0.1',
    'skip-name-resolve',
    'skip-log-bin',
    'innodb_buffer_pool_size = 64M',
    'innodb_log_file_size = 16M',
    'innodb_flush_log_at_trx_commit = 2',
    'character-set-server = utf8mb4',
    'collation-server = utf8mb4_unicode_ci',
    '',
  ].join('\n'));
  const inst = await run('mariadb-install-db', [`--defaults-file=${cnf}`, '--skip-test-db',
    '--auth-root-authentication-method=socket'], { timeoutMs: 120000 });
  if (inst.code !== 0) throw new Error(`mariadb-install-db failed: ${inst.stderr}${inst.stdout}`);
  const name = 'tally';
  const password = randomString(24);
  const migratePassword = randomString(24);
  const db = {
    socket, admin: OS_USER, name, user: 'tally', password, migrateUser: 'tally_migrate', migratePassword,
    child: null,
    async start() {
      db.child = spawnTracked('mariadbd', [`--defaults-file=${cnf}`], {
        out: path.join(dir, 'log', 'mariadbd.out'), err: path.join(dir, 'log', 'mariadbd.out'),
      });
      await waitFor(async () => (await mariadb(socket, OS_USER, ['-e', 'SELECT 1'])).code === 0,
        { timeoutMs: 30000, interval: 100, what: 'the private mariadbd to answer' });
    },
    async stop() {
      if (!db.child || db.child.exitCode !== null || db.child.signalCode !== null) return;
      db.child.kill('SIGTERM');
      const timer = setTimeout(() => db.child.kill('SIGKILL'), 30000);
      await db.child.exited;
      clearTimeout(timer);
    },
    async drop() { await db.stop(); },
  };
  await db.start();
  await sqlOrThrow(socket, OS_USER, null,
    `CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;` +
    usersSql(name, 'tally', password, 'tally_migrate', migratePassword));
  return db;
}

/* --- configuration ---------------------------------------------------------- */

function baseConf(s) {
  const conf = {
    tally: {
      log_level: 'info',
      log_file: s.logFile,
      pid_file: path.join(s.dir, 'run', 'tallyd.pid'),
      schema_dir: path.join(SRC, 'schema'),
      public_url: `http://127.0.0.1:${s.port}`,
      shutdown_timeout: 10,
    },
    db: {
      socket: s.db.socket, user: s.db.user, password: s.db.password, database: s.db.name,
      migrate_user: s.db.migrateUser,
    },
    admin_auth: { cookie_secure: 'no', kdf_log2_n: 14 },
    'jwt.test': { issuer: HS_ISSUER, audience: AUDIENCE, alg: 'HS256', secret: s.jwtSecret },
  };
  const workers = { api: 4, webhook: 2, admin: 2 };
  for (const p of POOLS) {
    conf[p] = { socket: s.socket(p), workers: workers[p], socket_mode: '0660' };
  }
  if (s.stripeUrl) {
    conf.stripe = {
      api_base: s.stripeUrl,
      secret_key: s.stripeKey,
      publishable_key: s.stripePk,
      webhook_secret: s.whsec,
      connect_webhook_secret: s.whsecConnect,
      timeout_ms: 5000,
      retry_base_ms: 20,
    };
  }
  if (s.rsa) {
    conf['jwt.rsa'] = {
      issuer: RSA_ISSUER, audience: AUDIENCE, alg: 'RS256', public_key_file: s.rsa.publicKeyFile,
    };
  }
  return conf;
}

/* --- nginx -------------------------------------------------------------------- */

function renderNginx(s) {
  const n = path.join(s.dir, 'nginx');
  for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    fs.mkdirSync(path.join(n, 'tmp', t), { recursive: true });
  }
  const tally = fs.readFileSync(path.join(SRC, 'nginx', 'tally.conf'), 'utf8')
    .replaceAll('/run/tally/', `${s.dir}/run/`)
    .replaceAll('/usr/share/tally/web', path.join(SRC, 'web'))
    .replaceAll('/etc/nginx/tally-security-headers.conf', path.join(n, 'tally-security-headers.conf'))
    .replaceAll('/var/log/nginx/tally-access.log', path.join(s.dir, 'log', 'nginx-access.log'))
    .replace('listen 80 backlog=1024;', `listen 127.0.0.1:${s.port} backlog=1024;`);
  if (!tally.includes(`127.0.0.1:${s.port}`)) {
    throw new Error('nginx/tally.conf no longer has "listen 80 backlog=1024;": update the harness');
  }
  /* startStack({ nginxReadTimeout: S }): nginx gives up on tallyd after S seconds (a 504 test) */
  let conf = tally;
  if (s.opts.nginxReadTimeout) {
    conf = tally.replace(/fastcgi_read_timeout \d+s;/g, `fastcgi_read_timeout ${s.opts.nginxReadTimeout}s;`);
    if (conf === tally) throw new Error('nginx/tally.conf has no fastcgi_read_timeout: update the harness');
  }
  fs.writeFileSync(path.join(n, 'tally.conf'), conf);
  /* as ./dev's render_nginx: the pages may call the emulator */
  const from = "connect-src 'self' https://api.stripe.com";
  const headers = fs.readFileSync(path.join(SRC, 'nginx', 'tally-security-headers.conf'), 'utf8');
  if (!headers.includes(from)) {
    throw new Error(`nginx/tally-security-headers.conf no longer has "${from}": update the harness`);
  }
  fs.writeFileSync(path.join(n, 'tally-security-headers.conf'),
    s.stripeUrl ? headers.replace(from, `${from} ${s.stripeUrl}`) : headers);
  fs.writeFileSync(path.join(n, 'nginx.conf'), [
    '# nginx of a system test stack (tests/system/lib/stack.mjs)',
    IS_ROOT ? 'user root;' : '',
    'daemon off;',
    'worker_processes 2;',
    `pid ${n}/nginx.pid;`,
    `error_log ${s.dir}/log/nginx-error.log warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '    include /etc/nginx/mime.types;',
    '    default_type application/octet-stream;',
    `    client_body_temp_path ${n}/tmp/body;`,
    `    proxy_temp_path ${n}/tmp/proxy;`,
    `    fastcgi_temp_path ${n}/tmp/fastcgi;`,
    `    uwsgi_temp_path ${n}/tmp/uwsgi;`,
    `    scgi_temp_path ${n}/tmp/scgi;`,
    `    include ${n}/tally.conf;`,
    `    access_log ${s.dir}/log/nginx-access.log tally;`,
    '}',
    '',
  ].join('\n'));
  return n;
}

function portOpen(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

/* --- requests ------------------------------------------------------------------- */

/*
 * req - one HTTP request through nginx: {status, headers, body, json}.
 * 'json' is sent as application/json; 'body' as is (with the given
 * headers).  json is the parsed body when it parses, else undefined.
 * With 'from' (a loopback address such as 127.0.0.7) the request leaves
 * from that address (node:http instead of fetch): nginx rate-limits per
 * client address, so load tests spread their loops over addresses the
 * way real traffic comes from many clients.
 */
export async function req(stack, method, urlPath, { headers = {}, body, json, timeoutMs = 15000, from } = {}) {
  const h = { ...headers };
  let payload = body;
  if (json !== undefined) {
    payload = JSON.stringify(json);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['Content-Type'] = 'application/json';
    }
  }
  if (from) return httpReq(stack, method, urlPath, { headers: h, body: payload, timeoutMs, from });
  const res = await fetch(stack.url + urlPath, {
    method, headers: h, body: payload, redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  return withJson(res.status, res.headers, await res.text());
}

function withJson(status, headers, text) {
  let parsed;
  try { parsed = JSON.parse(text); } catch { parsed = undefined; }
  return { status, headers, body: text, json: parsed };
}

const agents = new Map();

/* httpReq - req() over node:http from local address 'from' (keep-alive) */
function httpReq(stack, method, urlPath, { headers, body, timeoutMs, from }) {
  if (!agents.has(from)) agents.set(from, new http.Agent({ keepAlive: true, maxSockets: 64 }));
  return new Promise((resolve, reject) => {
    const r = http.request({
      host: '127.0.0.1', port: stack.port, path: urlPath, method, headers,
      localAddress: from, agent: agents.get(from), timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('end', () => {
        if (!res.complete) return reject(new Error('response truncated'));
        const hs = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) hs.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        resolve(withJson(res.statusCode, hs, Buffer.concat(chunks).toString()));
      });
    });
    r.on('timeout', () => r.destroy(new Error('request timed out')));
    r.on('error', reject);
    r.end(body);
  });
}

/* bearer - an Authorization header */
export function bearer(token) {
  return { Authorization: `Bearer ${token}` };
}

/* --- the stack ------------------------------------------------------------------ */

/*
 * startStack - see the top of the file.  Options:
 *   conf       {section: {key: value}} merged over the rendered tally.conf
 *   rsa        true: add the RS256 issuer [jwt.rsa]
 *   privateDb  true: a mariadbd of its own (stopDb()/startDb())
 *   stripe     true: the Stripe emulator, wired both ways
 *   tallydEnv  {NAME: value} added to tallyd's environment
 *   name       a word for the temp dir's name
 */
export async function startStack(opts = {}) {
  fs.mkdirSync(TMP, { recursive: true });
  const dir = fs.mkdtempSync(path.join(TMP, `${opts.name || 'stack'}-`));
  for (const d of ['run', 'log']) fs.mkdirSync(path.join(dir, d));
  const s = new Stack(dir, opts);
  try {
    await s.start();
  } catch (e) {
    s.failed = true;
    await s.stop().catch(() => {});
    throw new Error(`${e.message}\n(stack dir kept: ${dir})`);
  }
  return s;
}

class Stack {
  constructor(dir, opts) {
    this.dir = dir;
    this.opts = opts;
    this.logFile = path.join(dir, 'log', 'tallyd.log');
    this.conf = path.join(dir, 'tally.conf');
    this.jwtSecret = randomString(48);
    this.failed = false;
    this.tallyd = null;
    this.nginx = null;
    this.db = null;
    this.rsa = null;
    this._apiKey = null;
  }

  /* socket - the path of 'pool''s socket in the current configuration */
  socket(pool) {
    return this.confObj?.[pool]?.socket ?? path.join(this.dir, 'run', `${pool}.sock`);
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.portHold = await holdPort();
    this.port = this.portHold.port;
    this.db = this.opts.privateDb ? await privateDb(this.dir) : await sharedDb();
    if (this.opts.rsa) this.makeRsaKey();
    if (this.opts.stripe) await this.startEmulator();
    this.confObj = mergeConf(baseConf(this), this.opts.conf);
    fs.writeFileSync(this.conf, renderIni(this.confObj), { mode: 0o600 });
    const mig = await this.tallyctl('migrate');
    if (mig.code !== 0) throw new Error(`tallyctl migrate failed: ${mig.stderr}`);
    this.migrateOutput = mig.stderr;
    await this.startTallyd();
    await this.startNginx();
    await waitFor(async () => (await req(this, 'GET', '/api/v1/health')).status === 200,
      { timeoutMs: 20000, interval: 100, what: 'GET /api/v1/health through nginx to answer 200' });
  }

  makeRsaKey() {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicKeyFile = path.join(this.dir, 'jwt-rsa.pub.pem');
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' });
    fs.writeFileSync(publicKeyFile, publicPem);
    this.rsa = { publicKey, privateKey, publicPem, publicKeyFile };
  }

  /* --- the Stripe emulator --- */

  async startEmulator() {
    const out = path.join(this.dir, 'log', 'emulator.out');
    this.stripeKey = `sk_test_${randomString(24)}`;
    this.stripePk = `pk_test_${randomString(24)}`;
    this.whsec = `whsec_${randomString(32)}`;
    this.whsecConnect = `whsec_${randomString(32)}`;
    this.emulator = spawnTracked('node', [
      path.join(SRC, 'tests', 'stripe-emulator', 'server.mjs'), '--port', '0',
      '--api-key', this.stripeKey,
      '--webhook', `http://127.0.0.1:${this.port}/webhooks/stripe=${this.whsec}`,
      '--connect-webhook', `http://127.0.0.1:${this.port}/webhooks/stripe/connect=${this.whsecConnect}`,
      '--retry-base-ms', '200',
    ], { out, err: path.join(this.dir, 'log', 'emulator.err') });
    this.stripeUrl = await waitFor(() => {
      if (this.emulator.exitCode !== null) throw fatal('the Stripe emulator exited: ' + this.tail('emulator.err'));
      let text = '';
      try { text = fs.readFileSync(out, 'utf8'); } catch { /* not yet */ }
      return /listening on (\S+)/.exec(text)?.[1];
    }, { timeoutMs: 10000, interval: 50, what: 'the Stripe emulator to listen' });
  }

  /* emu - the emulator's control API: the JSON answer (throws on >= 400) */
  async emu(method, p, body) {
    const res = await fetch(`${this.stripeUrl}${p}`, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => null);
    if (res.status >= 400) throw new Error(`emulator ${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  /* stripe - Stripe's /v1 API at the emulator, form-encoded: {status, json} */
  async stripe(method, p, form = {}, headers = {}) {
    const body = new URLSearchParams(form).toString();
    const res = await fetch(`${this.stripeUrl}${p}${method === 'GET' && body ? `?${body}` : ''}`, {
      method,
      headers: { Authorization: `Bearer ${this.stripeKey}`, 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: method === 'GET' ? undefined : body,
    });
    return { status: res.status, json: await res.json().catch(() => null) };
  }

  /* signWebhook - the Stripe-Signature header of 'payload' under 'secret' */
  signWebhook(payload, secret = this.whsec, t = Math.floor(Date.now() / 1000)) {
    const v1 = crypto.createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex');
    return `t=${t},v1=${v1}`;
  }

  /* --- tallyd --- */

  async startTallyd() {
    this.tallyd = spawnTracked(path.join(BIN, 'fcgi', 'tallyd'), ['-c', this.conf], {
      out: path.join(this.dir, 'log', 'tallyd.out'), err: path.join(this.dir, 'log', 'tallyd.err'),
      env: { ...process.env, ...(this.opts.tallydEnv || {}) },
    });
    await waitFor(() => {
      if (this.tallyd.exitCode !== null || this.tallyd.signalCode !== null) {
        throw fatal('tallyd exited at start: ' + this.tail('tallyd.err') + this.tail('tallyd.log'));
      }
      return POOLS.every((p) => fs.existsSync(this.socket(p))) &&
        POOLS.every((p) => this.workerPids(p).length === Number(this.confObj[p].workers));
    }, { timeoutMs: 20000, interval: 50, what: 'tallyd sockets and workers' }).catch((e) => {
      if (e.fatal) throw e;
      throw new Error(`${e.message}\n${this.tail('tallyd.err')}${this.tail('tallyd.log')}`);
    });
  }

  /*
   * stopTallyd - send 'signal' to the master and wait for it to exit:
   * {code, signal, ms} (ms from the signal to the exit).
   */
  async stopTallyd({ signal = 'SIGTERM', timeoutMs = 20000 } = {}) {
    const t = this.tallyd;
    if (!t || t.exitCode !== null || t.signalCode !== null) {
      return t ? { code: t.exitCode, signal: t.signalCode, ms: 0 } : null;
    }
    const t0 = performance.now();
    t.kill(signal);
    let timer;
    const timeout = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs, 'timeout'); });
    const r = await Promise.race([t.exited, timeout]);
    clearTimeout(timer);
    const ms = performance.now() - t0;
    if (r === 'timeout') {
      t.kill('SIGKILL');
      await t.exited;
      return { code: null, signal: 'SIGKILL', ms, timedOut: true };
    }
    return { ...r, ms };
  }

  masterPid() {
    return this.tallyd?.pid;
  }

  /* workerPids - the live workers of 'pool', sorted */
  workerPids(pool) {
    if (!this.tallyd || !alive(this.tallyd.pid)) return [];
    const target = this.socket(pool);
    const map = poolOfChildren(this.tallyd.pid, POOLS.map((p) => this.socket(p)));
    return [...map].filter(([, p]) => p === target).map(([pid]) => pid).sort((a, b) => a - b);
  }

  /* reload - SIGHUP to the master */
  reload() {
    process.kill(this.masterPid(), 'SIGHUP');
  }

  /* rewriteConf - merge 'over' into the current configuration, rewrite */
  rewriteConf(over) {
    this.confObj = mergeConf(this.confObj, over);
    fs.writeFileSync(this.conf, renderIni(this.confObj), { mode: 0o600 });
  }

  /* writeConfText - replace tally.conf with 'text' (bad configurations) */
  writeConfText(text) {
    fs.writeFileSync(this.conf, text, { mode: 0o600 });
  }

  confText() {
    return fs.readFileSync(this.conf, 'utf8');
  }

  /* --- nginx --- */

  async startNginx() {
    const n = renderNginx(this);
    const args = ['-p', `${n}/`, '-c', path.join(n, 'nginx.conf'), '-e', path.join(this.dir, 'log', 'nginx-error.log')];
    const t = await run('nginx', ['-t', '-q', ...args]);
    if (t.code !== 0) throw new Error(`nginx configuration test failed: ${t.stderr}`);
    if (this.portHold) {		/* nginx's now, and nobody else's */
      await this.portHold.release();
      this.portHold = null;
    }
    this.nginx = spawnTracked('nginx', args, {
      out: path.join(this.dir, 'log', 'nginx.out'), err: path.join(this.dir, 'log', 'nginx.out'),
    });
    await waitFor(() => {
      if (this.nginx.exitCode !== null) throw fatal('nginx exited: ' + this.tail('nginx-error.log'));
      return portOpen(this.port);
    }, { timeoutMs: 10000, interval: 50, what: 'nginx to listen' });
  }

  async stopNginx() {
    const n = this.nginx;
    if (!n || n.exitCode !== null || n.signalCode !== null) return;
    n.kill('SIGTERM');
    const timer = setTimeout(() => n.kill('SIGKILL'), 10000);
    await n.exited;
    clearTimeout(timer);
  }

  /* --- the database --- */

  /* sql - run 'query' in the stack's database: rows of string columns */
  sql(query) {
    return sqlOrThrow(this.db.socket, this.db.admin, this.db.name, query);
  }

  async stopDb() {
    if (!this.opts.privateDb) throw new Error('stopDb() needs startStack({ privateDb: true })');
    await this.db.stop();
  }

  async startDb() {
    if (!this.opts.privateDb) throw new Error('startDb() needs startStack({ privateDb: true })');
    await this.db.start();
  }

  /* --- credentials --- */

  /* tallyctl - run tallyctl -c CONF ARGS; a last object argument holds {input} */
  tallyctl(...args) {
    let o = {};
    if (args.length && typeof args[args.length - 1] === 'object') o = args.pop();
    return run(path.join(BIN, 'ctl', 'tallyctl'), ['-c', this.conf, ...args], {
      input: o.input, env: { ...process.env, TALLY_DB_MIGRATE_PASSWORD: this.db.migratePassword },
    });
  }

  /* createApiKey - a new server key via tallyctl: {key, id} */
  async createApiKey(name = `key-${randomString(6)}`) {
    const r = await this.tallyctl('apikey', 'create', name);
    if (r.code !== 0) throw new Error(`tallyctl apikey create: ${r.stderr}`);
    const id = /created API key (\S+)/.exec(r.stderr)?.[1];
    return { key: r.stdout.trim(), id };
  }

  /* apiKey - one server API key for the stack, created on first use */
  async apiKey() {
    if (!this._apiKey) this._apiKey = await this.createApiKey('system-test');
    return this._apiKey.key;
  }

  /* buyerJwt - an HS256 buyer token for 'sub' from tallyctl jwt */
  async buyerJwt(sub, { ttl, email } = {}) {
    const args = ['jwt', '--sub', sub];
    if (ttl !== undefined) args.push('--ttl', String(ttl));
    if (email !== undefined) args.push('--email', email);
    const r = await this.tallyctl(...args);
    if (r.code !== 0) throw new Error(`tallyctl jwt: ${r.stderr}`);
    return r.stdout.trim();
  }

  /*
   * signJwt - a compact JWS of 'header' and 'payload' (objects, or strings
   * used as they are), signed per header.alg: HS256 with the stack's
   * secret (or opts.secret), RS256 with its RSA private key (or opts.key),
   * anything else unsigned (or opts.signature, base64url).
   */
  signJwt(header, payload, opts = {}) {
    const enc = (v) => b64url(typeof v === 'string' ? v : JSON.stringify(v));
    const signing = `${enc(header)}.${enc(payload)}`;
    const alg = typeof header === 'string' ? JSON.parse(header).alg : header.alg;
    let sig = opts.signature ?? '';
    if (opts.signature === undefined && alg === 'HS256') {
      sig = b64url(crypto.createHmac('sha256', opts.secret ?? this.jwtSecret).update(signing).digest());
    } else if (opts.signature === undefined && alg === 'RS256') {
      const key = opts.key ?? this.rsa?.privateKey;
      if (!key) throw new Error('signJwt RS256 needs startStack({ rsa: true }) or opts.key');
      sig = b64url(crypto.sign('sha256', Buffer.from(signing), key));
    }
    return `${signing}.${sig}`;
  }

  /* createAdmin - an admin user via tallyctl (password on stdin) */
  async createAdmin(username, role, password) {
    const r = await this.tallyctl('admin', 'create', username, role, { input: `${password}\n` });
    if (r.code !== 0) throw new Error(`tallyctl admin create ${username}: ${r.stderr}`);
    return /\((adm_[^,]+),/.exec(r.stderr)?.[1];
  }

  /*
   * adminLogin - POST /admin/api/v1/login through nginx:
   * {status, body, cookie (the session token), setCookie (the header),
   * csrf, headers}
   */
  async adminLogin(username, password) {
    const res = await req(this, 'POST', '/admin/api/v1/login', { json: { username, password } });
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('tally_session=')) ?? null;
    const cookie = setCookie ? /^tally_session=([^;]*)/.exec(setCookie)[1] : null;
    return {
      status: res.status, body: res.json, headers: res.headers, setCookie, cookie,
      csrf: res.json?.csrf_token ?? null,
    };
  }

  /* --- logs --- */

  logText() {
    try { return fs.readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }

  /* logLines - the tallyd log, one parsed object per line (throws on a bad line) */
  logLines() {
    return this.logText().split('\n').filter((l) => l !== '').map((l) => {
      try { return JSON.parse(l); } catch { throw new Error(`tallyd log line is not JSON: ${l}`); }
    });
  }

  /* waitForLog - until a log line satisfies 'pred'; returns it */
  waitForLog(pred, { timeoutMs = 10000, what = 'a log line' } = {}) {
    return waitFor(() => this.logLines().find(pred), { timeoutMs, interval: 50, what });
  }

  tail(file, n = 20) {
    try {
      const lines = fs.readFileSync(path.join(this.dir, 'log', file), 'utf8').trimEnd().split('\n');
      return `\n--- ${file}\n${lines.slice(-n).join('\n')}\n`;
    } catch {
      return '';
    }
  }

  /* nginxErrors - the [error] (and worse) lines of nginx's error log */
  nginxErrors() {
    try {
      return fs.readFileSync(path.join(this.dir, 'log', 'nginx-error.log'), 'utf8').split('\n')
        .filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
    } catch {
      return [];
    }
  }

  /*
   * problems - the warnings and errors of tallyd's and nginx's logs (the
   * run's temp dir is removed at its end: the test output keeps these)
   */
  problems(max = 10) {
    const pick = (file, re) => {
      try {
        return fs.readFileSync(path.join(this.dir, 'log', file), 'utf8').split('\n')
          .filter((l) => re.test(l)).slice(-max);
      } catch {
        return [];
      }
    };
    const t = pick('tallyd.log', /"level":"(warn|error|fatal)"/);
    const n = pick('nginx-error.log', /\[(error|crit|alert|emerg)\]/);
    const e = pick('tallyd.err', /./);
    let out = '';
    if (t.length) out += `--- tallyd.log warnings and errors\n${t.join('\n')}\n`;
    if (n.length) out += `--- nginx-error.log errors\n${n.join('\n')}\n`;
    if (e.length) out += `--- tallyd.err\n${e.join('\n')}\n`;
    return out;
  }

  /* --- the end --- */

  /* noteTest - from afterEach((t) => stack?.noteTest(t)): keep the dir of a failed file */
  noteTest(t) {
    if (t && t.passed === false) this.failed = true;
  }

  async stop() {
    if (this.stopped) return;
    if (this.portHold) {
      await this.portHold.release();
      this.portHold = null;
    }
    this.stopped = true;
    for (const a of agents.values()) a.destroy();
    agents.clear();
    await this.stopNginx().catch(() => {});
    await this.stopTallyd().catch(() => {});
    if (this.emulator && this.emulator.exitCode === null && this.emulator.signalCode === null) {
      this.emulator.kill('SIGTERM');
      /* the timer also keeps the event loop alive: the child is unref'd */
      const timer = setTimeout(() => this.emulator.kill('SIGKILL'), 5000);
      await this.emulator.exited;
      clearTimeout(timer);
    }
    if (this.db) await this.db.drop().catch(() => {});
    if (this.failed || process.env.TALLY_KEEP_STACK === '1') {
      process.stderr.write(`stack dir kept (a test failed, or a todo test): ${this.dir}\n`);
      if (this.failed) process.stderr.write(this.problems());
    } else {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

export { sleep, waitFor };
