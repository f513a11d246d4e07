// split_property.test.mjs - property test of the revenue split (core/split.c)
//
// 100 000 random splits, drawn with a seeded PRNG (the seed is printed;
// SPLIT_SEED=N reproduces a run), go through ONE split_cli process
// (tests/split/split_cli.c; SPLIT_CLI names it, else
// $TALLY_BIN/tests/split/split_cli, TALLY_BIN defaulting to
// /work/main/build).  Every output line is checked against an independent
// model written here with BigInt from the rules in core/split.h's comment:
// the same accept/refuse decision and code, and for an accepted split
// every share equal, every share >= 0, and the shares summing to the
// amount.  The counts of accepted splits and of refusals per code are
// reported.  A second test checks the CLI's own parsing.
//
// The model's order of refusals (split.h names the reasons, not their
// order): an invalid input first (a price < 0 or a quantity < 1:
// invalid_amount; a rate outside 0..10000 or a negative Stripe fixed
// part: invalid_rate; host + ambassador > 10000 bps: negative_share; a
// bps fee outside 0..10000: invalid_rate; a negative fixed fee:
// invalid_amount; another fee kind: invalid_fee_policy), then the
// amount's limits (above the cap, max 0 meaning INT64_MAX:
// amount_too_large; below the minimum: amount_too_small), then a negative
// share (negative_share).  Invalid inputs are drawn with one fault each,
// so the order among them does not matter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomInt } from 'node:crypto';

const N = 100000;
const TALLY_BIN = process.env.TALLY_BIN || '/work/main/build';
const CLI = process.env.SPLIT_CLI || `${TALLY_BIN}/tests/split/split_cli`;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const BPS = 10000n;

const seedEnv = process.env.SPLIT_SEED;
const SEED = seedEnv !== undefined && seedEnv !== '' ?
  Number.parseInt(seedEnv, 10) >>> 0 : randomInt(0, 2 ** 32);

// --- the PRNG: sfc32 seeded by splitmix32 ------------------------------------
function prng(seed) {
  let s = seed >>> 0;
  const mix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = mix(), b = mix(), c = mix(), d = mix();
  const u32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const u64 = () => (BigInt(u32()) << 32n) | BigInt(u32());
  const api = {
    u32,
    unit: () => u32() / 2 ** 32,
    // an integer in [lo, hi], BigInt bounds, uniform enough (2^64 draws)
    big: (lo, hi) => lo + ((u64() << 64n) | u64()) % (hi - lo + 1n),
    int: (lo, hi) => api.big(BigInt(lo), BigInt(hi)),
    pick: (arr) => arr[u32() % arr.length],
  };
  return api;
}

// --- inputs --------------------------------------------------------------------
// field order: price qty fee_kind fee_value agent host amb stripe_bps
// stripe_fixed platform_bears min max
const CURRENCIES = [
  { w: 30, sbps: 290n, sfix: 30n, min: 50n, max: 99999999n },	// usd
  { w: 10, sbps: 250n, sfix: 25n, min: 50n, max: 99999999n },	// eur
  { w: 5, sbps: 150n, sfix: 20n, min: 30n, max: 99999999n },	// gbp
  { w: 10, sbps: 360n, sfix: 0n, min: 50n, max: 99999999n },	// jpy
  { w: 5, sbps: 290n, sfix: 300n, min: 500n, max: 99999999n },	// kwd
  { w: 10, sbps: 290n, sfix: 30n, min: 50n, max: 0n },		// no cap
  { w: 5, sbps: 290n, sfix: 30n, min: 50n, max: 10n ** 15n },	// huge
  { w: 5, sbps: 290n, sfix: 30n, min: 50n, max: INT64_MAX },
  { w: 5, sbps: 0n, sfix: 0n, min: 0n, max: 0n },		// no fee
];
const CUR_W = CURRENCIES.reduce((s, c) => s + c.w, 0);

