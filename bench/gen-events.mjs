// bench/gen-events.mjs - signed payment_intent.succeeded events for the
// completion benchmark: one line "<Stripe-Signature>\t<body>" per checkout
// chk_<prefix><n> (n from FIRST for COUNT), PaymentIntent pi_<prefix><n>.
//   node gen-events.mjs PREFIX FIRST COUNT AMOUNT WHSEC > file
// The events carry what Stripe's do for this version (the fields Tally
// reads and a realistic share of the rest), so parsing costs what it will.
import crypto from 'node:crypto';

const [prefix, first, count, amount, secret] = process.argv.slice(2);
const t = Math.floor(Date.now() / 1000);
const out = [];
for (let i = Number(first); i < Number(first) + Number(count); i++) {
  const n = String(i).padStart(10, '0');
  const pi = `pi_${prefix}${n}`;
  const body = JSON.stringify({
    id: `evt_${prefix}${n}`, object: 'event', api_version: '2026-10-28.endive',
    created: t, livemode: false, pending_webhooks: 1, type: 'payment_intent.succeeded',
    request: { id: `req_${prefix}${n}`, idempotency_key: `tally:pi:chk_${prefix}${n}:g1` },
    data: {
      object: {
        id: pi, object: 'payment_intent', amount: Number(amount), amount_capturable: 0,
        amount_received: Number(amount), capture_method: 'automatic_async',
        client_secret: `${pi}_secret_bench`, confirmation_method: 'automatic',
        created: t, currency: 'usd', description: 'prod_bench', latest_charge: `ch_${prefix}${n}`,
        livemode: false, metadata: { checkout_id: `chk_${prefix}${n}`, tally_id: `chk_${prefix}${n}` },
        payment_method: 'pm_bench', payment_method_types: ['card'], status: 'succeeded',
        transfer_group: `chk_${prefix}${n}`, automatic_payment_methods: { enabled: true, allow_redirects: 'always' },
      },
    },
  });
  const v1 = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  out.push(`t=${t},v1=${v1}\t${body}`);
  if (out.length === 5000) {
    process.stdout.write(out.join('\n') + '\n');
    out.length = 0;
  }
}
if (out.length) process.stdout.write(out.join('\n') + '\n');
