import t from 'tap';
import { qualityList } from '../../src/http/quality.ts';

t.test('entries lower-cased with their raw weights', async (t) => {
  t.same(
    qualityList('GZIP, deflate;q=0.5 , br;q=0, *;Q=0.1'),
    [
      { value: 'gzip', weight: 1 },
      { value: 'deflate', weight: 0.5 },
      { value: 'br', weight: 0 },
      { value: '*', weight: 0.1 },
    ],
    'names and parameters in any case',
  );
  t.same(qualityList('application/json;odata.metadata=minimal;q=0.9'), [{ value: 'application/json', weight: 0.9 }], 'other parameters are ignored');
  t.ok(Number.isNaN(qualityList('a;q=oops')[0]!.weight), 'garbage weights are NaN: the caller decides');
  t.same(qualityList(''), [{ value: '', weight: 1 }]);
});
