import t from 'tap';
import { interpolateString } from '../../src/config/interpolate.ts';

const files: Record<string, string> = { '/run/secrets/a': 'file-value\n', '/crlf': 'windows\r\n', '/two-lines': 'a\nb\n' };
const context = {
  env: { NAME: 'value', EMPTY: '', OTHER: 'x' },
  readFile: (path: string) => {
    const found = files[path];
    if (found === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return found;
  },
};

t.test('references', async (t) => {
  const cases: Array<[string, string, string[]]> = [
    ['${NAME}', 'value', []],
    ['pre-${NAME}-${OTHER}-post', 'pre-value-x-post', []],
    ['${file:/run/secrets/a}', 'file-value', []],
    ['${file:/crlf}', 'windows', []],
    ['${file:/two-lines}', 'a\nb', []],
    ['$${NAME}', '${NAME}', []],
    ['no refs $ { } here', 'no refs $ { } here', []],
    ['${MISSING}', '', ['environment variable MISSING is not set']],
    ['${EMPTY}', '', ['environment variable EMPTY is empty']],
    ['${file:/nope}', '', ['cannot read file "/nope" named by ${file:/nope} (ENOENT)']],
    ['${1BAD}', '', ['"${1BAD}" is not a valid reference: use ${ENV_NAME} or ${file:/path/to/secret}']],
    ['${A-B} ${MISSING}', ' ', ['"${A-B}" is not a valid reference: use ${ENV_NAME} or ${file:/path/to/secret}', 'environment variable MISSING is not set']],
  ];
  for (const [input, value, errors] of cases) {
    t.same(interpolateString(input, context), { value, errors }, input);
  }
});
