import t from 'tap';
import { LineCounter, parseDocument } from 'yaml';
import { formatKeyPath, positionOf } from '../../src/config/positions.ts';

t.test('positions of values, keys and missing keys', async (t) => {
  const lines = new LineCounter();
  const doc = parseDocument('a:\n  b: 1\n  list:\n    - x: 2\nroutes:\n  /s: { t: 3 }\n', { lineCounter: lines });
  t.same(positionOf(doc, lines, ['a', 'b']), { line: 2, column: 6 });
  t.same(positionOf(doc, lines, ['a', 'b'], 'key'), { line: 2, column: 3 });
  t.same(positionOf(doc, lines, ['a', 'list', 0, 'x']), { line: 4, column: 10 });
  t.same(positionOf(doc, lines, ['routes', '/s', 't']), { line: 6, column: 12 });
  t.same(positionOf(doc, lines, ['a', 'missing', 'deeper']), { line: 2, column: 3 }, 'the deepest part that exists');
});

t.test('key paths read as written', async (t) => {
  t.equal(formatKeyPath(['routes', '/sales', 'target']), 'routes["/sales"].target');
  t.equal(formatKeyPath(['inbound', 'users', 0, 'name']), 'inbound.users[0].name');
  t.equal(formatKeyPath([]), '(top level)');
});
