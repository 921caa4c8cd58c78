import { UsageError } from './io.ts';

export interface TerminalInput extends NodeJS.ReadableStream {
  setRawMode?(mode: boolean): unknown;
}

const ENTER = new Set(['\r', '\n']);
const ERASE = new Set(['\u007f', '\b']);
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const CTRL_U = '\u0015';
const ESC = '\u001b';

/**
 * Reads one line from a terminal without echoing it. The terminal goes into raw mode
 * before the prompt is written, so nothing typed after the prompt appears is ever echoed,
 * and it leaves raw mode whatever happens. Ctrl+C cancels (exit 130, as a shell reports
 * an interrupted command); Ctrl+U clears the line; Backspace erases one character.
 */
export function readHidden(input: TerminalInput, output: NodeJS.WritableStream, prompt: string): Promise<string> {
  if (!input.setRawMode) return Promise.reject(new Error('standard input is not a terminal'));
  input.setRawMode(true);
  output.write(prompt);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (result: () => void) => {
      input.removeListener('data', onData);
      input.setRawMode!(false);
      input.pause();
      output.write('\n');
      result();
    };
    const onData = (chunk: string | Buffer) => {
      const typed = chunk.toString();
      // Arrow keys and other escape sequences arrive as one chunk: none of it is part of a password.
      if (typed.startsWith(ESC)) return;
      for (const char of typed) {
        if (ENTER.has(char) || (char === CTRL_D && text === '')) return done(() => resolve(text));
        if (char === CTRL_C) return done(() => reject(new UsageError('cancelled', 130)));
        if (ERASE.has(char)) text = [...text].slice(0, -1).join('');
        else if (char === CTRL_U) text = '';
        else if (char >= ' ') text += char;
      }
    };
    input.on('data', onData);
  });
}
