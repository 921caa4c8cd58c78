import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { UsageError } from '../../src/cli/io.ts';
import { readHidden } from '../../src/cli/prompt.ts';
import { captured, fakeTerminal, type Captured, type FakeTerminal } from '../helpers/cli-io.ts';

const PROMPT = 'Password (not shown): ';

interface Session {
  terminal: FakeTerminal;
  output: Captured;
  answer: Promise<string>;
  /** What the output held each time the terminal's raw mode was switched. */
  outputAtRawMode: string[];
}

/** A prompt on a fake terminal; each argument is typed as one read, as a terminal delivers keys. */
function ask(keys: Array<string | Buffer> = []): Session {
  const terminal = fakeTerminal();
  const output = captured();
  const outputAtRawMode: string[] = [];
  const setRawMode = terminal.setRawMode.bind(terminal);
  terminal.setRawMode = (mode: boolean) => {
    outputAtRawMode.push(output.text);
    return setRawMode(mode);
  };
  const answer = readHidden(terminal, output.stream, PROMPT);
  for (const key of keys) terminal.write(key);
  return { terminal, output, answer, outputAtRawMode };
}

/** The prompt's outcome, or 'pending' if it has none within the time: a prompt that never returns hangs the command. */
async function outcome(answer: Promise<string>, ms = 500): Promise<{ resolved: string } | { rejected: unknown } | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([answer.then((resolved) => ({ resolved })), pending]);
  } catch (rejected) {
    return { rejected };
  } finally {
    clearTimeout(timer);
  }
}

/** The terminal left raw mode, and showed the prompt and a line break: never a typed character. */
function leftCleanly(t: Test, session: Session) {
  t.same(session.terminal.rawModes, [true, false], 'raw mode on, then off again');
  t.equal(session.output.text, `${PROMPT}\n`, 'the output shows the prompt and a line break, nothing typed');
}

t.test('what is typed up to Enter is the answer, and none of it is shown', async (t) => {
  const session = ask(['c', 'o', 'rrect horse', ' battery staple', '\r']);
  t.equal(await session.answer, 'correct horse battery staple');
  leftCleanly(t, session);
  t.same(session.outputAtRawMode[0], '', 'raw mode is on before the prompt appears, so no key typed after it is echoed');
  t.equal(session.outputAtRawMode[1], PROMPT, 'and off only once the answer is complete');
  t.equal(await ask(['line feed\n']).answer, 'line feed', 'a line feed is Enter too');
});

t.test('Backspace erases one character, whole even when it is not ASCII; Ctrl+U erases the line', async (t) => {
  t.equal(await ask(['secretX', '\u007f', '\r']).answer, 'secret', 'DEL, as most terminals send Backspace');
  t.equal(await ask(['secretX\b\r']).answer, 'secret', 'Ctrl+H, as some do');
  t.equal(await ask(['key🔑', '\u007f', '\r']).answer, 'key', 'an emoji is one character, not two halves');
  t.equal(await ask(['\u007f\u007fok\r']).answer, 'ok', 'Backspace on nothing erases nothing');
  t.equal(await ask(['wrong start', '\u0015', 'right\r']).answer, 'right');
  const session = ask(['abc\u007f\u0015\r']);
  t.equal(await session.answer, '');
  leftCleanly(t, session);
});

t.test('Ctrl+C cancels with exit 130 and leaves the terminal as it was', async (t) => {
  const session = ask(['half a passw', '\u0003']);
  const error = await t.rejects(session.answer);
  t.type(error, UsageError);
  t.equal((error as UsageError).message, 'cancelled');
  t.equal((error as UsageError).exitCode, 130, 'as a shell reports an interrupted command');
  leftCleanly(t, session);
});

t.test('Ctrl+D ends an empty answer, and is ignored within one', async (t) => {
  const empty = ask(['\u0004']);
  t.equal(await empty.answer, '');
  leftCleanly(t, empty);
  t.equal(await ask(['ab', '\u0004', 'c\r']).answer, 'abc');
});

t.test('an arrow key is no part of the answer', async (t) => {
  t.equal(await ask(['ab', '\u001b[D', 'c', '\u001b[A', '\r']).answer, 'abc', 'each key in a read of its own');
  t.equal(await ask(['\u001b', 'x\r']).answer, 'x', 'Esc alone');
});

t.test('an arrow key that arrives in one read with other keys (fast typing, a loaded machine) drops only the arrow', async (t) => {
  // A terminal hands over whatever is buffered: keys typed while the process was busy come in one read.
  const session = ask(['ab\u001b[Dcd\r']);
  t.same(await outcome(session.answer), { resolved: 'abcd' }, 'not "ab[Dcd"');
  t.same(await outcome(ask(['\u001b[Dsecret\r']).answer), { resolved: 'secret' }, 'the keys after the arrow, and Enter, are not lost');
});

t.test('UTF-8 split across two reads, and a long answer, arrive whole', async (t) => {
  const bytes = Buffer.from('pässwörd €', 'utf8');
  t.equal(await ask([bytes.subarray(0, 2), bytes.subarray(2, 9), bytes.subarray(9), '\r']).answer, 'pässwörd €');
  const long = 'пароль密码'.repeat(2000);
  t.equal(await ask([long, '\r']).answer, long);
});

t.test('input that ends before Enter ends the prompt and leaves raw mode', async (t) => {
  // The terminal went away (its window was closed): an answer that never comes must not hang the command with the terminal raw.
  const session = ask(['partial']);
  session.terminal.end();
  const settled = await outcome(session.answer);
  t.not(settled, 'pending', 'the prompt ends');
  t.ok(typeof settled === 'object' && 'rejected' in settled, 'with an error: there is no answer');
  t.same(session.terminal.rawModes, [true, false], 'raw mode off again');
});

t.test('without a terminal there is no prompt at all', async (t) => {
  const output = captured();
  await t.rejects(readHidden(new PassThrough(), output.stream, PROMPT), { message: 'standard input is not a terminal' });
  t.equal(output.text, '', 'nothing written');
});
