import { Writable } from 'node:stream';
import t from 'tap';
import { cachedIsoTime, createLogger } from '../../src/log/logger.ts';

const capture = () => {
  const lines: string[] = [];
  return { lines, destination: new Writable({ write: (chunk: Buffer, _encoding, done) => done(void lines.push(chunk.toString())) }) };
};

t.test('JSON lines by default, with the declared redaction', async (t) => {
  const { lines, destination } = capture();
  createLogger({ destination }).info({ clientSecret: 's3cret', headers: { authorization: 'Bearer x' }, n: 1 }, 'hello');
  const parsed = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.match(parsed, { level: 30, msg: 'hello', n: 1, clientSecret: '[redacted]' });
  t.match(parsed.time, /^\d{4}-\d\d-\d\dT/);
});

t.test('readable lines go through the same redaction', async (t) => {
  const { lines, destination } = capture();
  createLogger({ destination, pretty: true }).warn({ clientSecret: 's3cret', password: 'pw' }, 'hello');
  t.match(lines[0], /^\d\d:\d\d:\d\d\.\d{3} WARN {2}hello clientSecret=\[redacted\] password=\[redacted\]\n$/);
  t.notMatch(lines.join(''), /s3cret|pw\b/);
  t.notMatch(lines.join(''), '\u001b[', 'no colour unless asked');
});

t.test('the cached time is toISOString for every millisecond, across second, minute and day boundaries', async (t) => {
  let clock = 0;
  const time = cachedIsoTime(() => clock);
  const starts = [Date.UTC(2026, 11, 31, 23, 59, 59, 990), Date.UTC(2026, 11, 3, 12, 0, 0, 0), 1_000, 0];
  const wrong: string[] = [];
  for (const start of starts) {
    for (let ms = start; ms < start + 1_100; ms += 3) {
      clock = ms;
      const expected = `,"time":"${new Date(ms).toISOString()}"`;
      if (time() !== expected) wrong.push(`${ms}: ${time()} ≠ ${expected}`);
      if (time() !== expected) wrong.push(`${ms} (asked again): ${time()}`);
    }
  }
  t.same(wrong, []);
});
