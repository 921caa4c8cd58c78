// Preloaded (NODE_OPTIONS=--require) only when the smoke test runs node.exe under Wine;
// never shipped. Wine 8.0 has no TCP_KEEPALIVE socket option ("fixme:winsock:setsockopt
// Unknown IPPROTO_TCP optname 0x00000003"), which Windows has had since Vista. libuv applies
// a keep-alive requested before the connection exists when it connects, and then fails the
// connect itself (UNKNOWN), so every undici request (which asks for keep-alive at once)
// fails under Wine. Asking once connected, as Node's own http client does, works: there
// libuv's error is ignored.
'use strict';
const net = require('node:net');
const setKeepAlive = net.Socket.prototype.setKeepAlive;
net.Socket.prototype.setKeepAlive = function (enable, initialDelay) {
  if (this.connecting) {
    this.once('connect', () => setKeepAlive.call(this, enable, initialDelay));
    return this;
  }
  return setKeepAlive.call(this, enable, initialDelay);
};
