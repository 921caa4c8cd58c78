import { hashPassword } from '../inbound/password.ts';
import { print, UsageError, type CliIo } from './io.ts';
import { readHidden } from './prompt.ts';

/**
 * Prints the scrypt hash of one password for inbound.users[].passwordHash. On a terminal
 * it asks twice without echo; otherwise it reads standard input (a file or a pipe from a
 * secret store), so the password never has to be typed on a command line, where the
 * shell's history would keep it.
 */
export async function hashPasswordCommand(io: CliIo): Promise<number> {
  const password = io.stdin.isTTY ? await askTwice(io) : (await readAll(io.stdin)).replace(/\r?\n$/, '');
  if (password.length === 0) {
    throw new UsageError(
      io.stdin.isTTY
        ? 'empty password: nothing to hash'
        : 'no password on standard input: run bearer-proxy hash-password in a terminal to be asked for it, or redirect a file (bearer-proxy hash-password < password.txt)',
      1,
    );
  }
  print(io.stdout, await hashPassword(password));
  return 0;
}

async function askTwice(io: CliIo): Promise<string> {
  const first = await readHidden(io.stdin, io.stderr, 'Password (not shown): ');
  if (first.length === 0) return first;
  const second = await readHidden(io.stdin, io.stderr, 'Same password again: ');
  if (second !== first) throw new UsageError('the two passwords differ: nothing was hashed; run it again', 1);
  return first;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  // Decoded once at the end: a UTF-8 character may be split across two chunks.
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
