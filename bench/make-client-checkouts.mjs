// bench/make-client-checkouts.mjs - succeeded PaymentIntents at the Stripe
// emulator for the browser-path benchmark: PaymentIntent n (1..COUNT) is
// 3000 usd cents, confirmed with pm_card_visa, metadata.checkout_id
// chk_<PREFIX>_<n as 10 digits>.  Prints "n<TAB>pi_id" per PaymentIntent.
//   node make-client-checkouts.mjs EMULATOR_URL SECRET_KEY COUNT PREFIX
import http from 'node:http';

const [base, key, count, prefix] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function create(n) {
  const chk = `chk_${prefix}_${String(n).padStart(10, '0')}`;
  const body = new URLSearchParams({
    amount: '3000', currency: 'usd', confirm: 'true',
    payment_method: 'pm_card_visa',
    'automatic_payment_methods[enabled]': 'true',
    'automatic_payment_methods[allow_redirects]': 'never',
    'metadata[checkout_id]': chk,
  }).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/v1/payment_intents`, {
      method: 'POST', agent,
      headers: {
        Authorization: `Bearer ${key}`,
        'Content-Type': 'application/x-www-form-urlencoded',
        'Idempotency-Key': `bench-${chk}`,
      },
    }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => {
        const pi = JSON.parse(data);
        if (res.statusCode !== 200 || pi.status !== 'succeeded')
          reject(new Error(`PaymentIntent ${n}: ${res.statusCode} ${data}`));
        else
          resolve(pi.id);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const total = Number(count);
const out = new Array(total + 1);
let next = 1;
async function lane() {
  while (next <= total) {
    const n = next++;
    out[n] = await create(n);
  }
}
await Promise.all(Array.from({ length: 16 }, lane));
const lines = [];
for (let n = 1; n <= total; n++) lines.push(`${n}\t${out[n]}`);
process.stdout.write(lines.join('\n') + '\n');
agent.destroy();
