/*
 * logs.test.mjs - tallyd's log (DESIGN §8): one JSON object per line with
 * ts, level, proc, pid, component and msg, no key twice; request lines
 * carry the request id the client saw in X-Request-Id (and so do the
 * other lines about that request); and no line holds a secret the test
 * used: the API key, a buyer JWT, an admin password (right or wrong), the
 * session cookie or the CSRF token.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { bearer, randomString, req, startStack, waitFor } from './lib/stack.mjs';

let stack;
const secrets = {};
const responses = [];

/* track - remember a response's request id and what was asked */
function track(res, method, path) {
  responses.push({ rid: res.headers.get('x-request-id'), method, path, status: res.status });
  return res;
}

async function call(method, path, opts) {
  return track(await req(stack, method, path, opts), method, path);
}

before(async () => {
  stack = await startStack({ name: 'logs' });
  secrets.apiKey = await stack.apiKey();
  secrets.jwt = await stack.buyerJwt(`log-${randomString(8)}`, { email: 'log@example.test' });
  secrets.password = `pw-${randomString(20)}`;
  secrets.wrongPassword = `wrong-${randomString(20)}`;
  await stack.createAdmin('logadmin', 'admin', secrets.password);

  /* traffic of every kind: good and bad credentials, admin session, errors */
  await call('GET', '/api/v1/me', { headers: bearer(secrets.apiKey) });
  await call('GET', '/api/v1/me', { headers: bearer(secrets.jwt) });
  secrets.badJwt = stack.signJwt({ alg: 'HS256', typ: 'JWT' }, {
    iss: 'https://auth.test', aud: 'tally', sub: 'x', exp: Math.floor(Date.now() / 1000) + 60,
  }, { secret: randomString(48) });
  await call('GET', '/api/v1/me', { headers: bearer(secrets.badJwt) });
  secrets.unknownKey = `tly_sk_${randomString(32)}`;
  await call('GET', '/api/v1/me', { headers: bearer(secrets.unknownKey) });
  await call('POST', '/admin/api/v1/login', { json: { username: 'logadmin', password: secrets.wrongPassword } });
  const login = await stack.adminLogin('logadmin', secrets.password);
  track({ headers: login.headers, status: login.status }, 'POST', '/admin/api/v1/login');
  secrets.cookie = login.cookie;
  secrets.csrf = login.csrf;
  const session = { Cookie: `tally_session=${login.cookie}`, 'X-CSRF-Token': login.csrf };
  await call('GET', '/admin/api/v1/me', { headers: session });
  const key = await call('POST', '/admin/api/v1/api_keys', { headers: session, json: { name: 'from-the-panel' } });
  secrets.panelKey = key.json?.key;
  await call('GET', '/api/v1/nope');
  await call('GET', '/api/v1/health');

  /* and a worker death, for the master's lines with fields */
  const [victim] = stack.workerPids('webhook');
  process.kill(victim, 'SIGKILL');
  await stack.waitForLog((l) => l.proc === 'master' && /child died/.test(l.msg), { what: 'the death logged' });
  /* access lines are deferred until their worker is idle: wait for each */
  await waitFor(() => responses.every((r) => !r.rid || stack.logText().includes(r.rid)),
    { timeoutMs: 10000, interval: 100, what: 'every request\'s line written' });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  await stack?.stop();
});

/*
 * flatKeys - the keys of a flat JSON object, in order, repeats included
 * (JSON.parse keeps the last of two equal keys and hides the repeat)
 */
function flatKeys(line) {
  const tokens = line.match(/"(?:[^"\\]|\\.)*"|[{}[\],:]|[^"{}[\],:\s]+/g) ?? [];
  const keys = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === '{' || t === '[') depth++;
    else if (t === '}' || t === ']') depth--;
    else if (depth === 1 && t.startsWith('"') && tokens[i + 1] === ':') keys.push(JSON.parse(t));
  }
  return keys;
}

