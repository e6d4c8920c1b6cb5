// The shared budget of signature bytes in memory: all-or-nothing shares, first come first served, released on
// failure too, never more than the capacity taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteBudget } from '../../src/proxy/byte-budget.ts';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

test('shares are granted in order and never exceed the capacity', async () => {
  const b = new ByteBudget(10);
  const order: string[] = [];
  const first = gate();
  const a = b.run(6, async () => {
    order.push('a');
    await first.promise;
  });
  const big = b.run(8, async () => void order.push('big'));
  const small = b.run(2, async () => void order.push('small'));
  await Promise.resolve();
  assert.deepEqual(order, ['a']);
  assert.equal(b.inUse, 6);
  assert.equal(b.waiting, 2, 'the small share waits behind the big one (no starvation)');
  first.open();
  await Promise.all([a, big, small]);
  assert.deepEqual(order, ['a', 'big', 'small']);
  assert.equal(b.inUse, 0);
});

test('a share larger than the budget takes the whole budget; a failure gives its share back', async () => {
  const b = new ByteBudget(4);
  await assert.rejects(
    b.run(100, async () => {
      assert.equal(b.inUse, 4);
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(b.inUse, 0);
  assert.equal(await b.run(1, async () => 'ok'), 'ok');
});
