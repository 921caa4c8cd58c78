import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, existsSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { batchedAccessLog, loggerAccessLog, type AccessEntry } from '../../src/log/access-log.ts';
import { createLogger } from '../../src/log/logger.ts';

const full: AccessEntry = {
  requestId: 'req-1',
  method: 'GET',
  path: '/sales/Orders("a\\"b")',
  route: '/sales',
  status: 502,
  durationMs: 12.34,
  upstreamStatus: 401,
  tokenSource: 'lake',
  bytes: 2048,
  user: 'gw ünïcode',
  retriedWithNewToken: true,
  resentAfterConnectionClosed: true,
  aborted: true,
  error: { code: 'UPSTREAM_REJECTED_TOKEN', message: 'quote " and \n newline', cause: { name: 'Error' } },
};
const sparse: AccessEntry = {
  requestId: 'req-2',
  method: 'GET',
  path: '/nowhere',
  route: undefined,
  status: 404,
  durationMs: 0.1,
  upstreamStatus: undefined,
  tokenSource: undefined,
  bytes: undefined,
  user: undefined,
};

/** What pino itself writes for info(entry, 'request'): the batched log must write the same lines. */
function throughPino(entries: AccessEntry[]): Array<Record<string, unknown>> {
  const lines: string[] = [];
  const logger = createLogger({ destination: new Writable({ write: (chunk: Buffer, _encoding, done) => done(void lines.push(chunk.toString())) }) });
  const log = loggerAccessLog(logger);
  for (const entry of entries) log.write(entry, entry.error ? 'warn' : 'info');
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

t.test('batched lines are pino’s lines for the same entries, fields and order alike', async (t) => {
  const file = join(t.testdir(), 'access.log');
  const fd = openSync(file, 'w');
  const log = batchedAccessLog('info', { fd });
  log.write(full, 'warn');
  log.write(sparse, 'info');
  t.equal(readFileSync(file, 'utf8'), '', 'held until 4 KiB, a second, or a flush');
  log.flush();
  closeSync(fd);
  const written = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const expected = throughPino([full, sparse]);
  const withoutTime = (line: Record<string, unknown>) => ({ ...line, time: undefined });
  t.same(written.map(withoutTime), expected.map(withoutTime));
  t.same(
    written.map((line) => Object.keys(line)),
    expected.map((line) => Object.keys(line)),
    'keys in pino’s order',
  );
  t.match(written[0]!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

t.test('lines go out once 4 KiB are held, whole', async (t) => {
  const file = join(t.testdir(), 'access.log');
  const fd = openSync(file, 'w');
  const log = batchedAccessLog('info', { fd });
  t.teardown(() => closeSync(fd));
  for (let i = 0; i < 40; i++) log.write({ ...sparse, requestId: `req-${i}` }, 'info');
  const text = readFileSync(file, 'utf8');
  t.ok(text.length >= 4096, `written without a flush (${text.length} bytes)`);
  t.ok(text.endsWith('\n'), 'only whole lines');
  log.flush();
  t.equal(readFileSync(file, 'utf8').trim().split('\n').length, 40);
});

t.test('a quiet proxy’s lines go out within about a second, without a flush', async (t) => {
  const file = join(t.testdir(), 'access.log');
  const fd = openSync(file, 'w');
  t.teardown(() => closeSync(fd));
  const log = batchedAccessLog('info', { fd });
  log.write(sparse, 'info');
  t.equal(readFileSync(file, 'utf8'), '', 'held at first');
  const deadline = Date.now() + 5_000;
  while (readFileSync(file, 'utf8') === '' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.match(JSON.parse(readFileSync(file, 'utf8')), { requestId: 'req-2', status: 404 });
});

t.test('a full non-blocking pipe loses nothing: what one write cannot take waits until the reader catches up', async (t) => {
  const dir = t.testdir();
  const fifo = join(dir, 'fifo');
  const out = join(dir, 'out');
  execFileSync('mkfifo', [fifo]);
  const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeEnd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  const page = Buffer.alloc(4096, 'x');
  let filled = 0;
  for (;;) {
    try {
      filled += writeSync(writeEnd, page);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw error;
    }
  }
  // One page free: the batch's first write takes part of it, and the rest has to wait.
  filled -= readSync(readEnd, Buffer.alloc(4096));
  const reader = spawn('sh', ['-c', 'sleep 1; exec cat "$0" > "$1"', fifo, out]);
  const log = batchedAccessLog('info', { fd: writeEnd });
  for (let i = 0; i < 40; i++) log.write({ ...sparse, requestId: `req-${i}`, user: i === 7 ? 'jürgen' : undefined }, 'info');
  log.flush();
  // The reader must have opened the pipe before the last writer closes it, or its open would wait for another.
  const deadline = Date.now() + 5_000;
  while (!(existsSync(out) && statSync(out).size >= filled) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  closeSync(writeEnd);
  closeSync(readEnd);
  await once(reader, 'exit');
  const lines = readFileSync(out, 'latin1').slice(filled);
  const parsed = Buffer.from(lines, 'latin1')
    .toString('utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { requestId: string; user?: string });
  t.same(
    parsed.map((line) => line.requestId),
    Array.from({ length: 40 }, (_, i) => `req-${i}`),
    'every line, whole and in order, after what filled the pipe',
  );
  t.equal(parsed[7]!.user, 'jürgen', 'a multi-byte character survives the split');
});

t.test("at warn, only the failures of the proxy's own making are written; above error, nothing", async (t) => {
  const file = join(t.testdir(), 'access.log');
  const fd = openSync(file, 'w');
  const log = batchedAccessLog('warn', { fd });
  log.write(sparse, 'info');
  log.write(full, 'warn');
  log.write({ ...full, requestId: 'req-3' }, 'error');
  log.flush();
  closeSync(fd);
  t.same(
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .map((line) => [line.level, line.requestId]),
    [
      [40, 'req-1'],
      [50, 'req-3'],
    ],
  );
  const silent = join(t.testdir(), 'silent.log');
  const silentFd = openSync(silent, 'w');
  const none = batchedAccessLog('silent', { fd: silentFd });
  none.write(full, 'error');
  none.flush();
  closeSync(silentFd);
  t.equal(readFileSync(silent, 'utf8'), '');
});

t.test('bindings go on every line, after the time, as a pino child’s do', async (t) => {
  const file = join(t.testdir(), 'access.log');
  const fd = openSync(file, 'w');
  const log = batchedAccessLog('info', { fd, bindings: { worker: 2 } });
  log.write(sparse, 'info');
  log.flush();
  closeSync(fd);
  const [line] = readFileSync(file, 'utf8').trim().split('\n');
  t.same(Object.keys(JSON.parse(line!) as object).slice(0, 4), ['level', 'time', 'worker', 'requestId']);
  t.match(JSON.parse(line!), { worker: 2, requestId: 'req-2' });
});
