import fc from 'fast-check';
import t from 'tap';
import { ProxyError } from '../../src/errors.ts';
import { parseRequestTarget, type RequestTarget } from '../../src/routes/request-target.ts';

/**
 * Fuzzing parseRequestTarget: it either returns the path and query, split at the first
 * "?", or throws a ProxyError BAD_REQUEST; and whatever it accepts has no "." or ".."
 * segment after up to three rounds of percent-decoding, with "\" taken as a separator.
 */

/**
 * Percent-decoding as a lenient server does it: every %XX becomes its byte (here: the
 * character with that code), whatever the bytes spell in UTF-8; anything else stays.
 * Dots and separators are ASCII, so this finds every "." and ".." a UTF-8 decoder would.
 */
const decodeOnce = (text: string): string => text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** The first of the path and its (up to) three decodings that has a "." or ".." segment. */
function dotSegmentIn(path: string): string | undefined {
  let current = path;
  for (let round = 0; round <= 3; round++) {
    if (current.split(/[\\/]/).some((part) => part === '.' || part === '..')) return current;
    current = decodeOnce(current);
  }
  return undefined;
}

type Outcome = { accepted: RequestTarget } | { refused: ProxyError };

function parseChecked(raw: string): Outcome {
  let accepted: RequestTarget;
  try {
    accepted = parseRequestTarget(raw);
  } catch (error) {
    if (!(error instanceof ProxyError)) throw new Error(`${JSON.stringify(raw)}: threw ${String(error)} instead of a ProxyError`, { cause: error });
    if (error.code !== 'BAD_REQUEST' || error.status !== 400) throw new Error(`${JSON.stringify(raw)}: ProxyError ${error.code} (${error.status}) instead of BAD_REQUEST`, { cause: error });
    return { refused: error };
  }
  const { path, search } = accepted;
  if (typeof path !== 'string' || typeof search !== 'string') throw new Error(`${JSON.stringify(raw)}: returned ${JSON.stringify(accepted)}`);
  if (path + search !== raw) throw new Error(`${JSON.stringify(raw)}: path + search is ${JSON.stringify(path + search)}, not the target as sent`);
  if (path.includes('?')) throw new Error(`${JSON.stringify(raw)}: the path ${JSON.stringify(path)} still has a "?"`);
  if (search !== '' && !search.startsWith('?')) throw new Error(`${JSON.stringify(raw)}: search ${JSON.stringify(search)} does not start with "?"`);
  if (!path.startsWith('/') || path.startsWith('//')) throw new Error(`${JSON.stringify(raw)}: accepted a path that is not origin-form: ${JSON.stringify(path)}`);
  const dots = dotSegmentIn(path);
  if (dots !== undefined) throw new Error(`${JSON.stringify(raw)}: accepted, yet decodes to ${JSON.stringify(dots)} with a dot segment`);
  return { accepted };
}

const PIECES = [
  '/',
  '/',
  '/',
  '//',
  '.',
  '..',
  '...',
  '%2e',
  '%2E',
  '%2e%2e',
  '%2E%2e',
  '.%2e',
  '%2e.',
  '%252e',
  '%252E',
  '%25252e',
  '%2525',
  '%25',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '%252f',
  '%255c',
  '\\',
  '%00',
  '\0',
  '%',
  '%2',
  '%zz',
  '%g0',
  '%FF',
  '%C0%AE',
  '%E2%80%A4',
  '%EF%BC%8E',
  '．',
  'é',
  '😀',
  '\uD800',
  '?',
  '?',
  '#',
  '&',
  '=',
  'a',
  'api',
  'x.y',
  '$metadata',
  "('a')",
  '%32',
  '%65',
  '%45',
  '%252',
  '%3F',
  '%23',
  ' ',
  '\t',
  '\r',
  '\n',
  ';',
  ':',
  '@',
  '+',
];

const target = fc.oneof(
  { arbitrary: fc.array(fc.constantFrom(...PIECES), { maxLength: 14 }).map((parts) => `/${parts.join('')}`), weight: 6 },
  { arbitrary: fc.array(fc.constantFrom(...PIECES), { maxLength: 14 }).map((parts) => parts.join('')), weight: 1 },
  { arbitrary: fc.tuple(fc.constantFrom('', 'http://evil.example', 'HTTP://x', '//x', '*', 'x:443', 'mailto:a'), fc.string({ maxLength: 10 })).map(([a, b]) => a + b), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((text) => `/${text}`), weight: 2 },
  { arbitrary: fc.webPath(), weight: 1 },
);

