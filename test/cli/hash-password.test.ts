import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { hashPasswordCommand } from '../../src/cli/hash-password.ts';
import { UsageError } from '../../src/cli/io.ts';
import { verifyPasswordHash } from '../../src/inbound/password.ts';
import { fakeTerminal, testIo, type TestIo } from '../helpers/cli-io.ts';

const FIRST = 'Password (not shown): ';
const AGAIN = 'Same password again: ';

/** hash-password with standard input from a pipe that carries these chunks, then ends. */
async function fromPipe(chunks: Array<string | Buffer>): Promise<TestIo & { code: number }> {
  const stdin = new PassThrough();
  const run = testIo({ cwd: process.cwd(), stdin });
  const code = hashPasswordCommand(run.io);
  for (const chunk of chunks) stdin.write(chunk);
  stdin.end();
  return { ...run, code: await code };
}

/** The hash, checked to be alone on standard output, and the password to be nowhere in the output. */
async function printedHash(t: Test, run: TestIo, password: string): Promise<string> {
  const lines = run.stdout.text.split('\n');
  t.equal(lines.length, 2, 'one line on standard output');
  t.equal(lines[1], '', 'ending with a newline');
  t.match(lines[0], /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'an scrypt hash for passwordHash');
  t.notOk(run.output.includes(password), 'the password is not printed');
  t.ok(await verifyPasswordHash(password, lines[0]!), 'the hash verifies the password, as inbound auth checks it');
  return lines[0]!;
}

t.test('from a pipe: one trailing line break is dropped, CRLF too, and nothing else', async (t) => {
  const windowsFile = await fromPipe(['from notepad\r\n']);
  t.equal(windowsFile.code, 0);
  t.equal(windowsFile.stderr.text, '', 'no prompt when standard input is not a terminal');
  t.notOk(await verifyPasswordHash('from notepad\r', await printedHash(t, windowsFile, 'from notepad')), 'the carriage return is not part of it');

  const kept = await fromPipe(['  spaced out  \n\n']);
  t.ok(await verifyPasswordHash('  spaced out  \n', await printedHash(t, kept, '  spaced out  \n')), 'spaces and a second line break are part of the password');
});

t.test('from a pipe: a character split between two reads is decoded whole', async (t) => {
  const bytes = Buffer.from('€uro-ünïcode-🔑', 'utf8');
  // Cut inside the euro sign and inside the emoji.
  const run = await fromPipe([bytes.subarray(0, 1), bytes.subarray(1, 19), bytes.subarray(19)]);
  t.equal(run.code, 0);
  await printedHash(t, run, '€uro-ünïcode-🔑');
});

t.test('from a pipe: nothing but a line break is no password, and the message says how to give one', async (t) => {
  for (const input of [[], ['\n'], ['\r\n']]) {
    const error = await t.rejects(fromPipe(input));
    t.type(error, UsageError);
    t.equal((error as UsageError).exitCode, 1);
    t.match(
      (error as Error).message,
      /^no password on standard input: run bearer-proxy hash-password in a terminal to be asked for it, or redirect a file \(bearer-proxy hash-password < password\.txt\)$/,
    );
  }
});

/** hash-password on a fake terminal: each answer is typed once its prompt shows. */
async function onTerminal(answers: string[]): Promise<{ run: TestIo; terminal: ReturnType<typeof fakeTerminal>; result: Promise<number> }> {
  const terminal = fakeTerminal();
  const run = testIo({ cwd: process.cwd(), stdin: terminal });
  const result = hashPasswordCommand(run.io);
  // Kept from rejecting unobserved while the answers are typed; the caller awaits it.
  result.catch(() => undefined);
  const prompts = [FIRST, FIRST + '\n' + AGAIN];
  for (const [index, answer] of answers.entries()) {
    await run.stderr.waitFor(prompts[index]!);
    terminal.write(answer);
  }
  return { run, terminal, result };
}

t.test('on a terminal: asked twice on standard error, never shown, the hash alone on standard output', async (t) => {
  const password = 'tr0ub4dor &3 ünï';
  const { run, terminal, result } = await onTerminal([`${password}\r`, `${password}\r`]);
  t.equal(await result, 0);
  t.equal(run.stderr.text, `${FIRST}\n${AGAIN}\n`, 'the prompts, and nothing typed');
  await printedHash(t, run, password);
  t.same(terminal.rawModes, [true, false, true, false], 'the terminal left raw mode after each prompt');
});

t.test('on a terminal: an empty answer hashes nothing and is not asked again', async (t) => {
  const { run, result } = await onTerminal(['\r']);
  const error = await t.rejects(result);
  t.type(error, UsageError);
  t.equal((error as UsageError).message, 'empty password: nothing to hash');
  t.equal((error as UsageError).exitCode, 1);
  t.equal(run.stderr.text, `${FIRST}\n`, 'one prompt');
  t.equal(run.stdout.text, '');
});

t.test('on a terminal: Ctrl+C at the second prompt cancels with exit 130 and prints no hash', async (t) => {
  const { run, terminal, result } = await onTerminal(['first-attempt\r', 'first-att\u0003']);
  const error = await t.rejects(result);
  t.type(error, UsageError);
  t.equal((error as UsageError).exitCode, 130);
  t.equal(run.stdout.text, '', 'no hash');
  t.notMatch(run.output, /first-att/, 'nothing typed is shown');
  t.same(terminal.rawModes, [true, false, true, false]);
});
