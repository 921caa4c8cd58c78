import t from 'tap';
import { parseDocument } from 'yaml';
import { interpolateDocument, interpolateString, type InterpolationContext } from '../../src/config/interpolate.ts';

const files: Record<string, string> = {
  '/run/secrets/a': 'file-value\n',
  '/crlf': 'windows\r\n',
  '/two-lines': 'a\nb\n',
  '/two-newlines': 'x\n\n',
  '/no-newline': 'bare',
  '/refers': '${NAME}\n',
};
const read: string[] = [];
const context: InterpolationContext = {
  env: { NAME: 'value', EMPTY: '', OTHER: 'x', NESTED: '${NAME}', UNDEF: undefined },
  readFile: (path) => {
    read.push(path);
    const found = files[path];
    if (found === undefined) throw Object.assign(new Error('nope'), { code: path === '/locked' ? 'EACCES' : 'ENOENT' });
    return found;
  },
};

const invalid = (reference: string) => `"\${${reference}}" is not a valid reference: use \${ENV_NAME} or \${file:/path/to/secret}`;

t.test('interpolateString', async (t) => {
  const cases: Array<[string, string, string[]]> = [
    // environment
    ['${NAME}', 'value', []],
    ['${_UNDER_score9}', '', ['environment variable _UNDER_score9 is not set']],
    ['pre-${NAME}-${OTHER}-post', 'pre-value-x-post', []],
    ['${NAME}${NAME}', 'valuevalue', []],
    ['${NESTED}', '${NAME}', []], // a value is never expanded a second time
    // files: one trailing newline dropped, nothing else
    ['${file:/run/secrets/a}', 'file-value', []],
    ['${file:/crlf}', 'windows', []],
    ['${file:/two-lines}', 'a\nb', []],
    ['${file:/two-newlines}', 'x\n', []],
    ['${file:/no-newline}', 'bare', []],
    ['${file:/refers}', '${NAME}', []],
    ['id=${NAME};key=${file:/no-newline}', 'id=value;key=bare', []],
    // `$${` is a literal `${`
    ['$${NAME}', '${NAME}', []],
    ['$${NAME} ${NAME}', '${NAME} value', []],
    ['pa$$word', 'pa$$word', []],
    ['no refs $ { } here', 'no refs $ { } here', []],
    ['unclosed ${NAME', 'unclosed ${NAME', []],
    // problems
    ['${MISSING}', '', ['environment variable MISSING is not set']],
    ['${UNDEF}', '', ['environment variable UNDEF is not set']],
    ['${EMPTY}', '', ['environment variable EMPTY is empty']],
    ['${file:/nope}', '', ['cannot read file "/nope" named by ${file:/nope} (ENOENT)']],
    ['${file:/locked}', '', ['cannot read file "/locked" named by ${file:/locked} (EACCES)']],
    ['${1BAD}', '', [invalid('1BAD')]],
    ['${}', '', [invalid('')]],
    ['${ NAME }', '', [invalid(' NAME ')]],
    ['${env:NAME}', '', [invalid('env:NAME')]],
    ['${A-B} ${MISSING}', ' ', [invalid('A-B'), 'environment variable MISSING is not set']],
  ];
  for (const [input, value, errors] of cases) {
    const result = interpolateString(input, context);
    t.same({ value: result.value, errors: result.errors }, { value, errors }, input);
  }
});

t.test('references counts what was actually looked up', async (t) => {
  t.equal(interpolateString('${NAME}-${file:/no-newline}', context).references, 2);
  t.equal(interpolateString('$${NAME}', context).references, 0, 'an escape is no reference');
  t.equal(interpolateString('unclosed ${NAME', context).references, 0);
  t.equal(interpolateString('plain', context).references, 0);
});

t.test('file paths are handed to readFile as written', async (t) => {
  read.length = 0;
  interpolateString('${file:relative/x.txt} ${file:/run/secrets/a}', context);
  t.same(read, ['relative/x.txt', '/run/secrets/a'], 'resolving relative paths is the caller’s job');
});

t.test('interpolateDocument rewrites string values in place and reports paths', async (t) => {
  const doc = parseDocument(
    ['port: 8080', 'secret: ${NAME}', 'escaped: $${NAME}', '${NAME}: key is never interpolated', 'list:', '  - ${OTHER}', '  - { deep: "${MISSING}" }', 'file: ${file:/nope}', 'plain: just text'].join(
      '\n',
    ),
  );
  const { problems, referenced } = interpolateDocument(doc, context);
  t.same(problems, [
    { path: ['list', 1, 'deep'], message: 'environment variable MISSING is not set' },
    { path: ['file'], message: 'cannot read file "/nope" named by ${file:/nope} (ENOENT)' },
  ]);
  t.same([...referenced].sort(), [JSON.stringify(['list', 0]), JSON.stringify(['secret'])]);
  t.same(
    doc.toJS(),
    {
      port: 8080,
      secret: 'value',
      escaped: '${NAME}',
      '${NAME}': 'key is never interpolated',
      list: ['x', { deep: '${MISSING}' }],
      file: '${file:/nope}',
      plain: 'just text',
    },
    'a value with a problem keeps its text; the rest is replaced',
  );
  const secret = doc.get('secret', true) as { range?: [number, number, number] } | undefined;
  t.equal(secret?.range?.[0], 'port: 8080\nsecret: '.length, 'the node keeps its source position');
});

t.test('an empty document has nothing to interpolate', async (t) => {
  t.same(interpolateDocument(parseDocument(''), context), { problems: [], referenced: new Set() });
});
