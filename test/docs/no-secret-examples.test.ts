import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import { generateTestKey, selfSignedCertificate } from '../helpers/keys.ts';

// The README's "No secret at all" examples are valid configs, as written.

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('### No secret at all'), readme.indexOf('### Token lifecycle'));
const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!).filter((block) => /^tokens:/m.test(block));

t.test('each token source example in the README parses with the schema', async (t) => {
  t.ok(blocks.length >= 5, `${blocks.length} examples found`);
  const clientKey = generateTestKey('ec');
  const files: Record<string, string> = {
    '/etc/bearer-proxy/client.pem': selfSignedCertificate(clientKey),
    '/etc/bearer-proxy/client-key.pem': clientKey.privateKeyPem,
    '/run/secrets/reports-key.pem': generateTestKey('rsa').privateKeyPem,
    '/run/secrets/salesforce-key.pem': generateTestKey('rsa').privateKeyPem,
  };
  const env = { AZURE_CLIENT_ID: 'c', AZURE_TENANT_ID: 't', AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token', SF_CONSUMER_KEY: 'k' };
  for (const block of blocks) {
    const firstSource = /^tokens:\n {2}([\w-]+):/m.exec(block)![1]!;
    const text = /^routes:/m.test(block) ? block : `${block}routes:\n  /x: { target: "https://api.example.com", token: ${firstSource} }\n`;
    const readFile = (path: string) => {
      const found = files[path];
      if (found === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return found;
    };
    t.doesNotThrow(() => parseConfig(text, { env, readFile, baseDir: '/' }), `the ${firstSource} example`);
  }
});
