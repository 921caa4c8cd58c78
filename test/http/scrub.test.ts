import t from 'tap';
import { basicCredentials, bound, createScrub, REDACTED } from '../../src/http/scrub.ts';

t.test('known values go in every encoding a peer may have used; the rest of the text stays', async (t) => {
  const secret = 'a+b/c d=é~!';
  const scrub = createScrub([secret, undefined, '']);
  const cases = [secret, encodeURIComponent(secret), new URLSearchParams({ x: secret }).toString().slice(2), JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64')];
  for (const form of cases) t.equal(scrub(`before ${form} after`), `before ${REDACTED} after`, form);
  t.equal(scrub('nothing secret here'), 'nothing secret here');
});

t.test('a value containing another is removed whole', async (t) => {
  t.equal(createScrub(['abcd', 'abcdefgh']).call(null, 'x abcdefgh y'), `x ${REDACTED} y`);
});

t.test('values too short to tell from words are not searched for', async (t) => {
  t.equal(createScrub(['s', 'ab']).call(null, 'invalid scopes'), 'invalid scopes');
});

t.test('whatever follows Bearer or DPoP, and Base64 user:password after Basic', async (t) => {
  const scrub = createScrub([]);
  const cases: Array<[string, string]> = [
    ['Bearer abc.def-ghi is not valid', `Bearer ${REDACTED} is not valid`],
    ['bearer:xyz', `bearer:${REDACTED}`],
    ['BEARER  "quoted-token"', `BEARER  "${REDACTED}"`],
    ['Bearer%20abc', `Bearer%20${REDACTED}`],
    ['Authorization=Bearer+abc&x=1', `Authorization=Bearer+${REDACTED}&x=1`],
    ['DPoP proof-token', `DPoP ${REDACTED}`],
    [`Basic ${Buffer.from('user:pw').toString('base64')} refused`, `Basic ${REDACTED} refused`],
    ['Basic authentication failed', 'Basic authentication failed'],
    ['client_secret_basic is not allowed', 'client_secret_basic is not allowed'],
  ];
  for (const [input, expected] of cases) t.equal(scrub(input), expected, input);
});

t.test('JWT-shaped strings go even when unknown', async (t) => {
  t.equal(createScrub([]).call(null, 'assertion eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln was replayed'), `assertion ${REDACTED} was replayed`);
});

t.test('control characters become spaces; long text is bounded after scrubbing', async (t) => {
  const scrub = createScrub(['secret-value'], 20);
  t.equal(scrub('a\r\nb\u0000c'), 'a b c');
  t.equal(scrub(`${'x'.repeat(15)}secret-value`), `${'x'.repeat(15)}[red…`, 'the secret is gone before the cut, so no prefix of it survives');
  t.equal(bound('😀😀😀', 4), '😀…', 'never half a surrogate pair');
  t.equal(bound('short', 300), 'short');
});

t.test("a value that is not text, as an IdP's JSON may send where text belongs, is written as JSON and scrubbed the same", async (t) => {
  const scrub = createScrub(['s3cr3t-value']);
  t.equal(scrub(42), '42', 'a number');
  t.equal(scrub(null), 'null');
  t.equal(scrub({ hint: 'the secret s3cr3t-value is wrong' }), `{"hint":"the secret ${REDACTED} is wrong"}`, 'an object, without the secret');
  t.equal(scrub(['a', 'b']), '["a","b"]');
  t.equal(scrub(undefined), 'undefined');
});

t.test('basicCredentials: the pair in each encoding, decoded and in Base64', async (t) => {
  const values = basicCredentials('client id', 'p-w');
  t.ok(values.includes('client+id:p%2Dw'), 'as openid-client encodes it');
  t.ok(values.includes(Buffer.from('client+id:p%2Dw').toString('base64')));
  t.ok(values.includes(Buffer.from('client id:p-w').toString('base64')), 'unencoded');
});
