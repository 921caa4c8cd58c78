import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { TestIdp } from './idp.ts';

export interface CapServer {
  /** http://127.0.0.1:port; the services are at /odata/v4/sales and /odata/v2/sales. */
  url: string;
  /** What the server wrote to stderr, for a failing test's message. */
  stderr: () => string;
  close(): Promise<void>;
}

const FIXTURE = fileURLToPath(new URL('../fixtures/cap/', import.meta.url));

/**
 * A real third-party OData server: SAP CAP (@sap/cds 9) serving the fixture's Sales
 * service as OData V4 and, through @cap-js-community/odata-v2-adapter, V2, on an in-memory
 * SQLite database (sql.js, SQLite built as WebAssembly: no native addon to compile) filled
 * from the fixture's CSV files. It accepts only bearer JWTs from the given IdP.
 * A child process of plain JavaScript, started on a free port.
 */
export async function startCap(idp: TestIdp): Promise<CapServer> {
  const child = spawn(process.execPath, ['start.js'], {
    cwd: FIXTURE,
    env: { ...process.env, NODE_ENV: 'development', BEARER_JWKS_URL: idp.jwksUrl, BEARER_ISSUER: idp.issuer, BEARER_AUDIENCE: idp.audience },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = once(child, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const line = /^\{"port":(\d+)\}$/m.exec(stdout);
      if (line) resolve(Number(line[1]));
    });
    void exited.then(([code]) => reject(new Error(`CAP exited (${String(code)}) before it listened:\n${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
