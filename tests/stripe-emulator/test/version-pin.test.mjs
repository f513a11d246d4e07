// version-pin.test.mjs - one Stripe API version everywhere: the C client's
// pinned Stripe-Version (core/stripe.h), the official SDK pinned in
// package-lock.json (the SDK the tests use as an independent client), and
// the shapes the emulator answers in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { API_VERSION as EMULATOR_VERSION } from '../lib/objects.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('the C client, the pinned SDK and the emulator speak one API version', () => {
  const header = readFileSync(join(root, 'core', 'stripe.h'), 'utf8');
  const c = header.match(/#define TLY_STRIPE_API_VERSION\s+"([^"]+)"/);
  assert.ok(c, 'TLY_STRIPE_API_VERSION in core/stripe.h');
  const sdkFile = readFileSync(join(root, 'node_modules', 'stripe', 'cjs', 'apiVersion.js'), 'utf8');
  const sdk = sdkFile.match(/ApiVersion = '([^']+)'/);
  assert.ok(sdk, 'ApiVersion in the stripe package');
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(root, 'node_modules', 'stripe', 'package.json'), 'utf8'));
  assert.equal(lock.packages['node_modules/stripe'].version, pkg.version, 'installed SDK = lockfile');
  assert.equal(c[1], sdk[1], 'core/stripe.h pins the SDK\'s API version');
  assert.equal(EMULATOR_VERSION, sdk[1], 'the emulator answers in the SDK\'s version');
});
