import { readFileSync } from 'node:fs';

/** What a command may touch of the outside world; cli.ts fills it from the process, tests from child processes. */
export interface CliIo {
  argv: string[];
  env: Readonly<Record<string, string | undefined>>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  cwd: string;
}

/** A mistake by the user: printed as a message, never with a stack trace. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Written in by the bundled build (npm run dist), which has no package.json beside it. */
declare const BEARER_PROXY_BUNDLED_VERSION: string | undefined;

export function packageVersion(): string {
  if (typeof BEARER_PROXY_BUNDLED_VERSION === 'string') return BEARER_PROXY_BUNDLED_VERSION;
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export function print(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`);
}
