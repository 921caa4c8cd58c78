import t from 'tap';
import { CLIENT_CLAIMS, connectionListedNames, HOP_BY_HOP, SET_BY_PROXY } from '../../src/http/owned-headers.ts';

t.test('the names a Connection value lists, lower-cased; keep-alive and close make no set', async (t) => {
  t.equal(connectionListedNames('keep-alive', undefined), undefined);
  t.equal(connectionListedNames(' Keep-Alive , CLOSE,, ', undefined), undefined);
  t.same([...connectionListedNames('keep-alive, X-Internal ,,x-other', undefined)!], ['x-internal', 'x-other']);
  const listed = connectionListedNames('x-one', undefined);
  t.equal(connectionListedNames('X-Two, x-one', listed), listed, 'a second Connection header adds to the same set');
  t.same([...listed!], ['x-one', 'x-two']);
});

t.test('the header lists are lower-case and apart where they must be', async (t) => {
  for (const name of [...HOP_BY_HOP, ...SET_BY_PROXY, ...CLIENT_CLAIMS]) t.equal(name, name.toLowerCase(), name);
  t.ok(HOP_BY_HOP.has('connection') && HOP_BY_HOP.has('transfer-encoding'));
  t.ok(SET_BY_PROXY.has('authorization'), 'a client cannot send its own token upstream');
});
