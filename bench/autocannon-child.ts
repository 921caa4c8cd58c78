/**
 * autocannon in a process of its own, for machines without wrk: in the runner it would
 * share an event loop (and, pinned, a CPU budget) with RSS sampling and the other
 * scenarios' clients. argv[2] is the JSON options; prints one BENCH_RESULT line.
 * Latencies come from the per-response event (float ms from hrtime): autocannon's own
 * histogram has whole-millisecond resolution.
 */
import autocannon from 'autocannon';

interface ChildOptions {
  url: string;
  connections: number;
  durationSec: number;
  headers: Record<string, string>;
}

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

function main(): void {
  const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const instance = autocannon({ url: options.url, connections: options.connections, duration: options.durationSec, headers: options.headers, timeout: 10 }, (error, result) => {
    if (error) throw error;
    const sorted = latencies.subarray(0, count).sort();
    const line = {
      requests: result['2xx'],
      seconds: result.duration,
      bytes: result.throughput.total,
      failures: result.errors + result.timeouts + result.non2xx,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
    };
    process.stdout.write(`BENCH_RESULT ${JSON.stringify(line)}\n`);
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode < 200 || statusCode >= 300) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = responseTime;
  });
}

main();
