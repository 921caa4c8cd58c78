import t from 'tap';
import { formatInstant, systemClock } from '../src/clock.ts';

const MAX_MS = 8.64e15;

t.test('an instant a Date can hold is written as ISO 8601 in UTC, to the millisecond', async (t) => {
  t.equal(formatInstant(0), '1970-01-01T00:00:00.000Z');
  t.equal(formatInstant(-0), '1970-01-01T00:00:00.000Z', '-0 is the epoch, not a special case');
  t.equal(formatInstant(Date.UTC(2024, 4, 1, 12, 0, 45, 7)), '2024-05-01T12:00:45.007Z');
  t.equal(formatInstant(-1), '1969-12-31T23:59:59.999Z', 'before the epoch');
  // A JWT exp times 1000, or a sum of lifetimes, need not be whole: Date drops the fraction towards zero.
  t.equal(formatInstant(1.9), '1970-01-01T00:00:00.001Z');
  t.equal(formatInstant(-1.9), '1969-12-31T23:59:59.999Z');
  t.equal(formatInstant(Number.MIN_VALUE), '1970-01-01T00:00:00.000Z', 'the smallest positive number');
  t.equal(formatInstant(Date.UTC(10_000, 0, 1)), '+010000-01-01T00:00:00.000Z', 'a year past 9999 in the expanded form');
});

t.test('the last instants a Date can hold, ±8.64e15 ms, are still written as dates', async (t) => {
  t.equal(formatInstant(MAX_MS), '+275760-09-13T00:00:00.000Z');
  t.equal(formatInstant(-MAX_MS), '-271821-04-20T00:00:00.000Z');
  t.equal(formatInstant(MAX_MS - 1), '+275760-09-12T23:59:59.999Z');
});

t.test('one millisecond beyond, or no number at all, is described instead of thrown', async (t) => {
  // toISOString throws a RangeError here; a token with an absurd exp must not end a request or the process.
  const cases: Array<[number, string]> = [
    [MAX_MS + 1, '(not a valid time: 8640000000000001)'],
    [-MAX_MS - 1, '(not a valid time: -8640000000000001)'],
    [Number.NaN, '(not a valid time: NaN)'],
    [Number.POSITIVE_INFINITY, '(not a valid time: Infinity)'],
    [Number.NEGATIVE_INFINITY, '(not a valid time: -Infinity)'],
    [Number.MAX_VALUE, `(not a valid time: ${Number.MAX_VALUE})`],
    [1e13 * 1000, '(not a valid time: 10000000000000000)'],
  ];
  for (const [ms, described] of cases) {
    let written: string | undefined;
    t.doesNotThrow(() => (written = formatInstant(ms)), String(ms));
    t.equal(written, described, String(ms));
  }
});

t.test('the system clock reads the wall clock in milliseconds since the epoch', async (t) => {
  const before = Date.now();
  const now = systemClock.now();
  const after = Date.now();
  t.ok(Number.isInteger(now), 'whole milliseconds');
  t.ok(before <= now && now <= after, `${now} lies between ${before} and ${after}`);
});
