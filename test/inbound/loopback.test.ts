import t from 'tap';
import { isLoopbackAddress, isLoopbackHost } from '../../src/inbound/loopback.ts';

t.test('loopback addresses come from the socket', async (t) => {
  for (const address of ['127.0.0.1', '127.5.5.5', '::1', '::ffff:127.0.0.1']) t.ok(isLoopbackAddress(address), address);
  for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', '128.0.0.1', '', undefined]) t.notOk(isLoopbackAddress(address), String(address));
  for (const host of ['localhost', '127.0.0.1', '[::1]', '::1']) t.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', 'example.com', '192.168.1.1']) t.notOk(isLoopbackHost(host), host);
});
