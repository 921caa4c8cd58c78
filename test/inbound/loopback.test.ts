import t from 'tap';
import { isLoopbackAddress, isLoopbackHost } from '../../src/inbound/loopback.ts';

t.test('isLoopbackAddress: the socket’s address', async (t) => {
  const cases: Array<[string | undefined, boolean]> = [
    ['127.0.0.1', true],
    ['127.5.5.5', true],
    ['127.255.255.254', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:127.1.2.3', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['192.168.1.10', false],
    ['128.0.0.1', false],
    ['12.7.0.0', false],
    ['0.0.0.0', false],
    ['::', false],
    ['::2', false],
    ['fe80::1', false],
    ['0:0:0:0:0:0:0:2', false],
    ['', false],
    [undefined, false],
  ];
  for (const [address, expected] of cases) t.equal(isLoopbackAddress(address), expected, String(address));
});

t.test('isLoopbackHost: a listen address or host name', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['localhost', true],
    ['127.0.0.1', true],
    ['127.0.0.2', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['[::]', false],
    ['example.com', false],
    ['localhost.example.com', false],
    ['192.168.1.1', false],
  ];
  for (const [host, expected] of cases) t.equal(isLoopbackHost(host), expected, host);
});
