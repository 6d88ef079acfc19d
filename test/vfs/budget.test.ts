/**
 * ByteBudget's buffers: kept ones are reused, and kept plus lent buffers
 * never pass the limit, also when the sizes asked for change (fill pieces of
 * a chunk, then parts four times larger).
 */
import t from 'tap';
import { IDLE_BUFFERS_MS } from '../../cache/chunks/collect.js';
import { ByteBudget } from '../../vfs/data/budget.js';

const MiB = 1024 * 1024;

t.test('kept buffers go once the budget has been idle for IDLE_BUFFERS_MS; a use meanwhile restarts the wait', async (t) => {
  const budget = new ByteBudget(64 * MiB);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await budget.withBuffer(8 * MiB, async () => undefined);
  t.equal(budget.kept, 8 * MiB, 'kept after use');
  await pause(IDLE_BUFFERS_MS * 0.6);
  await budget.withBuffer(8 * MiB, async () => undefined);
  await pause(IDLE_BUFFERS_MS * 0.5);
  t.equal(budget.kept, 8 * MiB, `kept ${IDLE_BUFFERS_MS * 0.5} ms after the last use, though ${IDLE_BUFFERS_MS * 1.1} ms after the first`);
  await pause(IDLE_BUFFERS_MS);
  t.equal(budget.kept, 0, `gone ${IDLE_BUFFERS_MS * 1.5} ms after the last use`);
});

t.test('a kept buffer is lent again to the next borrower of that size or less', async (t) => {
  const budget = new ByteBudget(64 * MiB);
  let first: ArrayBufferLike | undefined;
  await budget.withBuffer(8 * MiB, async (b) => void (first = b.buffer));
  t.equal(budget.kept, 8 * MiB, 'kept after use');
  await budget.withBuffer(4 * MiB, async (b) => void t.equal(b.buffer, first, 'the same memory, a view of 4 MiB'));
});

t.test('kept buffers that do not fit make room for a new one: kept + lent stay within the limit', async (t) => {
  const budget = new ByteBudget(64 * MiB);
  // Eight pieces of 8 MiB at once: 64 MiB kept afterwards.
  await Promise.all(Array.from({ length: 8 }, () => budget.withBuffer(8 * MiB, async () => new Promise((r) => setImmediate(r)))));
  t.equal(budget.kept, 64 * MiB, 'all eight kept');
  // An upload reserves two 32 MiB parts, then borrows them: none of the kept pieces fits.
  await budget.with(64 * MiB, async () => {
    const a = budget.borrow(32 * MiB);
    t.equal(budget.kept, 0, 'the kept pieces went: 64 MiB reserved leaves no room beside it');
    const b = budget.borrow(32 * MiB);
    budget.giveBack(a);
    budget.giveBack(b);
  });
  t.equal(budget.kept, 64 * MiB, 'the parts are kept instead');

  const half = new ByteBudget(64 * MiB);
  await Promise.all(Array.from({ length: 4 }, () => half.withBuffer(8 * MiB, async () => new Promise((r) => setImmediate(r)))));
  await half.with(32 * MiB, async () => {
    const part = half.borrow(32 * MiB);
    t.equal(half.kept, 32 * MiB, 'with room left beside the reservation, the kept pieces stay');
    half.giveBack(part);
  });
});

t.test('dropKept lets every kept buffer go; lent ones are not touched', async (t) => {
  const budget = new ByteBudget(64 * MiB);
  await Promise.all(Array.from({ length: 3 }, () => budget.withBuffer(8 * MiB, async () => new Promise((r) => setImmediate(r)))));
  t.equal(budget.kept, 24 * MiB);
  await budget.with(8 * MiB, async () => {
    const lent = budget.borrow(8 * MiB);
    budget.dropKept();
    t.equal(budget.kept, 0, 'nothing kept');
    lent.fill(1); // still the borrower's
    budget.giveBack(lent);
  });
  t.equal(budget.kept, 8 * MiB, 'the lent buffer is kept once given back');
  budget.dropKept();
  budget.dropKept(); // nothing kept: nothing to do
  t.equal(budget.kept, 0);
});

t.test('the memory of dropped buffers is freed when dropKept returns, before another allocation takes its place', async (t) => {
  const budget = new ByteBudget(64 * MiB);
  await Promise.all(Array.from({ length: 2 }, () => budget.withBuffer(32 * MiB, async (b) => {
    b.fill(1);
    await new Promise((r) => setImmediate(r));
  })));
  // Long-lived by now, as part buffers kept between uploads are: out of the young generation.
  await new Promise((r) => setTimeout(r, 20));
  const before = process.memoryUsage().arrayBuffers;
  t.equal(budget.kept, 64 * MiB, 'two parts kept');
  budget.dropKept();
  const freed = before - process.memoryUsage().arrayBuffers;
  t.ok(freed >= 64 * MiB, `${(freed / MiB).toFixed(1)} MiB of buffers freed on return (a collection that frees nothing leaves 0)`);
});
