import t from 'tap';
import { LineCounter, parseDocument } from 'yaml';
import { formatKeyPath, positionOf, type KeyPath, type Position } from '../../src/config/positions.ts';

const source = [
  'a:', //                          1
  '  b: 1', //                      2
  '  list:', //                     3
  '    - x: 2', //                  4
  '    - plain', //                 5
  'routes:', //                     6
  '  /s: { t: 3 }', //              7
  'empty:', //                      8
  '"quoted key": v', //             9
  '0: numeric key', //              10
].join('\n');
const lines = new LineCounter();
const doc = parseDocument(source, { lineCounter: lines });

t.test('positionOf', async (t) => {
  const cases: Array<[KeyPath, 'key' | 'value', Position, string]> = [
    [['a', 'b'], 'value', { line: 2, column: 6 }, 'a value'],
    [['a', 'b'], 'key', { line: 2, column: 3 }, 'a key'],
    [['a'], 'value', { line: 2, column: 3 }, 'a map value starts at its first key'],
    [['a'], 'key', { line: 1, column: 1 }, 'a top-level key'],
    [['a', 'list', 0, 'x'], 'value', { line: 4, column: 10 }, 'through a sequence'],
    [['a', 'list', 0, 'x'], 'key', { line: 4, column: 7 }, 'a key inside a sequence item'],
    [['a', 'list', 1], 'value', { line: 5, column: 7 }, 'a sequence item'],
    [['a', 'list', 7], 'value', { line: 4, column: 5 }, 'an index past the end: the sequence'],
    [['a', 'list', 'x'], 'value', { line: 4, column: 5 }, 'a name where an index belongs: the sequence'],
    [['routes', '/s', 't'], 'value', { line: 7, column: 12 }, 'inside a flow map'],
    [['routes', '/s'], 'key', { line: 7, column: 3 }, 'a route prefix key'],
    [['a', 'missing'], 'value', { line: 2, column: 3 }, 'a missing key: its parent'],
    [['a', 'missing', 'deeper'], 'key', { line: 2, column: 3 }, 'the deepest part that exists'],
    [['a', 'b', 'c'], 'value', { line: 2, column: 6 }, 'below a scalar: the scalar'],
    [['empty'], 'value', { line: 8, column: 7 }, 'a key without a value: where the value would be'],
    [['empty', 'x'], 'value', { line: 8, column: 7 }, 'below a null value: the null'],
    [['quoted key'], 'key', { line: 9, column: 1 }, 'a quoted key'],
    [[0], 'value', { line: 10, column: 4 }, 'a numeric key is matched by its text'],
    [[], 'value', { line: 1, column: 1 }, 'the empty path: the document'],
    [['nowhere'], 'value', { line: 1, column: 1 }, 'a missing top-level key: the document'],
  ];
  for (const [path, at, expected, name] of cases) t.same(positionOf(doc, lines, path, at), expected, `${name} (${at})`);
  t.same(positionOf(doc, lines, ['a', 'b']), { line: 2, column: 6 }, 'value is the default');
});

t.test('an empty document has no positions', async (t) => {
  const emptyLines = new LineCounter();
  const empty = parseDocument('', { lineCounter: emptyLines });
  t.equal(positionOf(empty, emptyLines, ['routes']), undefined);
});

t.test('formatKeyPath', async (t) => {
  const cases: Array<[KeyPath, string]> = [
    [['routes', '/sales', 'target'], 'routes["/sales"].target'],
    [['routes', '/sales'], 'routes["/sales"]'],
    [['inbound', 'users', 0, 'name'], 'inbound.users[0].name'],
    [['tokens', 'lake', 'clientSecret'], 'tokens.lake.clientSecret'],
    [['routes', '/a', 'headers', 'Ocp-Apim-Subscription-Key'], 'routes["/a"].headers.Ocp-Apim-Subscription-Key'],
    [['tokens', 'bad name'], 'tokens["bad name"]'],
    [['tokens', 'say "hi"'], 'tokens["say \\"hi\\""]'],
    [['/sales'], '["/sales"]'],
    [[0], '[0]'],
    [['listen'], 'listen'],
    [[], '(top level)'],
  ];
  for (const [path, expected] of cases) t.equal(formatKeyPath(path), expected, expected);
});
