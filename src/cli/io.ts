import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What a command may touch of the outside world; cli.ts fills it from the process, tests from child processes. */
export interface CliIo {
  argv: string[];
  env: Readonly<Record<string, string | undefined>>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  cwd: string;
  /** The script this process runs (what a `--workers` primary starts again in each worker). */
  entry?: string | undefined;
  /** The link to the parent process, when there is one (a `--workers` worker's to its primary). */
  ipc?: IpcChannel | undefined;
}

/** Messages to and from the parent process (node:cluster's process.send / 'message'). */
export interface IpcChannel {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
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

interface PackageJson {
  version: string;
  homepage?: string;
}

/** One small file read, no dependency: cheap enough for `--version`. */
function packageJson(): PackageJson {
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as PackageJson;
}

/** Written in by the bundled build (npm run dist), which has no package.json beside it. */
declare const BEARER_PROXY_BUNDLED_VERSION: string | undefined;

export function packageVersion(): string {
  if (typeof BEARER_PROXY_BUNDLED_VERSION === 'string') return BEARER_PROXY_BUNDLED_VERSION;
  return packageJson().version;
}

/** Where a README section can be read: on the project's homepage when package.json names one, else in the installed copy. */
export function docsLink(section: { anchor: string; title: string }): string {
  let homepage: string | undefined;
  try {
    homepage = packageJson().homepage;
  } catch {
    // A bundled build has no package.json beside it; the README section's name still says where to look.
  }
  if (homepage) return `${homepage.replace(/#.*$/, '')}#${section.anchor}`;
  const readme = new URL('../../README.md', import.meta.url);
  return existsSync(readme) ? `${fileURLToPath(readme)}, section "${section.title}"` : `the bearer-proxy README, section "${section.title}"`;
}

export function print(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`);
}

/**
 * A file name as it can be pasted into the shell of this platform: single quotes keep
 * spaces, $ and backslashes literal in sh and PowerShell alike, but a quote inside is
 * written '\'' in sh and '' in PowerShell (C:\Users\O'Brien\proxy.yaml on the gateway host).
 */
export function shellWord(text: string, platform: NodeJS.Platform = process.platform): string {
  if (/^[\w./:@%+=,-]+$/.test(text)) return text;
  // PowerShell also ends a quoted string at the typographic quotes ‘ ’ ‚ ‛, and takes any of them doubled as one.
  if (platform === 'win32') return `'${text.replace(/['\u2018-\u201b]/g, '$&$&')}'`;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
