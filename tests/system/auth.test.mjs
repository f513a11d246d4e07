/*
 * auth.test.mjs - who may call what (DESIGN §7), through nginx:
 * - buyers: HS256 tokens from tallyctl jwt and RS256 tokens of a second
 *   issuer; an account per (issuer, sub), created once even by
 *   concurrent first requests; every bad token (expired, not yet valid,
 *   wrong audience, unknown issuer, forged, tampered, alg none, algorithm
 *   confusion, garbage, Basic) is one opaque 401;
 * - servers: API keys from tallyctl, revoked keys refused;
 * - admins: session cookie attributes, CSRF, roles, users and keys made
 *   through the admin API and their audit entries, logout; credentials
 *   of one kind never work on routes of another;
 * - throttles: failed admin logins (a short, growing per-user delay and
 *   a hard per-address limit, 429 + Retry-After, checked over FastCGI so
 *   nginx's own login limit stays out of the way; hardening.test.mjs
 *   has the rest) and the
 *   per-principal token bucket (server_per_second 1, burst 3 here).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { fcgiHttp } from './lib/fcgi.mjs';
import {
  AUDIENCE, HS_ISSUER, RSA_ISSUER, bearer, randomString, req, startStack,
} from './lib/stack.mjs';

let stack;

before(async () => {
  stack = await startStack({
    name: 'auth', rsa: true, conf: { ratelimit: { server_per_second: 1, server_burst: 3 } },
  });
});
afterEach((t) => stack?.noteTest(t));
after(async () => {
  await stack?.stop();
});

const now = () => Math.floor(Date.now() / 1000);
const HS = { alg: 'HS256', typ: 'JWT' };
const RS = { alg: 'RS256', typ: 'JWT' };

function claims(over = {}) {
  return { iss: HS_ISSUER, aud: AUDIENCE, sub: `buyer-${randomString(8)}`, iat: now(), exp: now() + 600, ...over };
}

function me(headers) {
  return req(stack, 'GET', '/api/v1/me', { headers });
}

/* assert401 - an opaque authentication failure; returns the error object */
function assert401(res, what) {
  assert.equal(res.status, 401, `${what}: status`);
  assert.equal(res.json?.error?.type, 'authentication_error', `${what}: error.type (${res.body})`);
  assert.equal(res.json.error.request_id, res.headers.get('x-request-id'), `${what}: request_id`);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/, `${what}: WWW-Authenticate`);
  return res.json.error;
}

/* opaque - the error without its request id, to compare answers */
function opaque(e) {
  const { request_id: _, ...rest } = e;
  return JSON.stringify(rest);
}

