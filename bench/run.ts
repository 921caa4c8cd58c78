/**
 * `npm run bench`: bearer-proxy against a direct connection, an undici minimal forwarder,
 * http-proxy 1.18 and (when installed) nginx, each its own process, in interleaved rounds;
 * medians, CPU per request from each proxy's own CPU time, RSS idle and under load.
 * Progress goes to stderr; tables and PASS/FAIL lines to stdout. A failed target is a
 * finding, not an error: the exit code is non-zero only when the bench itself breaks.
 * `npm run bench -- --help` lists the options; bench/RESULTS.md says how to read it.
 */
import { cpus, loadavg } from 'node:os';
import type { Context } from './context.ts';
import { prepare } from './environment.ts';
import { createGenerator, wrkInstalled } from './generator.ts';
import { place } from './pinning.ts';
import { profile, type ProfileScenario } from './profile.ts';
import { log, ProcessGroup, stopChildrenOnExit } from './processes.ts';
import { CLI, revisionOf, ROUTES } from './proxy.ts';
import { formatTable, formatVerdicts, type Table, type Verdict } from './report.ts';
import { moderateLatency } from './scenario-latency.ts';
import { smallJson } from './scenario-small.ts';
import { startup } from './scenario-startup.ts';
import { gzip, rewrite, stream } from './scenario-transfer.ts';
import { parseSettings, USAGE, type Settings } from './settings.ts';
import { Lineup } from './systems.ts';
import { targets, type Measured } from './targets.ts';

async function benchmark(group: ProcessGroup, settings: Settings): Promise<string> {
  const started = performance.now();
  const placement = place(settings.pin);
  log(placement.describe);
  const generatorKind = settings.generator ?? (wrkInstalled() ? 'wrk' : 'autocannon');
  if (generatorKind === 'wrk' && !wrkInstalled()) throw new Error('--generator wrk: wrk is not installed (apt-get install -y wrk)');
  const env = await prepare(group, { build: settings.build, smallUpstream: settings.upstream });
  try {
    const cli = settings.cli ?? CLI;
    const ctx: Context = {
      env,
      settings,
      placement,
      lineup: new Lineup(env, placement),
      generator: createGenerator(group, generatorKind),
      info: { key: 'info', name: 'bearer-proxy info', logLevel: 'info', cli },
      warn: { key: 'warn', name: 'bearer-proxy warn', logLevel: 'warn', cli },
      plain: { key: 'plain', name: 'bearer-proxy warn, no rewriting', logLevel: 'warn', cli, smallRoute: ROUTES.plain },
      lean: { key: 'lean', name: 'bearer-proxy lean (warn, no rewriting or forwarded headers)', logLevel: 'warn', cli, smallRoute: ROUTES.lean },
      others: [
        ...settings.others.map((other) => ({ key: `dist:${other.label}`, name: `bearer-proxy@${other.label} info`, logLevel: 'info', cli: other.cli })),
        ...settings.flagged.map((flagged) => ({ key: `dist:${flagged.label}`, name: `bearer-proxy@${flagged.label} info`, logLevel: 'info', cli, nodeArgs: flagged.nodeArgs })),
      ],
    };
    const tables: Table[] = [];
    const lines: string[] = [];
    const measured: Measured = {};
    const verdicts: Verdict[] = [];
    const has = (scenario: string): boolean => settings.scenarios.has(scenario as never);
    if (has('startup')) {
      const result = await startup(ctx);
      lines.push(...result.lines);
      verdicts.push(...result.verdicts);
      measured.idleMb = result.idleMb;
    }
    if (has('small')) {
      measured.small = await smallJson(ctx);
      tables.push(measured.small.table);
    }
    if (has('latency')) {
      const result = await moderateLatency(ctx);
      measured.latency = result.summaries;
      tables.push(result.table);
    }
    if (has('stream')) {
      const result = await stream(ctx);
      measured.stream = result.summaries;
      tables.push(result.table);
    }
    if (has('rewrite')) {
      const result = await rewrite(ctx);
      measured.rewrite = result.summaries;
      tables.push(result.table);
    }
    if (has('gzip')) {
      const result = await gzip(ctx);
      measured.gzip = result;
      if (result.table) tables.push(result.table);
    }
    verdicts.unshift(...targets(measured));

    const notes = [
      `bearer-proxy = node ${cli} serve --log-level info|warn, stdout to /dev/null (${revisionOf(cli)})` +
        ctx.others.map((other) => `; bearer-proxy@${other.key.slice(5)} = node ${[...(other.nodeArgs ?? []), other.cli].join(' ')} (${revisionOf(other.cli!)})`).join(''),
      `${placement.describe}`,
      `load: ${ctx.generator.describe(settings.connections)}, ${settings.durationSec} s phases after a ${settings.warmupSec} s warm-up, ${settings.rounds} interleaved rounds; ` +
        `small answers from the ${env.smallUpstreamKind} upstream (${env.smallUpstreamKind === 'nginx' ? 'static file' : 'bench/upstream.ts'}), large ones from bench/upstream.ts`,
      `CPU µs/req: user+system time of the proxy's processes (/proc/<pid>/stat) over the phase ÷ answered requests. range: (max − min) ÷ median of the rounds.`,
      `Node ${process.version}; ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown CPU'}); load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at the end`,
      `total bench time ${((performance.now() - started) / 1000).toFixed(0)} s`,
    ];
    return [...lines, ...(lines.length ? [''] : []), ...tables.map(formatTable).flatMap((t) => [t, '']), formatVerdicts(verdicts), '', ...notes, ''].join('\n');
  } finally {
    await env.close();
  }
}

async function main(): Promise<number> {
  const settings = parseSettings(process.argv.slice(2), process.env);
  if (settings === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const group = new ProcessGroup();
  stopChildrenOnExit(group);
  if (settings.profile) {
    const scenario = settings.profile.scenario as ProfileScenario;
    if (!['small', 'rewrite', 'stream'].includes(scenario)) throw new Error(`--scenario must be small, rewrite or stream, not "${scenario}"`);
    await profile(group, { scenario, durationSec: Math.max(settings.durationSec, 8), logLevel: settings.profile.logLevel });
    return 0;
  }
  process.stdout.write(await benchmark(group, settings));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
