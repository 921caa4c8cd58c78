/**
 * Terminal log output, in process: lines/s of access lines through the readable formatter
 * (src/log/pretty.ts) against JSON, and against pino-pretty when it is installed (it was
 * the formatter before; `npm install --no-save pino-pretty` to compare), plus the time to
 * load each formatter. Every variant writes to a sink that drops the text.
 *
 *   npx tsx bench/log-format.ts [--lines 50000] [--rounds 3]
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import pino from 'pino';

const { values } = parseArgs({ options: { lines: { type: 'string', default: '50000' }, rounds: { type: 'string', default: '3' } } });
const lines = Number(values.lines);
const rounds = Number(values.rounds);

const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });
const textSink = { write: () => true };
const access = (i: number) => ({ requestId: `r${i}`, method: 'GET', path: '/sales/Orders', route: '/sales', status: 200, durationMs: 15.23, upstreamStatus: 200, tokenSource: 'lake', bytes: 12_345 });

const loadStarted = performance.now();
const { prettyStream } = await import('../src/log/pretty.ts');
const ownLoadMs = performance.now() - loadStarted;

const variants: Array<[name: string, make: () => pino.Logger, loadMs?: number]> = [
  ['json', () => pino({ base: undefined }, sink())],
  ['pretty.ts, colour', () => pino({ base: undefined }, prettyStream(textSink, { color: true })), ownLoadMs],
];
try {
  const started = performance.now();
  const pinoPretty = createRequire(import.meta.url)('pino-pretty') as (options: object) => NodeJS.WritableStream;
  const loadMs = performance.now() - started;
  variants.push([
    'pino-pretty, colour',
    () => pino({ base: undefined }, pinoPretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true, destination: sink() }) as never),
    loadMs,
  ]);
} catch {
  console.log('pino-pretty is not installed: comparing the JSON and readable outputs only');
}

const results = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const [name, make] of variants) {
    const logger = make();
    const started = performance.now();
    for (let i = 0; i < lines; i++) logger.info(access(i), 'request');
    const seconds = (performance.now() - started) / 1000;
    results.set(name, [...(results.get(name) ?? []), lines / seconds]);
  }
}
for (const [name, , loadMs] of variants) {
  const rates = results.get(name)!.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)]!;
  console.log(`${name.padEnd(20)} ${Math.round(median).toString().padStart(8)} lines/s (median of ${rounds})${loadMs === undefined ? '' : `, loads in ${loadMs.toFixed(1)} ms`}`);
}