function gen(r) {
  const bps = () => {
    const u = r.unit();
    if (u < 0.4) return r.int(0, 3000);
    if (u < 0.8) return r.int(0, 10000);
    return r.pick([0n, 1n, 9999n, 10000n]);
  };
  const qtyOf = () => {
    const u = r.unit();
    if (u < 0.7) return 1n;
    if (u < 0.9) return r.int(2, 10);
    return r.int(1, 1000);
  };
  const qty = qtyOf();
  let price;
  const u = r.unit();
  if (u < 0.25) price = r.int(0, 100);
  else if (u < 0.5) price = r.int(0, 10000);
  else if (u < 0.7) price = r.int(0, 1e6);
  else if (u < 0.85) price = r.int(0, 1e9);
  else if (u < 0.97) price = r.int(0, 1e12);
  else {
    // near the int64 edge: price x quantity and + fee around 2^63
    price = r.pick([0n, 1n, 49n, 50n, 99999999n, 100000000n, INT64_MAX,
      INT64_MAX - 1n, INT64_MAX / 2n, INT64_MAX / 2n + 1n, INT64_MAX / qty,
      INT64_MAX / qty + 1n, INT64_MAX / qty - r.int(0, 1000),
      r.big(0n, INT64_MAX)]);
    if (price < 0n) price = 0n;
    if (price > INT64_MAX) price = INT64_MAX;
  }
  const kind = r.u32() & 1 ? 1n : 2n;
  let fee;
  if (kind === 1n) {
    const v = r.unit();
    if (v < 0.5) fee = r.int(0, 1000);
    else if (v < 0.8) fee = r.int(0, 1e6);
    else if (v < 0.95) fee = r.int(0, 1e10);
    else fee = r.pick([0n, INT64_MAX, INT64_MAX - price, r.big(0n, INT64_MAX)]);
    if (fee < 0n) fee = 0n;
  } else {
    fee = bps();
  }
  const agent = r.unit() < 0.5 ? 0n : bps();
  const host = r.unit() < 0.5 ? 0n : bps();
  const amb = r.unit() < 0.5 ? 0n : bps();
  let w = r.u32() % CUR_W;
  let cur = CURRENCIES[0];
  for (const c of CURRENCIES) {
    if (w < c.w) { cur = c; break; }
    w -= c.w;
  }
  let { sbps, sfix } = cur;
  if (r.unit() < 0.005) {
    // an absurd Stripe fixed part, up to and past int64 with the bps part
    sbps = bps();
    sfix = INT64_MAX - r.int(0, 1e6);
  }
  const x = [price, qty, kind, fee, agent, host, amb, sbps, sfix,
    BigInt(r.u32() & 1), cur.min, cur.max];
  if (r.unit() < 0.03) inject(r, x);
  return x;
}

// inject - one invalid input; host and ambassador reset so that nothing
// else is wrong
function inject(r, x) {
  x[5] = 0n;
  x[6] = 0n;
  const bad = () => r.pick([-1n, 10001n, INT64_MIN, INT64_MAX,
    -r.int(1, 1e6), r.int(10001, 1e9)]);
  switch (r.u32() % 9) {
  case 0: x[0] = r.pick([-1n, INT64_MIN, -r.int(1, 1e12)]); break;
  case 1: x[1] = r.pick([0n, -1n, INT64_MIN, -r.int(1, 1000)]); break;
  case 2: x[4] = bad(); break;
  case 3: x[5] = bad(); break;
  case 4: x[6] = bad(); break;
  case 5: x[7] = bad(); break;
  case 6: x[8] = r.pick([-1n, INT64_MIN, -r.int(1, 1e6)]); break;
  case 7:
    if (x[2] === 2n) x[3] = bad();
    else x[3] = r.pick([-1n, INT64_MIN, -r.int(1, 1e6)]);
    break;
  default: x[2] = r.pick([0n, 3n, -1n, 2147483647n, -2147483648n]); break;
  }
}

// --- the model, from split.h's rules -----------------------------------------
const inRate = (v) => v >= 0n && v <= BPS;
const bpsOf = (v, b) => (v * b) / BPS;	// v, b >= 0: BigInt division floors

function model(x) {
  const [price, qty, kind, feeValue, agentBps, hostBps, ambBps, stripeBps,
    stripeFixed, bears, min, max] = x;
  if (price < 0n || qty < 1n) return { code: 'invalid_amount' };
  if (![agentBps, hostBps, ambBps, stripeBps].every(inRate) ||
      stripeFixed < 0n)
    return { code: 'invalid_rate' };
  if (hostBps + ambBps > BPS) return { code: 'negative_share' };
  if (kind === 2n && !inRate(feeValue)) return { code: 'invalid_rate' };
  if (kind === 1n && feeValue < 0n) return { code: 'invalid_amount' };
  if (kind !== 1n && kind !== 2n) return { code: 'invalid_fee_policy' };

  const subtotal = price * qty;
  const platformFee = kind === 1n ? feeValue : bpsOf(subtotal, feeValue);
  const amount = subtotal + platformFee;
  const cap = max === 0n ? INT64_MAX : max;
  if (amount > cap) return { code: 'amount_too_large' };
  if (amount < min) return { code: 'amount_too_small' };

  const agent = bpsOf(subtotal, agentBps);
  const hostPartner = bpsOf(platformFee, hostBps);
  const ambassador = bpsOf(platformFee, ambBps);
  const stripeFee = bpsOf(amount, stripeBps) + stripeFixed;
  let platform = platformFee - hostPartner - ambassador;
  if (bears !== 0n) platform -= stripeFee;
  const talent = amount - agent - platform - stripeFee - ambassador -
    hostPartner;
  if (platform < 0n || talent < 0n) return { code: 'negative_share' };
  return {
    ok: [amount, subtotal, platformFee, talent, agent, platform, stripeFee,
      ambassador, hostPartner],
    stripeFee,
  };
}

const OK_FIELDS = ['amount', 'subtotal', 'platform_fee', 'talent', 'agent',
  'platform', 'stripe_fee', 'ambassador', 'host_partner'];