describe('buyers', () => {
  test('a tallyctl token: 200, a buyer account, the same one each time', async () => {
    const sub = `buyer-${randomString(8)}`;
    const tok = await stack.buyerJwt(sub, { email: 'b@example.test' });
    const a = await me(bearer(tok));
    assert.equal(a.status, 200, 'first request');
    assert.equal(a.json.kind, 'buyer', 'kind');
    assert.match(a.json.account_id, /^acc_[A-Za-z0-9]+$/, 'account id');
    assert.equal(a.json.sub, sub, 'sub');
    assert.equal(a.json.email, 'b@example.test', 'email');
    const tok2 = await stack.buyerJwt(sub);
    const b = await me(bearer(tok2));
    assert.equal(b.status, 200, 'second request, another token');
    assert.equal(b.json.account_id, a.json.account_id, 'the same sub is the same account');
  });

  test('concurrent first requests of a new sub make one account', async () => {
    const sub = `race-${randomString(8)}`;
    const tok = await stack.buyerJwt(sub);
    const [[accountsBefore]] = await stack.sql("SELECT COUNT(*) FROM accounts WHERE kind = 'buyer'");
    const all = await Promise.all(Array.from({ length: 8 }, () => me(bearer(tok))));
    for (const [i, r] of all.entries()) assert.equal(r.status, 200, `request ${i}: ${r.body}`);
    const ids = new Set(all.map((r) => r.json.account_id));
    assert.equal(ids.size, 1, `one account id in all answers (${[...ids]})`);
    const rows = await stack.sql(`SELECT account_id FROM buyer_identities WHERE sub = '${sub}'`);
    assert.equal(rows.length, 1, 'one buyer_identities row');
    assert.equal(rows[0][0], [...ids][0], 'the row is the answered account');
    const [[accountsAfter]] = await stack.sql("SELECT COUNT(*) FROM accounts WHERE kind = 'buyer'");
    assert.equal(Number(accountsAfter), Number(accountsBefore) + 1, 'exactly one new buyer account (no orphan)');
  });

  test('an RS256 token of the second issuer is accepted, as another identity', async () => {
    const sub = `rsa-${randomString(8)}`;
    const rs = await me(bearer(stack.signJwt(RS, claims({ iss: RSA_ISSUER, sub }))));
    assert.equal(rs.status, 200, `RS256 token (${rs.body})`);
    assert.equal(rs.json.kind, 'buyer', 'kind');
    const hs = await me(bearer(stack.signJwt(HS, claims({ sub }))));
    assert.equal(hs.status, 200, 'HS256 token, same sub');
    assert.notEqual(hs.json.account_id, rs.json.account_id, 'the same sub of two issuers: two accounts');
  });

  test('an audience array containing ours is accepted; the leeway forgives 10 s', async () => {
    const arr = await me(bearer(stack.signJwt(HS, claims({ aud: ['other', AUDIENCE] }))));
    assert.equal(arr.status, 200, 'aud array');
    const late = await me(bearer(stack.signJwt(HS, claims({ exp: now() - 10 }))));
    assert.equal(late.status, 200, 'expired 10 s ago, within the 30 s leeway');
  });

  test('every bad token is the same opaque 401', async () => {
    const good = await stack.buyerJwt(`buyer-${randomString(8)}`);
    const [h, p, sig] = good.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url')}.${sig}`;
    const cases = {
      expired: stack.signJwt(HS, claims({ iat: now() - 7200, exp: now() - 3600 })),
      'not yet valid (nbf)': stack.signJwt(HS, claims({ nbf: now() + 3600 })),
      'wrong audience': stack.signJwt(HS, claims({ aud: 'someone-else' })),
      'unknown issuer': stack.signJwt(HS, claims({ iss: 'https://evil.test' })),
      'no exp': stack.signJwt(HS, (({ exp: _, ...c }) => c)(claims())),
      'exp not a number': stack.signJwt(HS, claims({ exp: 'tomorrow' })),
      'empty sub': stack.signJwt(HS, claims({ sub: '' })),
      'forged signature (another secret)': stack.signJwt(HS, claims(), { secret: randomString(48) }),
      'tampered payload': tampered,
      'signature of another token': `${h}.${p}.${stack.signJwt(HS, claims()).split('.')[2]}`,
      'alg none, empty signature': stack.signJwt({ alg: 'none', typ: 'JWT' }, claims()),
      'alg none, some signature': stack.signJwt({ alg: 'none', typ: 'JWT' }, claims(), { signature: 'AAAA' }),
      'alg None': stack.signJwt({ alg: 'None' }, claims(), { signature: sig }),
      'HS256 keyed with the RS256 public key (algorithm confusion)':
        stack.signJwt(HS, claims({ iss: RSA_ISSUER }), { secret: stack.rsa.publicPem }),
      'RS256 header for the HS256 issuer': stack.signJwt(RS, claims()),
      'RS256 signed by another key': stack.signJwt(RS, claims({ iss: RSA_ISSUER }), {
        key: (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
      }),
      'typ not JWT': stack.signJwt({ alg: 'HS256', typ: 'at+jwt' }, claims()),
      'crit header': stack.signJwt({ alg: 'HS256', crit: ['exp'] }, claims()),
      garbage: 'garbage',
      'three dots of garbage': 'a.b.c',
      'four parts': `${good}.x`,
    };
    const answers = [];
    for (const [what, tok] of Object.entries(cases)) {
      const e = assert401(await me(bearer(tok)), what);
      assert.equal(e.message, 'Authentication failed.', `${what}: the one message for bad credentials`);
      answers.push({ what, shaped: /^[^.]+\.[^.]+\.[^.]+$/.test(tok), answer: opaque(e) });
    }
    const basic = assert401(await me({ Authorization: 'Basic dXNlcjpwYXNzd29yZA==' }), 'Basic');
    assert.equal(basic.message, 'Authentication failed.', 'Basic: the same message');
    /* no hint which part was wrong: every token shaped like a JWT gets the very same answer */
    const shaped = answers.filter((a) => a.shaped);
    assert.ok(shaped.length >= 15, 'most cases are well-formed JWTs');
    assert.equal(new Set(shaped.map((a) => a.answer)).size, 1,
      `one answer for every bad JWT: ${shaped.map((a) => `${a.what} -> ${a.answer}`).join('; ')}`);
  });

  test('no credentials: 401', async () => {
    const e = assert401(await me({}), 'no Authorization');
    assert.equal(e.code, 'missing_credentials', 'code');
  });
});

describe('servers', () => {
  test('an API key from tallyctl: 200 as a server; revoked: 401', async () => {
    const { key, id } = await stack.createApiKey('auth-test');
    assert.match(key, /^tly_sk_[A-Za-z0-9]{20,}$/, 'key shape');
    const ok = await me(bearer(key));
    assert.equal(ok.status, 200, 'active key');
    assert.equal(ok.json.kind, 'server', 'kind');
    assert.equal(ok.json.api_key_id, id, 'key id');
    assert.equal(ok.json.name, 'auth-test', 'key name');
    const rv = await stack.tallyctl('apikey', 'revoke', id);
    assert.equal(rv.code, 0, `tallyctl apikey revoke: ${rv.stderr}`);
    const e = assert401(await me(bearer(key)), 'revoked key');
    assert.equal(e.message, 'Authentication failed.', 'the same message');
    const unknown = assert401(await me(bearer(`tly_sk_${randomString(32)}`)), 'unknown key');
    assert.equal(opaque(unknown), opaque(e), 'revoked and unknown keys answer alike');
  });

  test('per-principal rate limit: 429 with Retry-After past the burst; another key unaffected', async () => {
    const a = await stack.createApiKey('rate-a');
    const b = await stack.createApiKey('rate-b');
    const t0 = performance.now();
    let ok = 0;
    let limited = null;
    for (let i = 0; i < 10 && !limited; i++) {
      const r = await me(bearer(a.key));
      if (r.status === 429) limited = r;
      else {
        assert.equal(r.status, 200, `request ${i} before the limit`);
        ok++;
      }
    }
    const secs = (performance.now() - t0) / 1000;
    assert.ok(limited, 'a 429 within 10 quick requests');
    assert.ok(ok >= 3, `the burst of 3 was allowed (${ok} answered 200)`);
    assert.ok(ok <= 3 + Math.ceil(secs), `no more than burst + refill answered 200 (${ok} in ${secs.toFixed(2)} s)`);
    assert.equal(limited.json?.error?.type, 'rate_limit_error', 'type');
    assert.equal(limited.json.error.code, 'rate_limited', 'code');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1, 'Retry-After of at least 1 s');
    const other = await me(bearer(b.key));
    assert.equal(other.status, 200, 'another key is not limited');
  });
});

