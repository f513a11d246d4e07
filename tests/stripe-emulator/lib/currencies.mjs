/*
 * currencies.mjs - the currency table: decimals, charge limits, fees.
 *
 * Owns: which currencies the emulator accepts, their minor-unit exponent,
 * Stripe's minimum charge amounts (docs.stripe.com/currencies#minimum-and-
 * maximum-charge-amounts), the maximum (99999999 minor units, i.e. 999,999.99
 * for two-decimal currencies and the same integer for zero-decimal ones), the
 * three-decimal rule (amounts must end in 0: "the last digit must be 0"), and
 * the default processing fee and dispute fee per currency.
 *
 * Also the exchange rates used when the platform settles in one currency
 * (exchangeRate, convertAmount).
 *
 * Invariants: amounts are integers in minor units; a fee is
 * round(amount * percent_bps / 10000) + fixed; fees are mutable only through
 * setFee() (the control API's POST /__emu/fees) and reset by resetFees().
 */

const TABLE = {
  // code: [decimals, minimum, percent_bps, fixed, dispute_fee]
  usd: [2, 50, 290, 30, 1500],
  eur: [2, 50, 150, 25, 1500],
  gbp: [2, 30, 150, 20, 2000],
  aud: [2, 50, 175, 30, 2500],
  cad: [2, 50, 290, 30, 1500],
  chf: [2, 50, 290, 30, 1500],
  dkk: [2, 250, 150, 180, 10000],
  nok: [2, 300, 240, 200, 13500],
  sek: [2, 300, 150, 180, 13500],
  pln: [2, 200, 150, 100, 6000],
  czk: [2, 1500, 150, 650, 35000],
  huf: [2, 17500, 150, 9000, 500000],
  nzd: [2, 50, 265, 30, 2500],
  sgd: [2, 50, 340, 50, 2000],
  hkd: [2, 400, 340, 235, 11500],
  mxn: [2, 1000, 360, 300, 25000],
  brl: [2, 50, 399, 39, 7000],
  inr: [2, 50, 200, 0, 150000],
  jpy: [0, 50, 360, 0, 1500],
  krw: [0, 100, 340, 0, 20000],
  kwd: [3, 200, 290, 0, 5000],
  bhd: [3, 200, 290, 0, 6000],
  jod: [3, 200, 290, 0, 11000],
  omr: [3, 200, 290, 0, 6000],
  tnd: [3, 2000, 290, 0, 45000],
};

export const MAX_AMOUNT = 99999999;

let fees = {};

export function resetFees() {
  fees = {};
  for (const [code, [, , bps, fixed, dispute]] of Object.entries(TABLE)) {
    fees[code] = { percent_bps: bps, fixed, dispute_fee: dispute };
  }
}
resetFees();

export function isCurrency(code) {
  return Object.prototype.hasOwnProperty.call(TABLE, code);
}

export function currencies() {
  return Object.keys(TABLE);
}

export function decimals(code) {
  return TABLE[code][0];
}

export function minimum(code) {
  return TABLE[code][1];
}

export function feeFor(code, amount) {
  const f = fees[code];
  return Math.round((amount * f.percent_bps) / 10000) + f.fixed;
}

export function disputeFee(code) {
  return fees[code].dispute_fee;
}

export function getFees() {
  return JSON.parse(JSON.stringify(fees));
}

export function setFee(code, { percent_bps, fixed, dispute_fee }) {
  const f = fees[code];
  if (percent_bps !== undefined) f.percent_bps = Number(percent_bps);
  if (fixed !== undefined) f.fixed = Number(fixed);
  if (dispute_fee !== undefined) f.dispute_fee = Number(dispute_fee);
  return { currency: code, ...f };
}

/*
 * Exchange rates, for a platform that settles in one currency
 * (POST /__emu/settlement): rough US dollars per major unit of each
 * currency.  The rate of a conversion from A to B is usd(A) / usd(B)
 * to 6 significant digits, the way Stripe reports balance transactions'
 * `exchange_rate` ("the amount in currency A, times exchange_rate, would
 * be the amount in currency B", in major units); overrides per source
 * currency replace it.
 */
const USD_PER_UNIT = {
  usd: 1, eur: 1.08, gbp: 1.27, aud: 0.66, cad: 0.74, chf: 1.13, dkk: 0.145, nok: 0.094, sek: 0.096,
  pln: 0.25, czk: 0.044, huf: 0.0028, nzd: 0.61, sgd: 0.74, hkd: 0.128, mxn: 0.058, brl: 0.2, inr: 0.012,
  jpy: 0.0067, krw: 0.00075, kwd: 3.25, bhd: 2.65, jod: 1.41, omr: 2.6, tnd: 0.32,
};

/* exchangeRate - the rate from currency 'from' to 'to' ('override' wins) */
export function exchangeRate(from, to, override) {
  if (from === to) return 1;
  if (override !== undefined && override !== null) return Number(override);
  return Number((USD_PER_UNIT[from] / USD_PER_UNIT[to]).toPrecision(6));
}

/* ratio - a decimal rate as an exact fraction of BigInts */
function ratio(rate) {
  const s = Number(rate).toFixed(12).replace(/0+$/, '');
  const [i, f = ''] = s.split('.');
  return { num: BigInt(i + f), den: 10n ** BigInt(f.length) };
}

/*
 * convertAmount - 'amount' minor units of 'from' in minor units of 'to'
 * at 'rate': amount × rate × 10^(decimals(to) − decimals(from)), rounded
 * to the nearest minor unit, halves away from zero (exact arithmetic)
 */
export function convertAmount(amount, from, to, rate) {
  const { num, den } = ratio(rate);
  const dt = BigInt(decimals(to));
  const df = BigInt(decimals(from));
  const n = BigInt(amount) * num * 10n ** dt;
  const d = den * 10n ** df;
  const neg = n < 0n;
  const a = neg ? -n : n;
  const q = (2n * a + d) / (2n * d);
  return Number(neg ? -q : q);
}

const SYMBOLS = { usd: '$', eur: '€', gbp: '£', jpy: '¥', krw: '₩', aud: 'A$', cad: 'CA$', nzd: 'NZ$' };

/* "$0.50 usd" / "¥50 jpy" / "0.200 kwd" - Stripe's way of quoting amounts */
export function formatAmount(code, amount) {
  const d = decimals(code);
  const sym = SYMBOLS[code] || '';
  const neg = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  let text;
  if (d === 0) text = abs.toLocaleString('en-US');
  else {
    const unit = 10 ** d;
    const whole = Math.floor(abs / unit).toLocaleString('en-US');
    text = `${whole}.${String(abs % unit).padStart(d, '0')}`;
  }
  return `${neg}${sym}${text}`;
}
