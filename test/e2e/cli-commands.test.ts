import t from 'tap';
import { runCli } from '../helpers/cli.ts';

// check and serve as child processes, refusing what they must refuse.

t.test('check reports every mistake with its line and exits 1', async (t) => {
  const dir = t.testdir({
    'proxy.yaml': [
      'listen:',
      '  port: 8080',
      'tokens:',
      '  lake:',
      '    tokenUrl: https://idp.example.com/token',
      '    clientId: abc',
      '    clientSecret: ${LAKE_SECRET}',
      '    scopes: api://x/.default',
      'routes:',
      '  /sales:',
      '    target: not a url',
      '    token: lake',
      '',
    ].join('\n'),
  });
  const result = await runCli(['check', '-c', `${dir}/proxy.yaml`]);
  t.equal(result.code, 1);
  t.match(result.stderr, /proxy\.yaml:7:\d+ tokens\.lake\.clientSecret: environment variable LAKE_SECRET is not set/);
  t.match(result.stderr, /proxy\.yaml:8:\d+ tokens\.lake\.scopes: unknown key "scopes" \(did you mean "scope"\?\)/);
  t.match(result.stderr, /proxy\.yaml:11:\d+ routes\["\/sales"\]\.target: expected an absolute http/);
  t.match(result.stderr, /3 problems/);
  t.notMatch(result.stderr, /\n\s+at /);
});

t.test('serve refuses to expose anonymous access beyond loopback unless told to', async (t) => {
  const dir = t.testdir({
    'proxy.yaml':
      'inbound: { anonymous: any }\ntokens:\n  t: { tokenUrl: "https://idp.example.com/token", clientId: c, clientSecret: "${S}" }\nroutes:\n  /x: { target: "https://api.example.com", token: t }\n',
  });
  const refused = await runCli(['-c', `${dir}/proxy.yaml`, '--host', '0.0.0.0', '--port', '0'], { env: { S: 'x' } });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /anyone who can reach it could use your tokens.*--allow-anonymous-remote/);
  const badPort = await runCli(['-c', `${dir}/proxy.yaml`, '--port', 'eighty'], { env: { S: 'x' } });
  t.equal(badPort.code, 2);
  t.match(badPort.stderr, /--port must be a whole number/);
});
