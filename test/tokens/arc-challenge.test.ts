import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { isProxyError } from '../../src/errors.ts';
import { createScrub } from '../../src/http/scrub.ts';
import { ARC_KEY_FILE_LIMIT, readArcChallengeKey } from '../../src/tokens/arc-challenge.ts';

/** The agent's key directory, and a secret file beside it that no challenge may make the proxy read. */
async function arcDirectory(t: Test): Promise<{ directory: string; outside: string }> {
  const root = await mkdtemp(join(tmpdir(), 'arc-challenge-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const directory = join(root, 'tokens');
  await mkdir(directory);
  const outside = join(root, 'elsewhere.key');
  await writeFile(outside, 'OUTSIDE-SECRET');
  return { directory, outside };
}

const scrub = createScrub([]);

async function refusal(challenge: string | null, directory: string): Promise<string> {
  try {
    await readArcChallengeKey('arc', challenge, directory, scrub);
  } catch (error) {
    if (isProxyError(error) && error.code === 'TOKEN_FETCH_FAILED') return error.message;
    throw error;
  }
  throw new Error('the challenge was accepted');
}

t.test("the key file the challenge names, in the agent's directory, is read and trimmed", async (t) => {
  const { directory } = await arcDirectory(t);
  await writeFile(join(directory, 'abc.key'), 'the-key-value\n');
  t.equal(await readArcChallengeKey('arc', `Basic realm=${join(directory, 'abc.key')}`, directory, scrub), 'the-key-value');
  t.equal(await readArcChallengeKey('arc', `basic realm="${join(directory, 'abc.key')}"`, directory, scrub), 'the-key-value', 'quoted, any case');
});

t.test('a challenge naming anything but a .key file in that directory is refused before any file is opened', async (t) => {
  const { directory, outside } = await arcDirectory(t);
  await writeFile(join(directory, 'notes.txt'), 'TXT-SECRET');
  const cases: Array<[string, string]> = [
    ['outside the directory', outside],
    ['climbing out of it', join(directory, '..', 'elsewhere.key')],
    ['not a .key file', join(directory, 'notes.txt')],
    ['a relative path', 'elsewhere.key'],
  ];
  for (const [name, realm] of cases) {
    const message = await refusal(`Basic realm=${realm}`, directory);
    t.match(message, 'which is not a .key file in', `${name}: refused`);
    t.notMatch(message, /SECRET/, `${name}: nothing of any file in the message`);
  }
});

t.test('a missing, odd, empty, oversized or unreadable challenge is a clear refusal', async (t) => {
  const { directory } = await arcDirectory(t);
  await writeFile(join(directory, 'empty.key'), '  \n');
  await writeFile(join(directory, 'big.key'), 'k'.repeat(ARC_KEY_FILE_LIMIT + 1));
  t.match(await refusal(null, directory), 'is missing (a 401 without WWW-Authenticate)');
  t.match(await refusal('Digest realm=x', directory), 'is not Basic realm=<key file> (Digest realm=x)');
  t.match(await refusal(`Basic realm=${join(directory, 'empty.key')}`, directory), 'key file is empty');
  t.match(await refusal(`Basic realm=${join(directory, 'big.key')}`, directory), `key file is larger than ${ARC_KEY_FILE_LIMIT} bytes`);
  t.match(await refusal(`Basic realm=${join(directory, 'gone.key')}`, directory), /key file cannot be read \(ENOENT; the proxy's user must be allowed to read/);
});
