import t from 'tap';
import { fullGcOf, leastSquaresSlope, mulberry32 } from '../../bench/soak-analysis.ts';

t.test('the process and the heap after a full GC are read from node --trace-gc lines, a memory-reducing one too; other lines give nothing', async (t) => {
  t.same(fullGcOf('[7915:0x39c76ee0]       85 ms: Mark-Compact 28.5 (56.4) -> 7.5 (41.5) MB, 1.07 / 0.00 ms  (average mu = 1.000) finalize incremental marking'), { pid: 7915, afterMb: 7.5 });
  t.same(fullGcOf('[1:0x1]  9000 ms: Mark-Compact (reduce) 12.3 (15.0) -> 11.9 (14.0) MB, 3.1 / 0.0 ms  (average mu = 0.9) idle notification'), { pid: 1, afterMb: 11.9 });
  t.equal(fullGcOf('[1:0x1]   120 ms: Scavenge 9.8 (12.0) -> 8.1 (13.0) MB, 0.4 / 0.0 ms  (average mu = 1.000) allocation failure;'), undefined);
  t.equal(fullGcOf('Mark-Compact 1 (2) -> 3 (4) MB, without the process prefix'), undefined);
});

t.test('least squares: the slope of a line, of noise around one, and none when x stands still', async (t) => {
  t.equal(
    leastSquaresSlope([
      [0, 1],
      [1, 3],
      [2, 5],
    ]),
    2,
  );
  t.ok(
    Math.abs(
      leastSquaresSlope([
        [0, 10.1],
        [1, 9.9],
        [2, 10.2],
        [3, 9.8],
      ])! - -0.06,
    ) < 1e-9,
  );
  t.equal(
    leastSquaresSlope([
      [1, 1],
      [1, 2],
    ]),
    undefined,
  );
});

t.test('the PRNG repeats for a seed, differs between seeds, and stays in [0, 1)', async (t) => {
  const first = Array.from({ length: 5 }, mulberry32(1));
  t.same(Array.from({ length: 5 }, mulberry32(1)), first);
  t.not(Array.from({ length: 5 }, mulberry32(2))[0], first[0]);
  const many = Array.from({ length: 10_000 }, mulberry32(7));
  t.ok(many.every((value) => value >= 0 && value < 1));
  t.ok(Math.abs(many.reduce((sum, value) => sum + value, 0) / many.length - 0.5) < 0.02, 'spread evenly');
});
