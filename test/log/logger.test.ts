import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger } from '../../src/log/logger.ts';

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
