import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { docsLink, packageVersion, print, shellWord, UsageError } from '../../src/cli/io.ts';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; homepage?: string };

/** What a POSIX shell makes of `set -- WORD`: how many words, and the first one, byte for byte. */
function throughShell(word: string, cwd: string): { count: number; first: string } {
  const printed = execFileSync('sh', ['-c', `set -- ${word}; printf '%s\\n%s' "$#" "$1"`], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent-home' } });
  const newline = printed.indexOf('\n');
  return { count: Number(printed.slice(0, newline)), first: printed.slice(newline + 1) };
}

t.test('a UsageError is a message and an exit code: 2 for a bad command line unless the command says otherwise', async (t) => {
  const usage = new UsageError('unknown option --nope');
  t.type(usage, Error);
  t.equal(usage.name, 'UsageError', 'named, so a log or a stack says what it was');
  t.equal(usage.message, 'unknown option --nope');
  t.equal(usage.exitCode, 2);
  t.equal(new UsageError('cancelled', 130).exitCode, 130, 'as a shell reports an interrupted command');
  t.equal(new UsageError('the two passwords differ', 1).exitCode, 1);
});

t.test("the version printed is package.json's", async (t) => {
  t.equal(packageVersion(), packageJson.version);
  t.match(packageVersion(), /^\d+\.\d+\.\d+(-[\w.]+)?$/);
});

t.test("a docs link leads to the README section on the project's homepage", async (t) => {
  t.ok(packageJson.homepage, 'package.json names a homepage');
  const base = packageJson.homepage!.replace(/#.*$/, '');
  t.equal(docsLink({ anchor: 'running-it', title: 'Running it' }), `${base}#running-it`, "the homepage's own #readme is replaced, not appended to");
  t.notMatch(docsLink({ anchor: 'install', title: 'Install' }), /#.*#/, 'one fragment only');
});

t.test('print writes one line, an empty one when given no text', async (t) => {
  const stream = new PassThrough();
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
  print(stream, 'wrote proxy.yaml');
  print(stream);
  print(stream, 'ünïcödé €');
  t.equal(written, 'wrote proxy.yaml\n\nünïcödé €\n');
});

t.test('a plain file name is printed as it is, readable and still one shell word', async (t) => {
  const dir = t.testdir({});
  for (const name of ['proxy.yaml', 'conf/okta.yaml', '/etc/bearer-proxy/proxy.yaml', '../up/x.yaml', 'C:/configs/proxy.yaml', 'user@host:path', 'a+b=c,d%e', '-c']) {
    t.equal(shellWord(name), name, `${name}: not quoted`);
    t.same(throughShell(shellWord(name), dir), { count: 1, first: name }, `${name}: one word in sh`);
  }
});

t.test('any other name comes back from sh byte for byte, as one word, and runs nothing', async (t) => {
  const dir = t.testdir({});
  const hostile = [
    'my proxy.yaml',
    "it's.yaml",
    "''",
    "'",
    'say "hi".yaml',
    '',
    ' ',
    '$(touch pwned-by-subshell)',
    '`touch pwned-by-backticks`',
    '${HOME}/x.yaml',
    '$HOME',
    'a;touch pwned-by-semicolon',
    'a && touch pwned-by-and',
    'a | tee pwned-by-pipe',
    '> pwned-by-redirect',
    'line one\nline two',
    'trailing newline\n',
    'tab\there',
    'back\\slash\\',
    '*',
    '~/proxy.yaml',
    '#not a comment',
    '!!',
    'café/prøxy.yaml',
    '日本語.yaml',
    '\u0001\u001b[31mred',
    "'; touch pwned-by-quote; echo '",
    'x'.repeat(10_000),
  ];
  for (const name of hostile) {
    const label = JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}… (${name.length} characters)` : name);
    t.same(throughShell(shellWord(name), dir), { count: 1, first: name }, label);
  }
  t.same(readdirSync(dir), [], 'no command inside a name was run');
});

t.test('on Windows, a quote in a name is doubled, as PowerShell reads it, the typographic ones too', async (t) => {
  t.equal(shellWord("C:\\Users\\O'Brien\\proxy.yaml", 'win32'), "'C:\\Users\\O''Brien\\proxy.yaml'");
  t.equal(shellWord('C:\\Gateway Config\\proxy.yaml', 'win32'), "'C:\\Gateway Config\\proxy.yaml'", 'spaces and backslashes kept literal');
  t.equal(shellWord('a\u2019b\u2018c', 'win32'), "'a\u2019\u2019b\u2018\u2018c'", '’ and ‘ end a PowerShell string too');
  t.equal(shellWord('$env:SECRET', 'win32'), "'$env:SECRET'", 'no variable expanded');
  t.equal(shellWord('proxy.yaml', 'win32'), 'proxy.yaml', 'a plain name as it is');
  t.equal(shellWord("O'Brien.yaml", 'linux'), "'O'\\''Brien.yaml'", 'elsewhere, the sh form');
});
