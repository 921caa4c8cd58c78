import t from 'tap';
import { configSchema } from '../../src/config/schema.ts';
import { targetWarnings } from '../../src/config/target-warnings.ts';

function warningsFor(target: string, route: Record<string, unknown> = {}): Array<'metadata' | 'cleartext'> {
  const config = configSchema.parse({
    tokens: { t: { tokenUrl: 'https://idp.example/token', clientId: 'a', clientSecret: 'b' } },
    routes: { '/r': { target, token: 't', ...route } },
  });
  return targetWarnings(config).map((warning) => {
    if (warning.path.join('.') !== 'routes./r.target') throw new Error(`warning on ${warning.path.join('.')}`);
    return warning.message.includes('link-local or cloud metadata') ? 'metadata' : 'cleartext';
  });
}

t.test('cloud metadata and link-local targets are warned about in every spelling the URL parser turns into them', async (t) => {
  const cases: Array<[string, Array<'metadata' | 'cleartext'>]> = [
    ['http://169.254.169.254/', ['metadata', 'cleartext']],
    ['http://169.254.169.254./', ['metadata', 'cleartext']],
    ['http://2852039166/', ['metadata', 'cleartext']], // decimal
    ['http://0xA9FEA9FE/', ['metadata', 'cleartext']], // hexadecimal
    ['http://[::ffff:169.254.169.254]/', ['metadata', 'cleartext']], // IPv4-mapped
    ['https://[fe80::1]/', ['metadata']],
    ['https://metadata.google.internal./computeMetadata', ['metadata']],
    ['https://METADATA/', ['metadata']],
    ['http://[fd00:ec2::254]/', ['metadata', 'cleartext']], // AWS over IPv6
    ['http://100.100.100.200/', ['metadata', 'cleartext']], // Alibaba
  ];
  for (const [target, expected] of cases) t.same(warningsFor(target), expected, target);
});

t.test('plain http:// beyond this machine is warned about; loopback in any form and https are not', async (t) => {
  const cases: Array<[string, Array<'metadata' | 'cleartext'>]> = [
    ['http://10.0.0.5/odata', ['cleartext']],
    ['http://api.corp.example/', ['cleartext']],
    ['http://localhost:3000/', []],
    ['http://api.localhost/', []],
    ['http://127.1/', []],
    ['http://0177.0.0.1/', []], // octal 127.0.0.1
    ['http://[::1]/', []],
    ['http://[::ffff:127.0.0.1]/', []],
    ['https://api.example.com/', []],
  ];
  for (const [target, expected] of cases) t.same(warningsFor(target), expected, target);
});

t.test('allowInsecure: true on the route silences the clear-text warning only', async (t) => {
  t.same(warningsFor('http://10.0.0.5/', { allowInsecure: true }), []);
  t.same(warningsFor('http://169.254.169.254/', { allowInsecure: true }), ['metadata'], 'a metadata address is still named');
});