t.test('a path and query, or a ProxyError BAD_REQUEST; nothing accepted decodes to a dot segment', async (t) => {
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(target, (raw) => {
      if ('accepted' in parseChecked(raw)) accepted++;
      else refused++;
    }),
    { numRuns: 3000 },
  );
  t.ok(accepted > 0 && refused > 0, `${accepted} accepted, ${refused} refused`);
});

t.test('dot segments hidden behind one to three encodings are refused wherever they sit', async (t) => {
  const dot = fc.constantFrom('.', '%2e', '%2E', '%252e', '%252E', '%25252e', '%25252E');
  const dotSegment = fc.oneof(
    dot,
    fc.tuple(dot, dot).map(([a, b]) => a + b),
  );
  const separator = fc.constantFrom('/', '%2f', '%2F', '%5c', '%5C', '\\', '%252f', '%255c');
  const word = fc.constantFrom('a', 'api', 'x.y', '%41', 'é', '...');
  fc.assert(
    fc.property(
      fc.array(word, { maxLength: 3 }),
      dotSegment,
      separator,
      separator,
      fc.array(word, { maxLength: 3 }),
      fc.constantFrom('', '?q=1', '?a=../b'),
      (before, dots, sepBefore, sepAfter, after, query) => {
        const raw = `/api${before.map((part) => `/${part}`).join('')}${sepBefore}${dots}${after.length ? sepAfter + after.join('/') : ''}${query}`;
        const outcome = parseChecked(raw);
        if ('accepted' in outcome) throw new Error(`${JSON.stringify(raw)} was accepted`);
        if (!outcome.refused.message.startsWith('Dot segments')) throw new Error(`${JSON.stringify(raw)} refused for another reason: ${outcome.refused.message}`);
      },
    ),
    { numRuns: 1000 },
  );
  t.pass('all refused');
});

// --- bugs fuzzing found, kept as regression tests -----------------------------------------

t.test('found by fuzzing: an invalid UTF-8 byte in a segment does not hide a twice-encoded dot segment', async (t) => {
  // Metamorphic: "x%2f<rest>" refused for its dots is still refused as "%FF%2f<rest>"; x and
  // %FF are both ordinary segment bytes, and the encoded "/" keeps them out of the dots' part.
  const piece = fc.constantFrom('%2f', '%5c', '%252', '%25', '%32', '%65', '%45', '%2e', '.', 'a');
  const result = fc.check(
    fc.property(
      fc.array(piece, { minLength: 1, maxLength: 10 }).map((parts) => parts.join('')),
      (segment) => {
        const plain = parseChecked(`/api/x%2f${segment}`);
        fc.pre('refused' in plain && plain.refused.message.startsWith('Dot segments'));
        return 'refused' in parseChecked(`/api/%FF%2f${segment}`);
      },
    ),
    { numRuns: 3000 },
  );
  t.notOk(result.failed, `still refused with %FF for x${result.counterexample ? `; counterexample: /api/%FF%2f${result.counterexample[0]} is accepted` : ''}`);
  // The exact counterexample, independent of the seed.
  const raw = '/api/%FF%2f%252%65%252%65';
  t.ok('refused' in parseOutcome(raw), `${raw} (lenient decoding: "\\xFF/%2e%2e", then "\\xFF/..") is refused`);
});

t.test('found by fuzzing: a ".." segment followed by "#" is refused, since URL parsers drop the fragment first', async (t) => {
  for (const raw of ['/api/..#x', '/api/%2e%2e#', '/api/x/.%2E#/y']) {
    const path = new URL(raw, 'http://upstream.example').pathname;
    t.ok('refused' in parseOutcome(raw), `${raw} is refused (WHATWG URL resolves it to ${path})`);
  }
});

function parseOutcome(raw: string): Outcome {
  try {
    return { accepted: parseRequestTarget(raw) };
  } catch (error) {
    return { refused: error as ProxyError };
  }
}
