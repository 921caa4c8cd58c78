import fc from 'fast-check';
import t from 'tap';
import { pathForms, routeLinks, urlForms } from '../../src/odata/link-forms.ts';
import { SpellingFinder } from '../../src/odata/spelling-finder.ts';

/** The spellings the rewriter looks for on a route, in its order. */
function spellingsOf(upstreamBase: string, proxyBase: string): string[] {
  const links = routeLinks(upstreamBase, proxyBase);
  return [...urlForms(links), ...pathForms(links)].map(({ from }) => from);
}

/** What a plain search per spelling finds: the indexes of those in text, ascending. */
function searchEach(spellings: readonly string[], text: string): number[] {
  return spellings.flatMap((spelling, index) => (text.includes(spelling) ? [index] : []));
}

const layouts: Array<[string, string, string, string]> = [
  ['a target with a path', 'https://api.example.com/odata/v4/sales', 'http://localhost:8080/sales', '/odata/v4/sales'],
  ['an upstream root', 'https://api.example.com', 'http://localhost:8080/api', ''],
  ['heads that end alike (both ports end in 0)', 'http://api.example.com:9000/svc', 'http://localhost:8080/svc2', '/svc'],
  ['a one-segment path, whose escaped spellings end with the plain one', 'https://api.example.com/sales', 'http://localhost:8080/s', '/sales'],
];

t.test('finds what a plain search per spelling finds', async (t) => {
  const [, upstreamBase, proxyBase, basePath] = layouts[0]!;
  const spellings = spellingsOf(upstreamBase, proxyBase);
  const finder = new SpellingFinder(spellings, basePath);
  const page = (link: string, count: number) => Array.from({ length: count }, (_, id) => `{"@odata.id":"${link}/Items(${id})"}`).join(',');
  const cases: Array<[string, string]> = [
    ['', 'an empty text'],
    [page('https://elsewhere.example/x', 50), 'no spelling'],
    [page(spellings[0]!, 50), 'the target only'],
    [page(spellings[0]!, 50) + page('http://localhost:8080/odata/v4/sales', 1), 'the target on many links, then the proxy origin once, far behind the first few'],
    [page(spellings[0]!, 50) + '"/odata/v4/sales/x"', 'the target, then the quoted path once at the end'],
    [page(spellings[0]!, 2) + page('http://localhost:8080/odata/v4/sales', 1), 'a small page: every place of the anchor is looked at, the proxy origin among them'],
    [page(spellings[0]!, 2), 'a small page with one spelling: the others ruled out without a search for them'],
    ['/odata/v4/sales '.repeat(20), 'the base path on its own, in no spelling'],
    [page('https:\\/\\/api.example.com\\/odata\\/v4\\/sales', 10), 'escaped'],
  ];
  for (const [text, name] of cases) t.same(finder.occurring(text), searchEach(spellings, text), name);
});

for (const [name, upstreamBase, proxyBase, basePath] of layouts) {
  t.test(`property (${name}): the same answer as a search per spelling (fast-check)`, async (t) => {
    const spellings = spellingsOf(upstreamBase, proxyBase);
    // Long runs of one spelling push the others past the first few places the anchor is looked at.
    const piece = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...spellings, basePath || 'x', basePath.replaceAll('/', '\\/') || 'y', '"', '/', 'm', '0', '3') },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...spellings), fc.integer({ min: 1, max: 12 })).map(([spelling, times]) => `${spelling}/x,`.repeat(times)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
    );
    const finder = new SpellingFinder(spellings, basePath);
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const text = pieces.join('');
        return finder.occurring(text).join() === searchEach(spellings, text).join();
      }),
      { numRuns: 3000 },
    );
    t.pass('3000 random texts');
  });
}
