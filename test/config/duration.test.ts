import t from 'tap';
import { parseDuration } from '../../src/config/duration.ts';

t.test('durations', async (t) => {
  const cases: Array<[number | string, number | undefined]> = [
    [600, 600_000], [0.5, 500], ['30s', 30_000], ['500ms', 500], ['10m', 600_000], ['1h', 3_600_000], ['90', 90_000], [' 2 m ', 120_000], ['1.5s', 1_500],
    [0, undefined], [-1, undefined], [Number.NaN, undefined], ['', undefined], ['soon', undefined], ['10d', undefined], ['0s', undefined], ['-5s', undefined],
  ];
  for (const [input, expected] of cases) t.equal(parseDuration(input), expected, JSON.stringify(input));
});
