import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startIdp } from '../helpers/idp.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startUpstream } from '../helpers/upstream.ts';

/**
 * The one test here that runs on real time: the issue asks for 10 s of steady traffic
 * across several expiries of real short-lived tokens, judged by the provider's counters.
 */
t.test('10 s of steady traffic across several expiries of 3 s tokens: no failures, no request waits', async (t) => {
  const idp = await startIdp({ accessTokenTtlSeconds: 3 });
  t.teardown(() => idp.close());
  // jose's default: no clock tolerance, so a token used past its exp would be refused.
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience });
  t.teardown(() => upstream.close());
  const answered = { cached: 0, refreshedAhead: 0, waited: 0, failedFast: 0 };
  const proxy = await startProxy(
    {
      tokens: {
        idp: {
          tokenUrl: idp.tokenUrl,
          clientId: idp.keyClient.clientId,
          authMethod: 'private_key_jwt',
          privateKey: idp.keyClient.keys.ec.privateKeyPem,
          keyId: idp.keyClient.keys.ec.kid,
          allowInsecure: true,
          prefetch: true,
          // JWT exp is whole seconds, so a token can be up to 1 s shorter-lived than expires_in
          // suggests; renewing at half its life keeps a margin for that.
          refreshAhead: 0.5,
        },
      },
      routes: { '/api': { target: upstream.url, token: 'idp' } },
    },
    { onTokenDemand: (outcome) => void answered[outcome]++ },
  );
  t.teardown(() => proxy.close());
  t.same(await proxy.proxy.prefetch(), [], 'the token was prefetched');
  const provider = proxy.proxy.tokenProviders.get('idp')!;
  const waitedBefore = answered.waited;

  const statuses = new Map<number, number>();
  let requests = 0;
  const deadline = performance.now() + 10_000;
  const client = async () => {
    while (performance.now() < deadline) {
      const response = await fetch(`${proxy.url}/api/rows?n=${requests++}`);
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      await sleep(5);
    }
  };
  await Promise.all(Array.from({ length: 4 }, client));

  const tokensUsed = new Set(upstream.requests.map((request) => request.authorization));
  t.same([...statuses.keys()], [200], `all ${requests} requests succeeded`);
  t.ok(requests > 500, `steady traffic (${requests} requests)`);
  t.equal(answered.waited - waitedBefore, 0, 'no request waited on a token fetch');
  t.ok(answered.refreshedAhead >= 5, `renewed in the background ${answered.refreshedAhead} times`);
  t.ok(tokensUsed.size >= 5, `${tokensUsed.size} tokens were used, so traffic crossed several expiries`);
  t.equal(provider.stats.fetchFailures, 0);
  t.equal(idp.tokenRequests.length, provider.stats.fetches, 'the IdP saw exactly the fetches the provider counted');
  t.ok(
    idp.tokenRequests.every((request) => request.status === 200 && request.params.client_assertion !== undefined),
    'each fetch used private_key_jwt',
  );
});

t.test('the backoff configured for a source decides when a down IdP is tried again', async (t) => {
  let now = Date.now();
  const clock = { now: () => now };
  const idp = await startIdp();
  t.teardown(() => idp.close());
  await idp.stop();
  const proxy = await startProxy(
    {
      tokens: {
        idp: {
          tokenUrl: idp.tokenUrl,
          clientId: idp.clients.post.clientId,
          clientSecret: idp.clients.post.clientSecret,
          allowInsecure: true,
          backoff: { initial: '20s', max: '40s' },
        },
      },
      routes: { '/api': { target: 'http://127.0.0.1:9/unused', token: 'idp' } },
    },
    { clock },
  );
  t.teardown(() => proxy.close());
  const provider = proxy.proxy.tokenProviders.get('idp')!;
  const retryAfter = async () => {
    const response = await fetch(`${proxy.url}/api/x`);
    await response.arrayBuffer();
    t.equal(response.status, 503);
    return Number(response.headers.get('retry-after'));
  };

  await retryAfter(); // the first attempt fails
  const afterFirst = await retryAfter();
  t.ok(afterFirst >= 10 && afterFirst <= 20, `Retry-After ${afterFirst} s: within the first step of 10–20 s`);
  now += 9_000;
  await retryAfter();
  t.equal(provider.stats.fetches, 1, 'no second attempt inside the first step');
  now += 11_000;
  await retryAfter();
  t.equal(provider.stats.fetches, 2, 'the second attempt once the step has passed');
  const afterSecond = await retryAfter();
  t.ok(afterSecond >= 20 && afterSecond <= 40, `Retry-After ${afterSecond} s: the doubled step, capped at 40 s`);
});
