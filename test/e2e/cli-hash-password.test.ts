import { spawn } from 'node:child_process';
import t from 'tap';
import { verifyPasswordHash } from '../../src/inbound/password.ts';
import { builtCli, runCli } from '../helpers/cli.ts';

// hash-password from a pipe (scripts) and on a real terminal: a pty made by util-linux `script`.

t.test('from standard input (a pipe or a file): no prompt, one trailing newline dropped', async (t) => {
  const result = await runCli(['hash-password'], { input: 'correct horse battery\n' });
  t.equal(result.code, 0);
  t.equal(result.stderr, '', 'no prompt when standard input is not a terminal');
  const hash = result.stdout.trim();
  t.match(hash, /^scrypt\$/);
  t.ok(await verifyPasswordHash('correct horse battery', hash));
  t.notOk(await verifyPasswordHash('correct horse', hash));
  t.ok(await verifyPasswordHash('pässwörd €', (await runCli(['hash-password'], { input: 'pässwörd €' })).stdout.trim()), 'UTF-8, no newline');

  const empty = await runCli(['hash-password'], { input: '' });
  t.equal(empty.code, 1);
  t.match(empty.stderr, /^bearer-proxy: no password on standard input: run bearer-proxy hash-password in a terminal to be asked for it, or redirect a file/);
  t.notMatch(empty.stderr, /echo/, 'never suggests putting the password on a command line');
});

t.test('on a terminal: asked twice, never echoed', async (t) => {
  const session = onTerminal(['hash-password']);
  await session.waitFor('Password (not shown): ');
  session.type('tr0ub4dor &3\r');
  await session.waitFor('Same password again: ');
  session.type('tr0ub4dor &3\r');
  const { code, output } = await session.exited;
  t.equal(code, 0, output);
  t.notMatch(output, 'tr0ub4dor', 'the password never appears on the terminal');
  const hash = /^(scrypt\$\S+)\r?$/m.exec(output)?.[1];
  t.ok(hash, 'the hash on a line of its own');
  t.ok(await verifyPasswordHash('tr0ub4dor &3', hash!));
});

t.test('on a terminal: two different answers hash nothing', async (t) => {
  const session = onTerminal(['hash-password']);
  await session.waitFor('Password (not shown): ');
  session.type('first\r');
  await session.waitFor('Same password again: ');
  session.type('second\r');
  const { code, output } = await session.exited;
  t.equal(code, 1);
  t.match(output, 'bearer-proxy: the two passwords differ: nothing was hashed');
  t.notMatch(output, /scrypt\$/);
  t.notMatch(output, /first|second/);
});

t.test('on a terminal: Backspace edits, Ctrl+C cancels', async (t) => {
  const edited = onTerminal(['hash-password']);
  await edited.waitFor('Password (not shown): ');
  edited.type('secretX\u007f\r');
  await edited.waitFor('Same password again: ');
  edited.type('secret\r');
  const result = await edited.exited;
  t.equal(result.code, 0, result.output);
  t.ok(await verifyPasswordHash('secret', /^(scrypt\$\S+)\r?$/m.exec(result.output)![1]!));

  const cancelled = onTerminal(['hash-password']);
  await cancelled.waitFor('Password (not shown): ');
  cancelled.type('abc\u0003');
  const gone = await cancelled.exited;
  t.equal(gone.code, 130, 'as a shell reports an interrupted command');
  t.notMatch(gone.output, /scrypt\$|abc/);
});

/** The built CLI on a new pseudo-terminal: what it writes (stdout and stderr, as a terminal shows them) and what we type. */
function onTerminal(args: string[]) {
  const command = [process.execPath, builtCli(), ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  // -q quiet, -f flush at once, -e the command's exit code, -c the command; no typescript file.
  const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', TERM: 'dumb' } });
  let output = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters.filter((w) => output.includes(w.text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => child.on('close', (code) => resolve({ code, output })));
  return {
    exited,
    type: (text: string) => child.stdin.write(text),
    waitFor: (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (output.includes(text)) return resolve();
        const timer = setTimeout(() => reject(new Error(`no "${text}" on the terminal within 15 s; it shows: ${JSON.stringify(output)}`)), 15_000);
        waiters.push({ text, resolve: () => (clearTimeout(timer), resolve()) });
      }),
  };
}
