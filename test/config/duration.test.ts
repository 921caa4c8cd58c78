import t from 'tap';
import { parseDuration } from '../../src/config/duration.ts';

t.test('numbers are seconds', async (t) => {
  const cases: Array<[number, number | undefined]> = [
    [600, 600_000],
    [1, 1_000],
    [0.5, 500],
    [0.0015, 2], // rounded to the nearest millisecond
    [0, undefined],
    [-1, undefined],
    [0.0001, undefined], // rounds to 0 ms: no timeout at all, refused like 0
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
  ];
  for (const [input, expected] of cases) t.equal(parseDuration(input), expected, String(input));
});

t.test('strings carry a unit, seconds when none', async (t) => {
  const cases: Array<[string, number | undefined]> = [
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['90', 90_000],
    ['1.5s', 1_500],
    ['0.5m', 30_000],
    [' 2 m ', 120_000],
    ['0.4ms', undefined],
    ['0s', undefined],
    ['0', undefined],
    ['', undefined],
    ['   ', undefined],
    ['soon', undefined],
    ['10d', undefined],
    ['10S', undefined],
    ['-5s', undefined],
    ['+5s', undefined],
    ['1e3', undefined],
    ['.5s', undefined],
    ['5 s s', undefined],
    ['1h30m', undefined],
  ];
  for (const [input, expected] of cases) t.equal(parseDuration(input), expected, JSON.stringify(input));
});
