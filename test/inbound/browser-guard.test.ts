import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { isProxyError } from '../../src/errors.ts';
import { refuseCrossSite, refuseRebinding } from '../../src/inbound/browser-guard.ts';

function verdict(headers: Record<string, string>, allowed: string[] = []): string {
  try {
    // Both guards, as an anonymous request meets them.
    const req = { headers } as unknown as IncomingMessage;
    refuseRebinding(req, new Set(allowed));
    refuseCrossSite(req, new Set(allowed));
    return 'allowed';
  } catch (error) {
    return isProxyError(error) ? error.code : 'crashed';
  }
}

t.test('Host: local names and IP literals pass; any other name is DNS rebinding until listed', async (t) => {
  for (const host of ['localhost:8080', 'LOCALHOST', 'localhost.', 'api.localhost:8080', '127.0.0.1:8080', '127.1.2.3', '[::1]:8080', '[::1]', '10.1.2.3:8080', '[fe80::1]:8080']) {
    t.equal(verdict({ host }), 'allowed', host);
  }
  t.equal(verdict({}), 'allowed', 'no Host at all (HTTP/1.0): no browser sends that');
  for (const host of ['attacker.example:8080', 'attacker.example', 'localhost.attacker.example', '127.0.0.1.nip.io:8080', 'mypc', 'localhostx:8080']) {
    t.equal(verdict({ host }), 'HOST_NOT_ALLOWED', host);
  }
  t.equal(verdict({ host: 'gateway-01.corp.example:8080' }, ['gateway-01.corp.example']), 'allowed', 'a name in inbound.allowedHosts');
  t.equal(verdict({ host: 'GATEWAY-01.corp.example.' }, ['gateway-01.corp.example']), 'allowed', 'in any case, with a trailing dot');
  t.equal(verdict({ host: 'gateway-02.corp.example' }, ['gateway-01.corp.example']), 'HOST_NOT_ALLOWED', 'only the names listed');
});

t.test('Sec-Fetch-Site: a page of another site is refused; typed URLs and the proxy’s own pages pass', async (t) => {
  t.equal(verdict({ host: 'localhost:8080', 'sec-fetch-site': 'cross-site' }), 'CROSS_SITE_REQUEST');
  t.equal(verdict({ host: 'localhost:8080', 'sec-fetch-site': 'same-site' }), 'CROSS_SITE_REQUEST', 'another port on localhost is another site’s page');
  t.equal(verdict({ host: 'localhost:8080', 'sec-fetch-site': 'none' }), 'allowed', 'typed into the address bar');
  t.equal(verdict({ host: 'localhost:8080', 'sec-fetch-site': 'same-origin' }), 'allowed');
});

t.test('Origin: only the proxy’s own origin or a local or listed name', async (t) => {
  t.equal(verdict({ host: 'localhost:8080', origin: 'http://localhost:8080' }), 'allowed', 'same origin');
  t.equal(verdict({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' }), 'allowed', 'same origin by IP');
  t.equal(verdict({ host: '127.0.0.1:8080', origin: 'https://attacker.example' }), 'CROSS_SITE_REQUEST');
  t.equal(verdict({ host: '10.0.0.5:8080', origin: 'http://203.0.113.9' }), 'CROSS_SITE_REQUEST', 'a page on some IP address is still another site');
  t.equal(verdict({ host: 'localhost:8080', origin: 'null' }), 'CROSS_SITE_REQUEST', 'sandboxed frames and file: pages');
  t.equal(verdict({ host: 'localhost:8080', origin: 'https://reports.corp.example' }, ['reports.corp.example']), 'allowed', 'a listed name');
});

t.test('Referer: checked like Origin, only when Fetch Metadata is absent', async (t) => {
  t.equal(verdict({ host: 'localhost:8080', referer: 'https://attacker.example/x' }), 'CROSS_SITE_REQUEST', 'an older browser on another site');
  t.equal(verdict({ host: 'localhost:8080', referer: 'http://localhost:8080/_status' }), 'allowed', 'the proxy’s own page');
  t.equal(verdict({ host: 'localhost:8080', referer: 'not a url' }), 'CROSS_SITE_REQUEST', 'unreadable');
  t.equal(verdict({ host: 'localhost:8080', referer: 'https://attacker.example/x', 'sec-fetch-site': 'same-origin' }), 'allowed', 'Fetch Metadata says more than Referer');
  t.equal(verdict({ host: 'localhost:8080', referer: 'https://reports.corp.example/r' }, ['reports.corp.example']), 'allowed', 'a listed name');
});