describe('admins', () => {
  const pw = { viewer: `viewer-${randomString(16)}`, root: `root-${randomString(16)}` };
  let root;
  let viewer;

  const cookieOf = (s) => ({ Cookie: `tally_session=${s.cookie}` });
  const adminReq = (s, method, path, { csrf, json } = {}) => req(stack, method, path, {
    headers: { ...cookieOf(s), ...(csrf ? { 'X-CSRF-Token': csrf } : {}) }, json,
  });

  before(async () => {
    root = { id: await stack.createAdmin('root1', 'admin', pw.root) };
    viewer = { id: await stack.createAdmin('viewer1', 'viewer', pw.viewer) };
  });

  test('login sets an HttpOnly, SameSite=Strict, Path=/admin cookie and returns a CSRF token', async () => {
    const s = await stack.adminLogin('root1', pw.root);
    assert.equal(s.status, 200, `login (${JSON.stringify(s.body)})`);
    assert.ok(s.cookie && s.cookie.length >= 32, 'a session token in the cookie');
    const attrs = s.setCookie.split(';').map((x) => x.trim().toLowerCase());
    assert.ok(attrs.includes('httponly'), `HttpOnly (${s.setCookie})`);
    assert.ok(attrs.includes('samesite=strict'), 'SameSite=Strict');
    assert.ok(attrs.includes('path=/admin'), 'Path=/admin');
    assert.ok(!attrs.includes('secure'), 'no Secure with cookie_secure = no');
    assert.match(s.csrf ?? '', /^[A-Za-z0-9_-]{20,}$/, 'a CSRF token');
    assert.equal(s.body.user.username, 'root1', 'username');
    assert.equal(s.body.user.role, 'admin', 'role');
    assert.ok(!JSON.stringify(s.body).includes(s.cookie), 'the session token is not in the body');
    Object.assign(root, s);
    const v = await stack.adminLogin('viewer1', pw.viewer);
    assert.equal(v.status, 200, 'viewer login');
    Object.assign(viewer, v);
  });

  test('wrong password and unknown user: the same 401', async () => {
    const wrong = await stack.adminLogin('viewer1', 'not-the-password-at-all');
    const unknown = await stack.adminLogin('nobody-at-all', 'not-the-password-at-all');
    assert.equal(wrong.status, 401, 'wrong password');
    assert.equal(unknown.status, 401, 'unknown user');
    assert.equal(wrong.setCookie, null, 'no cookie on failure');
    assert.equal(opaque(wrong.body.error), opaque(unknown.body.error), 'the same answer for both');
    assert.equal(wrong.body.error.type, 'authentication_error', 'type');
  });

  test('GET /admin/api/v1/me with the cookie', async () => {
    const r = await adminReq(root, 'GET', '/admin/api/v1/me');
    assert.equal(r.status, 200, 'status');
    assert.equal(r.json.user.username, 'root1', 'user');
    assert.equal(r.json.csrf_token, root.csrf, 'the session\'s CSRF token again');
  });

  test('CSRF: a POST needs the session\'s X-CSRF-Token', async () => {
    const none = await adminReq(root, 'POST', '/admin/api/v1/api_keys', { json: { name: 'csrf-none' } });
    assert.equal(none.status, 403, 'no token');
    assert.equal(none.json?.error?.code, 'csrf_failed', 'code without a token');
    const wrong = await adminReq(root, 'POST', '/admin/api/v1/api_keys', { json: { name: 'csrf-wrong' }, csrf: randomString(32) });
    assert.equal(wrong.status, 403, 'wrong token');
    assert.equal(wrong.json?.error?.code, 'csrf_failed', 'code with a wrong token');
    const other = await adminReq(root, 'POST', '/admin/api/v1/api_keys', { json: { name: 'csrf-other' }, csrf: viewer.csrf });
    assert.equal(other.status, 403, 'another session\'s token');
    const ok = await adminReq(root, 'POST', '/admin/api/v1/api_keys', { json: { name: 'csrf-ok' }, csrf: root.csrf });
    assert.equal(ok.status, 201, `the right token (${ok.body})`);
    const names = (await stack.sql('SELECT name FROM api_keys')).map((r) => r[0]);
    assert.ok(names.includes('csrf-ok'), 'the key was made');
    assert.ok(!names.some((n) => /csrf-(none|wrong|other)/.test(n)), 'the refused requests made nothing');
  });

  test('roles: a viewer may not list users; an admin may', async () => {
    const v = await adminReq(viewer, 'GET', '/admin/api/v1/users');
    assert.equal(v.status, 403, 'viewer');
    assert.equal(v.json?.error?.code, 'role_required', 'code');
    assert.equal(v.json.error.type, 'permission_error', 'type');
    const vk = await adminReq(viewer, 'POST', '/admin/api/v1/api_keys', { json: { name: 'by-viewer' }, csrf: viewer.csrf });
    assert.equal(vk.status, 403, 'a viewer may not make keys');
    const a = await adminReq(root, 'GET', '/admin/api/v1/users');
    assert.equal(a.status, 200, 'admin');
    const names = a.json.data.map((u) => u.username);
    assert.ok(names.includes('viewer1') && names.includes('root1'), `both users listed (${names})`);
    assert.ok(!a.body.includes('scrypt'), 'no password hash in the list');
    const va = await adminReq(viewer, 'GET', '/admin/api/v1/audit');
    assert.equal(va.status, 200, 'a viewer may read the audit log');
  });

  test('an admin makes a user and an API key, revokes it; the audit log has it all', async () => {
    const newPw = `new-${randomString(16)}`;
    const u = await adminReq(root, 'POST', '/admin/api/v1/users', {
      json: { username: 'support1', password: newPw, role: 'support' }, csrf: root.csrf,
    });
    assert.equal(u.status, 201, `user created (${u.body})`);
    const uRid = u.headers.get('x-request-id');
    const s = await stack.adminLogin('support1', newPw);
    assert.equal(s.status, 200, 'the new user logs in');
    assert.equal(s.body.user.role, 'support', 'with its role');

    const k = await adminReq(root, 'POST', '/admin/api/v1/api_keys', { json: { name: 'made-by-admin' }, csrf: root.csrf });
    assert.equal(k.status, 201, 'key created');
    assert.match(k.json.key, /^tly_sk_/, 'the key is shown once');
    const use = await me(bearer(k.json.key));
    assert.equal(use.status, 200, 'the key works');
    assert.equal(use.json.api_key_id, k.json.id, 'as itself');
    const list = await adminReq(root, 'GET', '/admin/api/v1/api_keys');
    assert.equal(list.status, 200, 'key list');
    assert.ok(!list.body.includes(k.json.key), 'the list never shows a key');

    const rv = await adminReq(root, 'POST', `/admin/api/v1/api_keys/${k.json.id}/revoke`, { csrf: root.csrf });
    assert.equal(rv.status, 200, `revoked (${rv.body})`);
    assert401(await me(bearer(k.json.key)), 'the revoked key');
    const missing = await adminReq(root, 'POST', '/admin/api/v1/api_keys/key_doesnotexist/revoke', { csrf: root.csrf });
    assert.equal(missing.status, 404, 'revoking an unknown key');

    const audit = await adminReq(root, 'GET', '/admin/api/v1/audit?limit=100');
    assert.equal(audit.status, 200, 'audit list');
    const find = (action, object) => audit.json.data.find((e) => e.action === action && e.object_id === object);
    const made = audit.json.data.find((e) => e.action === 'admin_user.create' && e.actor_id === root.id);
    assert.ok(made, 'admin_user.create by the admin');
    assert.equal(made.actor_kind, 'admin', 'actor kind');
    assert.equal(made.request_id, uRid, 'the audit entry carries the request id');
    assert.ok(find('api_key.create', k.json.id)?.actor_id === root.id, 'api_key.create by the admin');
    assert.ok(find('api_key.revoke', k.json.id)?.actor_id === root.id, 'api_key.revoke by the admin');
    assert.ok(audit.json.data.some((e) => e.action === 'admin.login' && e.actor_id === root.id), 'the login is audited');
  });

  test('credentials of another kind: 403 on admin routes, the cookie is nothing on /api', async () => {
    const tok = await stack.buyerJwt(`buyer-${randomString(8)}`);
    const key = (await stack.createApiKey('kind-test')).key;
    for (const [what, h] of [['buyer JWT', bearer(tok)], ['API key', bearer(key)]]) {
      const r = await req(stack, 'GET', '/admin/api/v1/me', { headers: h });
      assert.equal(r.status, 403, `${what} on an admin route`);
      assert.equal(r.json?.error?.type, 'permission_error', `${what}: type`);
      const u = await req(stack, 'GET', '/admin/api/v1/users', { headers: h });
      assert.equal(u.status, 403, `${what} on the admin users list`);
    }
    const r = await req(stack, 'GET', '/api/v1/me', { headers: cookieOf(root) });
    assert401(r, 'the admin cookie on /api/v1/me');
  });

  test('logout: the cookie stops working', async () => {
    const s = await stack.adminLogin('viewer1', pw.viewer);
    assert.equal(s.status, 200, 'login');
    const noCsrf = await adminReq(s, 'POST', '/admin/api/v1/logout');
    assert.equal(noCsrf.status, 403, 'logout needs the CSRF token too');
    const out = await adminReq(s, 'POST', '/admin/api/v1/logout', { csrf: s.csrf });
    assert.equal(out.status, 200, 'logout');
    const cleared = out.headers.getSetCookie().find((c) => c.startsWith('tally_session='));
    assert.match(cleared ?? '', /Max-Age=0/, 'the cookie is cleared');
    assert401(await adminReq(s, 'GET', '/admin/api/v1/me'), 'the old cookie after logout');
    const still = await adminReq(viewer, 'GET', '/admin/api/v1/me');
    assert.equal(still.status, 200, 'the user\'s other session lives on');
  });

  /* fcgiLogin - a login over FastCGI from its own address (outside nginx's login limit) */
  async function fcgiLogin(username, password, remoteAddr) {
    const r = await fcgiHttp(stack.socket('admin'), 'POST', '/admin/api/v1/login', {
      json: { username, password }, remoteAddr,
    });
    const token = /tally_session=([^;]*)/.exec(r.headers['set-cookie'] ?? '')?.[1] ?? null;
    return { status: r.status, body: r.json, cookie: token, csrf: r.json?.csrf_token };
  }

  test('a disabled user loses its session and cannot log in', async () => {
    const pwD = `dis-${randomString(16)}`;
    await stack.createAdmin('disabled1', 'admin', pwD);
    const s = await fcgiLogin('disabled1', pwD, '198.51.100.20');
    assert.equal(s.status, 200, 'login before');
    assert.equal((await adminReq(s, 'GET', '/admin/api/v1/me')).status, 200, 'session before');
    await stack.sql("UPDATE admin_users SET disabled = 1 WHERE username = 'disabled1'");
    assert401(await adminReq(s, 'GET', '/admin/api/v1/me'), 'the session of a disabled user');
    const again = await fcgiLogin('disabled1', pwD, '198.51.100.20');
    assert.equal(again.status, 401, 'a disabled user cannot log in');
    assert.equal(again.cookie, null, 'no session');
  });

  test('tallyctl admin passwd: new password, the old one and old sessions stop working', async () => {
    const oldPw = `old-${randomString(16)}`;
    const newPw = `new-${randomString(16)}`;
    await stack.createAdmin('rotated1', 'viewer', oldPw);
    const s = await fcgiLogin('rotated1', oldPw, '198.51.100.21');
    assert.equal(s.status, 200, 'login with the old password');
    const r = await stack.tallyctl('admin', 'passwd', 'rotated1', { input: `${newPw}\n` });
    assert.equal(r.code, 0, `tallyctl admin passwd (${r.stderr})`);
    assert401(await adminReq(s, 'GET', '/admin/api/v1/me'), 'a session from before the change');
    assert.equal((await fcgiLogin('rotated1', oldPw, '198.51.100.21')).status, 401, 'the old password');
    const fresh = await fcgiLogin('rotated1', newPw, '198.51.100.21');
    assert.equal(fresh.status, 200, 'the new password');
    assert.equal((await adminReq(fresh, 'GET', '/admin/api/v1/me')).status, 200, 'its session works');
    const weak = await stack.tallyctl('admin', 'passwd', 'rotated1', { input: 'short\n' });
    assert.notEqual(weak.code, 0, 'a password under 12 characters is refused');
  });

  test('an idle or expired session is refused and deleted; an active one is kept alive', async () => {
    const pwS = `ses-${randomString(16)}`;
    await stack.createAdmin('sessions1', 'viewer', pwS);
    const hashOf = async (s) => (await stack.sql(
      `SELECT token_hash FROM admin_sessions WHERE token_hash = SHA2('${s.cookie}', 256)`))[0]?.[0];

    const idle = await fcgiLogin('sessions1', pwS, '198.51.100.30');
    assert.ok(await hashOf(idle), 'the session is stored by its hash');
    await stack.sql(`UPDATE admin_sessions SET last_seen_at = NOW(3) - INTERVAL 31 MINUTE WHERE token_hash = SHA2('${idle.cookie}', 256)`);
    assert401(await adminReq(idle, 'GET', '/admin/api/v1/me'), 'a session idle for 31 minutes (session_idle 30)');
    assert.equal(await hashOf(idle), undefined, 'the idle session is deleted');

    const old = await fcgiLogin('sessions1', pwS, '198.51.100.30');
    await stack.sql(`UPDATE admin_sessions SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE token_hash = SHA2('${old.cookie}', 256)`);
    assert401(await adminReq(old, 'GET', '/admin/api/v1/me'), 'an expired session');
    assert.equal(await hashOf(old), undefined, 'the expired session is deleted');

    const active = await fcgiLogin('sessions1', pwS, '198.51.100.30');
    await stack.sql(`UPDATE admin_sessions SET last_seen_at = NOW(3) - INTERVAL 29 MINUTE WHERE token_hash = SHA2('${active.cookie}', 256)`);
    assert.equal((await adminReq(active, 'GET', '/admin/api/v1/me')).status, 200, 'idle 29 minutes: still valid');
    const [[idleS]] = await stack.sql(`SELECT TIMESTAMPDIFF(SECOND, last_seen_at, NOW(3)) FROM admin_sessions WHERE token_hash = SHA2('${active.cookie}', 256)`);
    assert.ok(Number(idleS) < 60, `using the session refreshes last_seen_at (idle ${idleS} s)`);
  });

  test('lists page with limit and starting_after; a bad limit is 400', async () => {
    const first = await adminReq(root, 'GET', '/admin/api/v1/users?limit=1');
    assert.equal(first.status, 200, 'first page');
    assert.equal(first.json.object, 'list', 'a list');
    assert.equal(first.json.data.length, 1, 'one user per page');
    assert.equal(first.json.has_more, true, 'more pages');
    const second = await adminReq(root, 'GET', `/admin/api/v1/users?limit=1&starting_after=${first.json.data[0].id}`);
    assert.equal(second.status, 200, 'second page');
    assert.equal(second.json.data.length, 1, 'one user');
    assert.notEqual(second.json.data[0].id, first.json.data[0].id, 'the next user');
    assert.ok(second.json.data[0].id < first.json.data[0].id, 'newest first');
    for (const bad of ['0', '101', 'x', '-1']) {
      const r = await adminReq(root, 'GET', `/admin/api/v1/users?limit=${bad}`);
      assert.equal(r.status, 400, `limit=${bad}`);
      assert.equal(r.json?.error?.code, 'parameter_invalid', `limit=${bad}: code`);
    }
    const badCursor = await adminReq(root, 'GET', "/admin/api/v1/users?starting_after=x'%20OR%201=1");
    assert.equal(badCursor.status, 400, 'a cursor that is not an id');
  });

  test('failed logins throttle the address too: many users each below their limit, then 429 from that address only', async () => {
    /* the per-address limit is 4x the per-user one (login_max_failures 5): 20 failures
       spread over 10 unknown users (2 each, never a user's own limit) close the address */
    const addr = '198.51.100.99';
    const login = (username, password, remoteAddr = addr) => fcgiHttp(stack.socket('admin'), 'POST',
      '/admin/api/v1/login', { json: { username, password }, remoteAddr });
    for (let i = 0; i < 20; i++) {
      const r = await login(`nobody-${i % 10}`, `wrong-${i}`);
      assert.equal(r.status, 401, `failure ${i + 1} of 20`);
    }
    const r = await login('viewer1', pw.viewer);
    assert.equal(r.status, 429, `a real user with the right password from that address (${r.text})`);
    assert.ok(Number(r.headers['retry-after']) > 0, 'Retry-After');
    const elsewhere = await login('viewer1', pw.viewer, '198.51.100.100');
    assert.equal(elsewhere.status, 200, 'the same user from another address');
    await stack.sql(`DELETE FROM login_throttle WHERE k = 'ip:${addr}'`);
  });

  test('failed logins delay the user: 429 with a short Retry-After, then the right password gets in', async () => {
    /* over FastCGI from its own address: nginx's 10 r/min login limit is not under test here */
    const pwT = `thr-${randomString(16)}`;
    await stack.createAdmin('throttled1', 'viewer', pwT);
    const login = (username, password) => fcgiHttp(stack.socket('admin'), 'POST', '/admin/api/v1/login', {
      json: { username, password }, remoteAddr: '198.51.100.7',
    });
    for (let i = 0; i < 5; i++) {
      const r = await login('throttled1', `wrong-password-${i}`);
      assert.equal(r.status, 401, `failure ${i + 1} of 5`);
    }
    const r = await login('throttled1', pwT);
    assert.equal(r.status, 429, `the right password within the delay after 5 failures (${r.text})`);
    assert.equal(r.json?.error?.type, 'rate_limit_error', 'type');
    const wait = Number(r.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 2, `a delay, not a lock (Retry-After ${wait})`);
    assert.equal(r.headers['set-cookie'], undefined, 'no session');
    const other = await login('viewer1', pw.viewer);
    assert.equal(other.status, 200, 'another user from the same address still logs in');
    /* once the delay is over, the user may log in again */
    await stack.sql("UPDATE login_throttle SET last_at = NOW(3) - INTERVAL 2 SECOND WHERE k = 'user:throttled1'");
    const later = await login('throttled1', pwT);
    assert.equal(later.status, 200, `the right password after the delay (${later.text})`);
    const [left] = await stack.sql("SELECT COUNT(*) FROM login_throttle WHERE k = 'user:throttled1'");
    assert.equal(left[0], '0', 'a successful login clears the user\'s failures');
  });
});

describe('cookie_secure = yes (the default in production)', () => {
  let s2;
  before(async () => {
    s2 = await startStack({ name: 'auth-secure', conf: { admin_auth: { cookie_secure: 'yes' } } });
  });
  after(async () => { await s2?.stop(); });

  test('the session cookie is Secure, and still HttpOnly, SameSite=Strict, Path=/admin', async () => {
    const pwS = `sec-${randomString(16)}`;
    await s2.createAdmin('secure1', 'viewer', pwS);
    const s = await s2.adminLogin('secure1', pwS);
    assert.equal(s.status, 200, `login (${JSON.stringify(s.body)})`);
    const attrs = s.setCookie.split(';').map((x) => x.trim().toLowerCase());
    for (const a of ['secure', 'httponly', 'samesite=strict', 'path=/admin']) {
      assert.ok(attrs.includes(a), `${a} (${s.setCookie})`);
    }
  });
});
