/**
 * The streaming URL rewriter alone, in process: MB/s over a generated OData page with a
 * URL every ~85 bytes (the bench upstream's worst case), fed in 64 KiB chunks.
 *
 *   npx tsx bench/rewrite-speed.ts [--mb 32] [--rounds 5] [--against path/to/other/rewrite.ts]
 *
 * On a shared, loaded machine absolute numbers wander; --against loads another version of
 * src/odata/rewrite.ts (say, `git show main:src/odata/rewrite.ts > /tmp/old-rewrite.ts`)
 * and alternates the two in the same run, so their ratio is what to compare.
 * The `forwarded` page spells its links with the proxy's origin and the upstream's path,
 * as an upstream that reads X-Forwarded-Host writes them.
 */
import { parseArgs } from 'node:util';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

interface RewriterModule {
  RewriteRules: new (upstreamBase: string, proxyBase: string) => unknown;
  UrlRewriter: new (rules: never) => NodeJS.ReadWriteStream & { replacements: number };
}

const UPSTREAM = 'https://datalake.example.com/odata/v4/sales';
const PROXY = 'http://localhost:8080/sales';
const FORWARDED = 'http://localhost:8080/odata/v4/sales';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '32' }, rounds: { type: 'string', default: '5' }, against: { type: 'string' } } });
const size = Number(values.mb) * 1024 * 1024;
const rounds = Number(values.rounds);

const current = (await import('../src/odata/rewrite.ts')) as unknown as RewriterModule;
const other = values.against ? ((await import(pathToFileURL(resolve(values.against)).href)) as RewriterModule) : undefined;

const pages = { target: page(UPSTREAM, size), forwarded: page(FORWARDED, size), none: page('https://elsewhere.example/x', size) };
const results = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const [name, body] of Object.entries(pages)) {
    for (const [label, module] of [['this', current], ...(other ? [['against', other] as const] : [])] as const) {
      const key = `${name} ${label}`;
      results.set(key, [...(results.get(key) ?? []), await measure(module, body)]);
    }
  }
}
for (const name of Object.keys(pages)) {
  const mine = median(results.get(`${name} this`)!);
  const theirs = other ? median(results.get(`${name} against`)!) : undefined;
  console.log(`${name.padEnd(10)} this ${mine.toFixed(0).padStart(5)} MB/s${theirs === undefined ? '' : `   against ${theirs.toFixed(0).padStart(5)} MB/s   ratio ${(mine / theirs).toFixed(2)}×`}`);
}

async function measure(module: RewriterModule, body: Buffer): Promise<number> {
  const rules = new module.RewriteRules(UPSTREAM, PROXY);
  const chunks: Buffer[] = [];
  for (let at = 0; at < body.length; at += 64 * 1024) chunks.push(body.subarray(at, at + 64 * 1024));
  const started = performance.now();
  await pipeline(Readable.from(chunks), new module.UrlRewriter(rules as never), new Writable({ write: (_chunk, _encoding, callback) => callback() }));
  return body.length / 1024 / 1024 / ((performance.now() - started) / 1000);
}

function page(root: string, target: number): Buffer {
  const parts: string[] = [`{"@odata.context":"${root}/$metadata#Items","value":[`];
  let length = parts[0]!.length;
  for (let id = 1; length < target; id++) {
    const row =
      `${id === 1 ? '' : ','}{"@odata.id":"${root}/Items(${id})","@odata.editLink":"${root}/Items(${id})",` +
      `"Id":${id},"Name":"Item ${id}","Price":${(id % 997) + 0.99},"Category@odata.navigationLink":"${root}/Items(${id})/Category"}`;
    parts.push(row);
    length += row.length;
  }
  parts.push(`],"@odata.nextLink":"${root}/Items?$skiptoken=${parts.length}"}`);
  return Buffer.from(parts.join(''), 'latin1');
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
