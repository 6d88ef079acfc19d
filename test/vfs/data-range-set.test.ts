/**
 * RangeSet (which offsets a staging file holds) against a plain boolean
 * array, with fast-check: random adds and truncates, then gaps/covers over
 * random windows must agree with the array.
 */
import fc from 'fast-check';
import t from 'tap';
import { RangeSet } from '../../cache/staging.js';

const LIMIT = 200;

type Op = { kind: 'add'; start: number; end: number } | { kind: 'truncate'; size: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(fc.nat(LIMIT), fc.nat(40)).map(([start, length]): Op => ({ kind: 'add', start, end: start + length })),
  fc.nat(LIMIT + 40).map((size): Op => ({ kind: 'truncate', size })),
);

function gapsOf(model: boolean[], start: number, end: number): { start: number; end: number }[] {
  const gaps: { start: number; end: number }[] = [];
  for (let i = start; i < end; i++) {
    if (model[i]) continue;
    const last = gaps[gaps.length - 1];
    if (last !== undefined && last.end === i) last.end = i + 1;
    else gaps.push({ start: i, end: i + 1 });
  }
  return gaps;
}

t.test('gaps and covers agree with a boolean model', async (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), fc.nat(LIMIT + 40), fc.nat(60), (ops, start, length) => {
      const set = new RangeSet();
      const model: boolean[] = [];
      for (const o of ops) {
        if (o.kind === 'add') {
          set.add(o.start, o.end);
          for (let i = o.start; i < o.end; i++) model[i] = true;
        } else {
          set.truncate(o.size);
          model.length = Math.min(model.length, o.size);
        }
      }
      const want = gapsOf(model, start, start + length);
      const got = set.gaps(start, start + length);
      if (JSON.stringify(got) !== JSON.stringify(want)) return false;
      return set.covers(start, start + length) === (want.length === 0);
    }),
    { numRuns: 2000, seed: 42 },
  );
  t.pass('2000 random runs agree');
});

t.test('touching and overlapping spans merge', async (t) => {
  const set = new RangeSet();
  set.add(10, 20);
  set.add(30, 40);
  t.equal(set.count, 2);
  set.add(20, 30);
  t.equal(set.count, 1, 'a span touching both merges all three');
  t.same(set.gaps(0, 50), [{ start: 0, end: 10 }, { start: 40, end: 50 }]);
  set.add(5, 5);
  t.equal(set.count, 1, 'an empty span adds nothing');
  set.truncate(15);
  t.same(set.gaps(0, 20), [{ start: 0, end: 10 }, { start: 15, end: 20 }]);
});