function lines() {
  return stack.logText().split('\n').filter((l) => l !== '');
}

test('every line is one JSON object with ts, level, proc, pid, component, msg', () => {
  const all = lines();
  assert.ok(all.length >= 10, `the log has lines (${all.length})`);
  for (const line of all) {
    let o;
    assert.doesNotThrow(() => { o = JSON.parse(line); }, `valid JSON: ${line}`);
    assert.equal(typeof o, 'object', `an object: ${line}`);
    assert.match(o.ts ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, `ts in UTC ISO 8601: ${line}`);
    assert.ok(['debug', 'info', 'warn', 'error', 'alert', 'fatal'].includes(o.level), `level: ${line}`);
    assert.ok(['master', 'api', 'webhook', 'admin'].includes(o.proc) || /^job/.test(o.proc), `proc: ${line}`);
    assert.equal(typeof o.component, 'string', `component: ${line}`);
    assert.equal(typeof o.msg, 'string', `msg: ${line}`);
    assert.ok(flatKeys(line).includes('pid'), `pid: ${line}`);
  }
});

test('no line has a key twice; pid is the writing process\'s id', () => {
  for (const line of lines()) {
    const keys = flatKeys(line);
    const dup = keys.filter((k, i) => keys.indexOf(k) !== i);
    assert.deepEqual(dup, [], `no repeated key in: ${line}`);
    const o = JSON.parse(line);
    assert.ok(Number.isInteger(o.pid) && o.pid > 0, `pid is a process id number: ${line}`);
  }
});

test('request lines carry the X-Request-Id of their response', async () => {
  assert.ok(responses.length >= 10, 'the requests were made');
  await waitFor(() => {
    const seen = new Set(stack.logLines().filter((l) => l.msg === 'request').map((l) => l.request_id));
    return responses.every((r) => seen.has(r.rid));
  }, { timeoutMs: 5000, what: 'a request line for every response' });
  const logged = stack.logLines().filter((l) => l.component === 'http' && l.msg === 'request');
  for (const r of responses) {
    assert.match(r.rid ?? '', /^[0-9a-f]{32}$/, `${r.method} ${r.path}: X-Request-Id`);
    const mine = logged.filter((l) => l.request_id === r.rid);
    assert.equal(mine.length, 1, `${r.method} ${r.path}: one request line with its id`);
    assert.equal(mine[0].path, r.path, `${r.method} ${r.path}: path`);
    assert.equal(mine[0].method, r.method, `${r.method} ${r.path}: method`);
    assert.equal(String(mine[0].status), String(r.status), `${r.method} ${r.path}: status`);
  }
  /* the other lines about a request carry its id too */
  const bad = responses.find((r) => r.status === 401 && r.path === '/api/v1/me');
  const about = stack.logLines().filter((l) => l.request_id === bad.rid);
  assert.ok(about.some((l) => l.component === 'auth'), 'the refusal\'s auth line has the request id');
  for (const l of stack.logLines().filter((x) => x.component === 'auth')) {
    assert.ok(l.request_id, `an auth line without a request id: ${JSON.stringify(l)}`);
  }
});

test('no line contains a secret', () => {
  const text = stack.logText();
  assert.ok(text.length > 0, 'there is a log');
  for (const [name, value] of Object.entries(secrets)) {
    if (!value) continue;
    assert.ok(!text.includes(value), `the log contains the ${name}`);
  }
  /* nor the signature or payload of a token on its own */
  for (const name of ['jwt', 'badJwt']) {
    const [, payload, sig] = secrets[name].split('.');
    assert.ok(!text.includes(sig), `the log contains the signature of the ${name}`);
    assert.ok(!text.includes(payload), `the log contains the payload of the ${name}`);
  }
  assert.ok(!text.includes(secrets.apiKey.slice(7)), 'the log contains the API key without its prefix');
});
