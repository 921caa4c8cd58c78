import { createServer as createHttpsServer } from 'node:https';
import t from 'tap';
import { runCli } from '../helpers/cli.ts';
import { startForwardProxy } from '../helpers/forward-proxy.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { createTestCa, issueCertificate } from '../helpers/tls.ts';

/**
 * `check --fetch-tokens` and `token` reach the IdP the way `serve` does: through the
 * source's own CA and the outbound proxy (they once built a plain fetch of their own and
 * failed with UNABLE_TO_VERIFY_LEAF_SIGNATURE where serve got a token).
 */
t.test('check --fetch-tokens and token trust a token source’s ca and go through HTTPS_PROXY, like serve', async (t) => {
  const ca = createTestCa('private IdP CA');
  const leaf = issueCertificate(ca, 'idp');
  const tokenRequests: string[] = [];
  // A JWT-shaped token, so `token` has claims to show.
  const claims = Buffer.from(JSON.stringify({ iss: 'https://private-idp.test', sub: 'svc', exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url');
  const accessToken = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${claims}.sig`;
  const idp = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    tokenRequests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: accessToken, token_type: 'Bearer', expires_in: 300 }));
  });
  const idpUrl = await listen(idp);
  t.teardown(() => closeServer(idp));

  const forwardProxy = await startForwardProxy();
  t.teardown(() => forwardProxy.close());
  const { url: forwardProxyUrl, tunnels } = forwardProxy;

  const dir = t.testdir({
    'idp-ca.pem': ca.certPem,
    'proxy.yaml': [
      'tokens:',
      `  private: { tokenUrl: "${idpUrl}/token", clientId: svc, clientSecret: "\${SECRET}", ca: idp-ca.pem }`,
      'routes:',
      '  /api: { target: "https://upstream.example", token: private }',
      '',
    ].join('\n'),
  });
  const config = `${dir}/proxy.yaml`;
  const env = { SECRET: 'private-idp-secret-7', HTTPS_PROXY: forwardProxyUrl, NO_PROXY: '' };

  const checked = await runCli(['check', '-c', config, '--fetch-tokens'], { env });
  t.equal(checked.code, 0, checked.stdout + checked.stderr);
  t.match(checked.stdout, /✓ private: bearer token, expires in 300s/);

  const shown = await runCli(['token', 'private', '-c', config], { env });
  t.equal(shown.code, 0, shown.stdout + shown.stderr);
  t.match(shown.stdout, /iss\s+https:\/\/private-idp\.test/, 'the claims of the token the private IdP issued');

  t.equal(tokenRequests.length, 2, 'both commands got their token from the private IdP');
  const idpHost = new URL(idpUrl).host;
  t.same(tunnels, [idpHost, idpHost], 'each through the outbound proxy');
  t.notMatch(checked.stdout + checked.stderr + shown.stdout + shown.stderr, /private-idp-secret-7/, 'the secret is printed nowhere');
});
