import t from 'tap';
import { runCli } from '../helpers/cli.ts';

t.test('demo serves data through the proxy with a token the service verified', async (t) => {
  const result = await runCli(['demo', '--once', '--port', '0']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /✓ GET http:\/\/127\.0\.0\.1:\d+\/odata\/People without the proxy → 401/);
  t.match(result.stdout, /✓ GET http:\/\/localhost:\d+\/demo\/People → 200/);
  t.match(result.stdout, /✓ @odata\.nextLink → http:\/\/localhost:\d+\/demo\/People\?/);
  t.match(result.stdout, /✓ followed every page: \d+ people in \d+ pages, 1 token request at the issuer/);
});
