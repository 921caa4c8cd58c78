import { Writable } from 'node:stream';
import { configSchema, type ConfigInput } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log/logger.ts';
import { createProxyServer, type ProxyServer, type ProxyServerDeps } from '../../src/proxy/server.ts';

export interface TestProxy {
  url: string;
  proxy: ProxyServer;
  /** Every log line the proxy wrote, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** Every log line as written, for grepping for secrets. */
  readonly logText: () => string;
  close(): Promise<void>;
}

/** A proxy on 127.0.0.1:0 with a config validated by the real schema and logs captured in memory. */
export async function startProxy(input: ConfigInput, deps: Partial<ProxyServerDeps> = {}, host = '127.0.0.1'): Promise<TestProxy> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const proxy = createProxyServer(configSchema.parse(input), { logger, ...deps });
  const url = await proxy.listen(0, host);
  return {
    url,
    proxy,
    get logs() {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    logText: () => lines.join('\n'),
    close: () => proxy.close(),
  };
}
