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
    let escape: EscapeState = 'none';
    const done = (result: () => void) => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.setRawMode!(false);
      input.pause();
      output.write('\n');
      result();
    };
    const onData = (chunk: string | Buffer) => {
      for (const char of chunk.toString()) {
        // Arrow keys and other escape sequences are no part of a password, and may share a read with keys typed around them.
        if (escape !== 'none' || char === ESC) {
          escape = nextEscapeState(escape, char);
          continue;
        }
        if (ENTER.has(char) || (char === CTRL_D && text === '')) return done(() => resolve(text));
        if (char === CTRL_C) return done(() => reject(new UsageError('cancelled', 130)));
        if (ERASE.has(char)) text = [...text].slice(0, -1).join('');
        else if (char === CTRL_U) text = '';
        else if (char >= ' ') text += char;
      }
      // An Esc that ends a read is the Esc key itself, not the start of a sequence.
      if (escape === 'escape') escape = 'none';
    };
    // The terminal went away (its window closed): there is no answer, and it must not stay raw.
    const onEnd = () => done(() => reject(new UsageError('standard input ended before Enter', 1)));
    input.on('data', onData);
    input.on('end', onEnd);
  });
}

/** Where a key's escape sequence stands: after Esc, inside a CSI (Esc [ … final) or an SS3 (Esc O x). */
type EscapeState = 'none' | 'escape' | 'csi' | 'ss3';

function nextEscapeState(state: EscapeState, char: string): EscapeState {
  switch (state) {
    case 'none':
      return 'escape';
    case 'escape':
      return char === '[' ? 'csi' : char === 'O' ? 'ss3' : 'none';
    case 'csi':
      // Parameters and intermediates run up to a final byte from @ to ~.
      return char >= '@' && char <= '~' ? 'none' : 'csi';
    case 'ss3':
      return 'none';
  }
}
