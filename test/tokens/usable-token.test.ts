import t from 'tap';
import { isProxyError } from '../../src/errors.ts';
import { refuseUnusableToken, unsupportedTokenType } from '../../src/tokens/usable-token.ts';

const SECRET_PART = 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0';

function refusal(token: { access_token: string; token_type: string }): { code: string; message: string } | undefined {
  try {
    refuseUnusableToken('sales', token);
    return undefined;
  } catch (error) {
    if (!isProxyError(error)) throw error;
    return { code: error.code, message: error.message };
  }
}

t.test('a Bearer token of visible ASCII is used, whatever the case of its type', async (t) => {
  for (const type of ['Bearer', 'bearer', 'BEARER']) t.equal(refusal({ access_token: `${SECRET_PART}~+/=_-`, token_type: type }), undefined, type);
});

t.test('a token a header cannot carry is refused as TOKEN_FETCH_FAILED, saying why, without the token', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['CR/LF', `${SECRET_PART}\r\nX-Injected: 1`, 'CR/LF'],
    ['a space', `${SECRET_PART} more`, 'spaces'],
    ['a tab', `${SECRET_PART}\tmore`, 'spaces'],
    ['NUL', `${SECRET_PART}\0`, 'control characters'],
    ['non-ASCII', `${SECRET_PART}é`, 'non-ASCII characters'],
    ['empty', '', 'it contains'],
  ];
  for (const [name, value, said] of cases) {
    const refused = refusal({ access_token: value, token_type: 'Bearer' });
    t.equal(refused?.code, 'TOKEN_FETCH_FAILED', `${name}: refused`);
    t.match(refused?.message, said, `${name}: says ${said}`);
    t.notMatch(refused?.message, SECRET_PART, `${name}: the token is not in the message`);
  }
  t.match(refusal({ access_token: `${SECRET_PART} \r\né`, token_type: 'Bearer' })?.message, 'it contains spaces, CR/LF, non-ASCII characters);', 'every kind found is named once, in the order found');
});

t.test('another token type is refused, its name shown printable and bounded', async (t) => {
  t.match(refusal({ access_token: SECRET_PART, token_type: 'DPoP' }), { code: 'TOKEN_FETCH_FAILED', message: /type "DPoP".*Bearer tokens only/ });
  const odd = unsupportedTokenType('sales', `pop\r\n${'x'.repeat(200)}`);
  t.match(odd.message, /type "pop\?\?x+…?"/, 'control characters shown as ?');
  t.ok(odd.message.length < 220, `bounded (${odd.message.length} characters)`);
  t.match(unsupportedTokenType('sales', undefined).message, 'type missing', 'no token_type at all');
});
