/*
 * forms.test.mjs - unit tests of the form-urlencoded parser (lib/forms.mjs):
 * nested keys, both array styles, percent-encoding, '+' as space, metadata
 * with numeric keys, conflicts, and the round trip with the SDK's encoder.
 */

import test from 'node:test';
import assert from 'node:assert/strict';
import { parseForm, encodeForm, splitKey, canonical, FormError } from '../lib/forms.mjs';

test('flat keys and empty input', () => {
  assert.deepEqual(parseForm(''), {});
  assert.deepEqual(parseForm('amount=2000&currency=usd'), { amount: '2000', currency: 'usd' });
  assert.deepEqual(parseForm('a=&b'), { a: '', b: '' });
  assert.deepEqual(parseForm('a=1&&b=2&'), { a: '1', b: '2' });
});

test('nested hashes', () => {
  assert.deepEqual(parseForm('metadata[checkout_id]=chk_1&metadata[order]=7'), {
    metadata: { checkout_id: 'chk_1', order: '7' },
  });
  assert.deepEqual(parseForm('transfer_data[destination]=acct_1'), { transfer_data: { destination: 'acct_1' } });
  assert.deepEqual(parseForm('automatic_payment_methods[enabled]=true'), { automatic_payment_methods: { enabled: 'true' } });
  assert.deepEqual(parseForm('capabilities[transfers][requested]=true&capabilities[card_payments][requested]=false'), {
    capabilities: { transfers: { requested: 'true' }, card_payments: { requested: 'false' } },
  });
  assert.deepEqual(parseForm('created[gte]=10&created[lt]=20'), { created: { gte: '10', lt: '20' } });
});

test('arrays: [] and indexed styles, arrays of hashes', () => {
  assert.deepEqual(parseForm('expand[]=latest_charge&expand[]=customer'), { expand: ['latest_charge', 'customer'] });
  assert.deepEqual(parseForm('expand[0]=latest_charge&expand[1]=customer'), { expand: ['latest_charge', 'customer'] });
  assert.deepEqual(parseForm('payment_method_types[]=card'), { payment_method_types: ['card'] });
  assert.deepEqual(parseForm('types[1]=b&types[0]=a'), { types: ['a', 'b'] });
  assert.deepEqual(parseForm('items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2'), {
    items: [{ price: 'p1', quantity: '2' }, { price: 'p2' }],
  });
});

test('metadata keys that look like indexes stay a hash', () => {
  assert.deepEqual(parseForm('metadata[0]=zero&metadata[1]=one'), { metadata: { 0: 'zero', 1: 'one' } });
});

test('percent-encoding, + as space, encoded brackets, UTF-8', () => {
  assert.deepEqual(parseForm('description=Hello+World%21'), { description: 'Hello World!' });
  assert.deepEqual(parseForm('q=a%2Bb'), { q: 'a+b' });
  assert.deepEqual(parseForm('metadata%5Bkey%5D=v%26w%3Dx'), { metadata: { key: 'v&w=x' } });
  assert.deepEqual(parseForm('name=J%C3%BCrgen+%E2%82%AC'), { name: 'Jürgen €' });
  assert.deepEqual(parseForm("query=metadata%5B'tally_id'%5D%3A'X'"), { query: "metadata['tally_id']:'X'" });
});

test('last value wins for a repeated scalar', () => {
  assert.deepEqual(parseForm('a=1&a=2'), { a: '2' });
});

test('scalar/hash conflicts and bad encodings are FormErrors', () => {
  assert.throws(() => parseForm('a=1&a[b]=2'), FormError);
  assert.throws(() => parseForm('a[b]=2&a=1'), FormError);
  assert.throws(() => parseForm('a=%E0%A4%A'), FormError);
});

test('splitKey', () => {
  assert.deepEqual(splitKey('a'), ['a']);
  assert.deepEqual(splitKey('a[b][][3]'), ['a', 'b', '', '3']);
  assert.deepEqual(splitKey('a[b'), ['a[b']);
});

test('encodeForm round-trips through parseForm (stripe-node style)', () => {
  const data = {
    amount: 2000,
    metadata: { tally_id: 'X 1&2', empty: '' },
    expand: ['latest_charge', 'latest_charge.balance_transaction'],
    transfer_data: { destination: 'acct_1' },
    nothing: undefined,
    unset: null,
  };
  const s = encodeForm(data);
  assert.match(s, /expand\[0\]=latest_charge/);
  assert.deepEqual(parseForm(s), {
    amount: '2000',
    metadata: { tally_id: 'X 1&2', empty: '' },
    expand: ['latest_charge', 'latest_charge.balance_transaction'],
    transfer_data: { destination: 'acct_1' },
    unset: '',
  });
  assert.deepEqual(parseForm(encodeForm({ expand: ['a', 'b'] }, { arrayStyle: 'brackets' })), { expand: ['a', 'b'] });
});

test('canonical() ignores key order', () => {
  assert.equal(canonical({ b: 1, a: { d: [1, 2], c: 'x' } }), canonical({ a: { c: 'x', d: [1, 2] }, b: 1 }));
  assert.notEqual(canonical({ a: ['1', '2'] }), canonical({ a: ['2', '1'] }));
});
