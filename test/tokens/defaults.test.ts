import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import { DEFAULT_BACKOFF_MS, DEFAULT_REFRESH_AHEAD } from '../../src/tokens/defaults.ts';

// The schema fills in the lifecycle defaults for every source from the same constants a
// TokenProvider without options uses, so a config that says nothing gets what tests test.
t.test('a source that sets nothing gets the lifecycle defaults', async (t) => {
  const { config } = parseConfig(
    [
      'tokens:',
      '  lake:',
      '    tokenUrl: https://idp.example.com/token',
      '    clientId: a',
      '    clientSecret: b',
      'routes:',
      '  /sales:',
      '    target: https://api.example.com/odata',
      '    token: lake',
      '',
    ].join('\n'),
  );
  const source = config.tokens.lake!;
  t.equal(source.refreshAhead, DEFAULT_REFRESH_AHEAD);
  t.same(source.backoff, DEFAULT_BACKOFF_MS);
  t.same([DEFAULT_REFRESH_AHEAD, DEFAULT_BACKOFF_MS.initial, DEFAULT_BACKOFF_MS.max], [0.8, 1_000, 60_000], 'the values DESIGN.md and the schema descriptions state');
});
