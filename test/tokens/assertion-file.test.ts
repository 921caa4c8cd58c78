import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { isProxyError } from '../../src/errors.ts';
import { readAssertionFile } from '../../src/tokens/assertion-file.ts';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl';

async function scratch(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'assertion-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function refusal(path: string): Promise<string> {
  try {
    await readAssertionFile('aks', path);
  } catch (error) {
    if (isProxyError(error) && error.code === 'TOKEN_UNAVAILABLE') return error.message;
    throw error;
  }
  throw new Error('the file was accepted');
}

t.test('the JWT the platform wrote, trimmed, and read again each time: the file is rotated while the proxy runs', async (t) => {
  const file = join(await scratch(t), 'token');
  await writeFile(file, `${JWT}\n`);
  t.equal(await readAssertionFile('aks', file), JWT);
  await writeFile(file, `${JWT}2`);
  t.equal(await readAssertionFile('aks', file), `${JWT}2`, 'the new content, not a cached one');
});

t.test('a file that is not a client assertion is refused by path, and its content is never repeated', async (t) => {
  const dir = await scratch(t);
  const cases: Array<[string, string, RegExp]> = [
    ['a private key', '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n', /does not hold a JWT .*nothing was sent/],
    ['a config file', 'clientSecret: SUPER-SECRET\n', /does not hold a JWT/],
    ['two JWTs', `${JWT}\n${JWT}`, /does not hold a JWT/],
    ['empty', '\n', /is empty/],
    ['too large', 'a'.repeat(64 * 1024 + 1), /larger than 64 KiB/],
  ];
  for (const [name, content, said] of cases) {
    const file = join(dir, name.replaceAll(' ', '-'));
    await writeFile(file, content);
    const message = await refusal(file);
    t.match(message, said, name);
    t.match(message, JSON.stringify(file), `${name}: names the path`);
    t.notMatch(message, /PRIVATE KEY|SUPER-SECRET|MIIE/, `${name}: not the content`);
  }
  t.match(await refusal(join(dir, 'not-written-yet')), /cannot be read \(ENOENT\)/, 'a file the platform has not written yet');
});
