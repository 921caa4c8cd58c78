import { hashPassword } from '../inbound/password.ts';
import { print, UsageError, type CliIo } from './io.ts';

/** Reads one password from stdin (a pipe or the terminal) and prints its scrypt hash for inbound.users[].passwordHash. */
export async function hashPasswordCommand(io: CliIo): Promise<number> {
  if (io.stdin.isTTY) io.stderr.write('Password (input is shown; pipe it in to avoid that): ');
  const password = (await readAll(io.stdin)).replace(/\r?\n$/, '');
  if (password.length === 0) throw new UsageError('no password on standard input: echo -n "…" | bearer-proxy hash-password', 1);
  print(io.stdout, await hashPassword(password));
  return 0;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += chunk.toString();
    // From a terminal one line is the whole answer.
    if ((stream as { isTTY?: boolean }).isTTY && text.includes('\n')) break;
  }
  return text;
}
