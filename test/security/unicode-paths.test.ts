import t from 'tap';
import { ProxyError } from '../../src/errors.ts';
import { parseRequestTarget } from '../../src/routes/request-target.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startStack } from '../helpers/stack.ts';

/*
 * Unicode look-alikes of ".", "/" and "\" that a framework behind the upstream may turn
 * into them (NFKC normalisation in .NET and Java, Windows best-fit code pages), and
 * overlong or otherwise invalid UTF-8, are refused before anything is forwarded with the
 * token. Before, "．．" (full-width), "‥" and %C0%AE%C0%AE reached the upstream.
 */

const enc = (text: string) => [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** Every code point whose NFKC form contains ".", "/" or "\" (the class NFKC maps, computed rather than listed). */
function nfkcLookAlikes(): string[] {
  const found: string[] = [];
  for (let code = 0x80; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const character = String.fromCodePoint(code);
    if (/[./\\]/.test(character.normalize('NFKC'))) found.push(character);
  }
  return found;
}

/** What Windows best-fit mapping (and IDNA, for full stops) reads as ".", "/" or "\" beyond NFKC. */
const BEST_FIT = ['\u3002', '\uFF61', '\u2215', '\u2044', '\u29F8', '\u2216', '\u29F5', '\u29F9', '\u00A5', '\u20A9'];

function refusal(raw: string): string | undefined {
  try {
    parseRequestTarget(raw);
    return undefined;
  } catch (error) {
    if (error instanceof ProxyError && error.code === 'BAD_REQUEST') return error.message;
    throw error;
  }
}

/** The oracle: does the path, read the way a normalising framework reads it (decoded, NFKC, best-fit), have a "." or ".." segment? */
function readsAsDotSegment(raw: string): boolean {
  const decoded = decodeURIComponent(raw);
  const read = BEST_FIT.reduce(
    (text, character) => text.replaceAll(character, character === '\u3002' || character === '\uFF61' ? '.' : ['\u2215', '\u2044', '\u29F8'].includes(character) ? '/' : '\\'),
    decoded.normalize('NFKC'),
  );
  return read.split(/[\\/]/).some((segment) => segment === '.' || segment === '..');
}

t.test('every look-alike, alone, in pairs or beside ASCII dots and separators: refused whenever it reads as a dot segment', async (t) => {
  const alikes = [...nfkcLookAlikes(), ...BEST_FIT];
  t.ok(alikes.length > 30, `${alikes.length} look-alikes of ".", "/" and "\\" (NFKC and best-fit)`);
  const shapes = (c: string) => [c, c + c, `.${c}`, `${c}.`, `..${c}x`, `x${c}..`, `${c}..${c}`, `a${c}${c}`, `${c}${c}${c}`];
  const accepted: string[] = [];
  let dangerous = 0;
  for (const character of alikes) {
    for (const shape of shapes(character)) {
      const raw = `/api/${enc(shape)}/x`;
      if (!readsAsDotSegment(raw)) continue;
      dangerous++;
      if (refusal(raw) === undefined) accepted.push(`${raw} (U+${character.codePointAt(0)!.toString(16).toUpperCase()})`);
    }
  }
  t.ok(dangerous > 50, `${dangerous} paths read as a dot segment`);
  t.same(accepted, [], 'every one of them is refused');
});

t.test('overlong and otherwise invalid UTF-8 is refused, also when encoded twice', async (t) => {
  const invalid = [
    '%C0%AE%C0%AE',
    '%C0%AF',
    '%C1%9C',
    '%E0%80%AE%E0%80%AE',
    '%E0%80%AF',
    '%E0%81%9C',
    '%F0%80%80%AE', // overlong . / \
    '%80',
    '%BF',
    '%E2%80',
    '%F0%9F%98',
    '%ED%A0%80',
    '%F4%90%80%80',
    '%FE',
    '%FF',
    '%C3', // stray, truncated, surrogate, beyond U+10FFFF
  ];
  for (const bytes of invalid) t.ok(refusal(`/api/x${bytes}y`), `${bytes} refused`);
  for (const bytes of ['%25C0%25AE%25C0%25AE', '%25C0%25AF', '%2525C0%2525AE']) t.match(refusal(`/api/a${bytes}b`), /Dot segments/, `${bytes}: overlong once decoded again`);
});

t.test('real non-ASCII paths still pass', async (t) => {
  for (const text of ['été', '日本語', 'Ünïcödé', '¥100', 'a．b', 'a／b', '…', '😀', 'Ⅸ']) {
    t.equal(refusal(`/api/Products('${enc(text)}')`), undefined, `${text}`);
  }
});

t.test('through the proxy: look-alikes never reach the upstream', async (t) => {
  const { upstream, proxy } = await startStack(t);
  const host = new URL(proxy.url).host;
  for (const raw of [`/api/${enc('．．')}/admin`, `/api/${enc('‥')}/admin`, '/api/%C0%AE%C0%AE/admin', `/api/..${enc('∕')}admin`, `/api/..${enc('＼')}admin`, `/api/..${enc('¥')}admin`]) {
    t.equal((await rawRequest(proxy.url, `GET ${raw} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).status, 400, raw);
  }
  t.same(upstream.requests, []);
});
