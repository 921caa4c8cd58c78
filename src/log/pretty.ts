/**
 * Log lines for a person at a terminal: one line per request, as nginx and caddy print
 * them (`GET /sales/Orders 200 15 ms upstream=200 token=lake 12.3 kB`), one short line per
 * token event, and the key facts of anything else after its message. It reads the JSON
 * lines pino writes, so every line has gone through the same redaction as the JSON output.
 * In this thread and synchronous, like pino's own destination (see logger.ts).
 */

export interface PrettyOptions {
  /** ANSI colours: on a terminal unless NO_COLOR is set. */
  color: boolean;
}

export interface LineSink {
  write(text: string): unknown;
}

/** A pino destination that writes each JSON line to out as a readable one. */
export function prettyStream(out: LineSink, options: PrettyOptions): { write(line: string): void } {
  return {
    write(line) {
      out.write(formatLogLine(line, options));
    },
  };
}

type Fields = Record<string, unknown>;

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '90' },
  20: { label: 'DEBUG', color: '34' },
  30: { label: 'INFO ', color: '32' },
  40: { label: 'WARN ', color: '33' },
  50: { label: 'ERROR', color: '31' },
  60: { label: 'FATAL', color: '41;97' },
};

/** Fields every line has, or that a formatter below has used; not repeated as key=value. */
const HEADER_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** One JSON log line (with or without its newline) as one or more readable lines, ending in a newline. */
export function formatLogLine(line: string, options: PrettyOptions): string {
  let fields: Fields;
  try {
    fields = JSON.parse(line) as Fields;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`; // not pino's: passed on as it came
  }
  const paint = options.color ? (code: string, text: string) => `\u001b[${code}m${text}\u001b[0m` : (_code: string, text: string) => text;
  const level = LEVELS[Number(fields.level)] ?? { label: String(fields.level).padEnd(5).slice(0, 5), color: '0' };
  const head = `${paint('2', clockTime(fields.time))} ${paint(level.color, level.label)} `;
  const msg = typeof fields.msg === 'string' ? fields.msg : '';
  const body =
    msg === 'request' ? accessLine(fields, paint) : typeof fields.tokenSource === 'string' && /^(token|prefetch)\b/.test(msg) ? tokenLine(fields, msg, paint) : eventLine(fields, msg, paint);
  return `${head}${body}\n`;
}

type Paint = (code: string, text: string) => string;

/** `GET /sales/Orders 200 15 ms upstream=200 token=lake 12.3 kB`, then what went wrong, if anything. */
function accessLine(fields: Fields, paint: Paint): string {
  const status = Number(fields.status);
  const parts = [`${text(fields.method)} ${text(fields.path)}`, paint(statusColor(status), String(fields.status)), formatMs(Number(fields.durationMs))];
  if (fields.upstreamStatus !== undefined) parts.push(`upstream=${text(fields.upstreamStatus)}`);
  if (fields.tokenSource !== undefined) parts.push(`token=${text(fields.tokenSource)}`);
  if (typeof fields.bytes === 'number') parts.push(formatBytes(fields.bytes));
  if (fields.user !== undefined) parts.push(`user=${text(fields.user)}`);
  if (fields.retriedWithNewToken) parts.push('retried-with-new-token');
  if (fields.resentAfterConnectionClosed) parts.push('resent-after-connection-closed');
  if (fields.aborted) parts.push(paint('33', 'aborted'));
  if (fields.worker !== undefined) parts.push(paint('2', `worker=${text(fields.worker)}`));
  const error = fields.error as Fields | undefined;
  if (error && typeof error === 'object') {
    const { code, message, cause, ...details } = error;
    const causeCode = cause && typeof cause === 'object' ? ((cause as Fields).innerCode ?? (cause as Fields).code) : undefined;
    const said = text(message);
    parts.push(`${paint(status >= 500 ? '31' : '33', text(code))} ${said}${causeCode && !said.includes(text(causeCode)) ? ` (${text(causeCode)})` : ''}`);
    for (const [key, value] of Object.entries(details)) parts.push(`${key}=${quoted(value)}`);
    parts.push(paint('2', `id=${text(fields.requestId)}`));
  }
  return parts.join(' ');
}

/** `token lake fetched: valid 60 min (IdP answered in 120 ms)`; failures with what comes next. */
function tokenLine(fields: Fields, msg: string, paint: Paint): string {
  const source = paint('1', text(fields.tokenSource));
  // "token fetched" → "token lake fetched"; "prefetch failed: …" → "token lake prefetch failed: …"
  const what = msg.startsWith('token ') ? msg.slice('token '.length) : msg;
  const facts: string[] = [];
  if (fields.result === 'ok') {
    if (typeof fields.expiresInS === 'number') facts.push(`valid ${formatSeconds(fields.expiresInS)}`);
    if (typeof fields.durationMs === 'number') facts.push(`IdP answered in ${formatMs(fields.durationMs)}`);
    if (fields.ahead) facts.push('ahead of expiry');
  } else if (typeof fields.result === 'string') {
    facts.push(`${paint('31', fields.result)} ${text(fields.error)}`);
    if (typeof fields.cachedTokenValidForMs === 'number') facts.push(`cached token valid ${formatSeconds(fields.cachedTokenValidForMs / 1000)} more`);
    if (typeof fields.retryInMs === 'number') facts.push(`next try in ${formatMs(fields.retryInMs)}`);
    if (typeof fields.failures === 'number') facts.push(`failure ${fields.failures} in a row`);
  }
  if (typeof fields.expiresAt === 'string') facts.push(`expires ${fields.expiresAt}`);
  return `token ${source} ${what}${facts.length ? `: ${facts.join('; ')}` : ''}`;
}

/** The message, then its fields as key=value; a list of problems, one per line below it. */
function eventLine(fields: Fields, msg: string, paint: Paint): string {
  const extra: string[] = [];
  let below = '';
  for (const [key, value] of Object.entries(fields)) {
    // A value the message already says (the URL in "listening on …") is not said twice.
    if (HEADER_FIELDS.has(key) || value === undefined || (typeof value === 'string' && msg.includes(value))) continue;
    if (key === 'problems' && Array.isArray(value)) {
      below = value.map((problem) => `\n    ${text(problem)}`).join('');
      continue;
    }
    extra.push(`${key}=${quoted(value)}`);
  }
  return `${msg}${extra.length ? ` ${paint('2', extra.join(' '))}` : ''}${below}`;
}

function statusColor(status: number): string {
  if (status >= 500) return '31';
  if (status >= 400) return '33';
  if (status >= 300) return '36';
  return '32';
}

/** Local wall-clock time of pino's ISO timestamp, to the millisecond. */
function clockTime(time: unknown): string {
  const date = new Date(typeof time === 'string' || typeof time === 'number' ? time : Number.NaN);
  if (Number.isNaN(date.getTime())) return '--:--:--.---';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '? ms';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 100_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.round(ms / 1000)} s`;
}

/** SI units, as curl and browsers print sizes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`;
  const [value, unit] = bytes < 1e6 ? [bytes / 1e3, 'kB'] : bytes < 1e9 ? [bytes / 1e6, 'MB'] : [bytes / 1e9, 'GB'];
  return `${value.toFixed(value < 100 ? 1 : 0)} ${unit}`;
}

function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3_600)} h`;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  // What is left is a number, boolean, bigint, symbol or function: String() spells each plainly.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects took the branch above
  return String(value);
}

/** A value as key=value wants it: bare when it has no space, else quoted; objects as compact JSON. */
function quoted(value: unknown): string {
  if (Array.isArray(value) && value.every((item) => typeof item !== 'object')) return value.join(',');
  const plain = text(value);
  return typeof value === 'string' && /[\s"]/.test(plain) ? JSON.stringify(plain) : plain;
}