function runCli(input) {
  const res = spawnSync(CLI, [], {
    input, encoding: 'utf8', maxBuffer: 1 << 28,
  });
  assert.equal(res.error, undefined, `running ${CLI}: ${res.error}`);
  assert.equal(res.signal, null, `${CLI} killed by ${res.signal}: ${res.stderr}`);
  assert.equal(res.status, 0, `${CLI} exited ${res.status}: ${res.stderr}`);
  assert.equal(res.stderr, '', `${CLI} wrote to stderr`);
  const out = res.stdout.split('\n');
  assert.equal(out.pop(), '', 'the output ends with a newline');
  return out;
}

const skip = existsSync(CLI) ? false :
  `${CLI} not built ('make check' builds it; set TALLY_BIN or SPLIT_CLI)`;

test(`split_cli agrees with the BigInt model on ${N} random splits`,
  { skip }, (t) => {
    const t0 = Date.now();
    t.diagnostic(`seed ${SEED} (reproduce: SPLIT_SEED=${SEED})`);
    const r = prng(SEED);
    const inputs = new Array(N);
    for (let i = 0; i < N; i++) inputs[i] = gen(r);
    const out = runCli(inputs.map((x) => x.join(' ')).join('\n') + '\n');
    assert.equal(out.length, N, 'one output line per input line');

    const counts = new Map();
    const bad = [];
    for (let i = 0; i < N; i++) {
      const x = inputs[i];
      const want = model(x);
      const got = out[i];
      const f = got.split(' ');
      const key = f[0] === 'ok' ? 'accepted' : `refused ${f[1]}`;
      counts.set(key, (counts.get(key) || 0) + 1);
      let why = null;
      if (want.ok) {
        // the model's own invariants, so that a slip in it shows too
        const sum = want.ok.slice(3).reduce((s, v) => s + v, 0n);
        assert.equal(sum, want.ok[0], `model: sum != amount for ${x}`);
        assert.equal(want.ok[3], want.ok[1] - want.ok[4] -
          (x[9] !== 0n ? 0n : want.stripeFee), `model: talent for ${x}`);
        if (f[0] !== 'ok' || f.length !== 10) {
          why = `got "${got}", want ok`;
        } else {
          const v = f.slice(1).map((s) => BigInt(s));
          const diff = OK_FIELDS.filter((_, k) => v[k] !== want.ok[k]);
          const neg = OK_FIELDS.slice(3).filter((_, k) => v[k + 3] < 0n);
          const s = v.slice(3).reduce((a, b) => a + b, 0n);
          if (diff.length)
            why = diff.map((n) => `${n} got ${v[OK_FIELDS.indexOf(n)]}, ` +
              `want ${want.ok[OK_FIELDS.indexOf(n)]}`).join('; ');
          else if (neg.length)
            why = `negative ${neg.join(', ')}`;
          else if (s !== v[0])
            why = `shares sum to ${s}, amount ${v[0]}`;
        }
      } else if (got !== `err ${want.code}`) {
        why = `got "${got}", want "err ${want.code}"`;
      }
      if (why) bad.push(`line ${i + 1}: [${x.join(' ')}]: ${why}`);
    }

    const keys = [...counts.keys()].sort();
    for (const k of keys) t.diagnostic(`${k}: ${counts.get(k)}`);
    t.diagnostic(`${N} splits checked in ${Date.now() - t0} ms`);
    assert.ok(counts.get('accepted') > N / 4, 'enough accepted splits');
    assert.deepEqual(bad.slice(0, 20), [],
      `${bad.length} of ${N} lines differ from the model (seed ${SEED})`);
  });

test('split_cli parses its input strictly, one output line per line',
  { skip }, () => {
    const ok = '1000 1 1 300 0 0 0 290 30 0 50 99999999';
    const lines = [
      ok,
      '  1000\t1 1 300 0 0 0 290 30 0 50 99999999  ',
      '1000 1 1 300 0 0 0 290 30 0 50',		// 11 fields
      `${ok} 7`,				// 13 fields
      '',
      '1000 1 1 300 0 0 0 290 30 0 50 1e8',
      '1000 1 1 300 0 0 0 290 30 0 50 +99999999',
      '1000 1 1 300 0 0 0 290 30 0 50 9223372036854775808',
      '9223372036854775807 1 1 0 0 0 0 0 0 0 50 0',
      '1000 1 2147483648 300 0 0 0 290 30 0 50 99999999',
      '1000 1 1 300 0 0 0 290 30 0 50 ' + '9'.repeat(40),
      '1 '.repeat(600),				// longer than the buffer
      '1000 1 3 300 0 0 0 290 30 0 50 99999999',
      ok,
    ];
    const out = runCli(lines.join('\n') + '\n');
    assert.deepEqual(out, [
      'ok 1300 1000 300 933 0 300 67 0 0',
      'ok 1300 1000 300 933 0 300 67 0 0',
      'err parse',
      'err parse',
      'err parse',
      'err parse',
      'err parse',
      'err parse',
      'ok 9223372036854775807 9223372036854775807 0 9223372036854775807 ' +
        '0 0 0 0 0',
      'err parse',
      'err parse',
      'err line_too_long',
      'err invalid_fee_policy',
      'ok 1300 1000 300 933 0 300 67 0 0',
    ]);
    // the last line without its newline still counts
    assert.deepEqual(runCli(ok), ['ok 1300 1000 300 933 0 300 67 0 0']);
  });
