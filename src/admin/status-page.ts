import { formatInstant } from '../clock.ts';
import { escapeMarkup } from '../http/escape.ts';
import { formatMs } from '../log/pretty.ts';
import type { TrafficSummary } from './route-traffic.ts';

/** What the status page shows. Built from the running proxy; holds no secret and no token by construction. */
export interface StatusModel {
  version: string;
  startedAt: number;
  now: number;
  config: {
    file: string | undefined;
    loadedAt: number;
    lastReload?: { at: number; reason: string; problems: string[] };
  };
  routes: Array<{ prefix: string; target: string; tokenSource: string; rewriteUrls: boolean }>;
  traffic: Array<{ prefix: string } & TrafficSummary>;
  trafficWindowMinutes: number;
  tokenSources: Array<{
    name: string;
    /** What kind of source it is ("managed identity (IMDS)", "client credentials (private_key_jwt)"). */
    kind?: string;
    /** empty: not fetched yet; failing: no token, and the last fetch failed. */
    state: 'empty' | 'failing' | 'valid' | 'expired';
    obtainedAt?: number;
    expiresAt?: number;
    /** From when a request makes the source fetch again: a refresh ahead of expiry, or a retry after a failure. */
    nextFetch?: { reason: 'refresh' | 'retry'; at: number };
    fetching?: boolean;
    fetches: number;
    fetchFailures: number;
    lastFailure?: { code: string; message: string; at: number };
  }>;
  /** proxy: an error code the proxy answered with; upstream: an upstream's own 5xx status, passed through. */
  errors: Array<{ code: string; origin: 'proxy' | 'upstream'; total: number; recent: number }>;
  errorWindowMinutes: number;
}

/**
 * A page an operator on the gateway host opens in a browser: plain server-rendered HTML,
 * no script, refreshed by the browser every 10 s. Every value is escaped.
 */
export function renderStatusPage(model: StatusModel): string {
  // A source not used yet counts as fine; a failing one (no token, last fetch failed) does not.
  const healthy = model.tokenSources.every((source) => source.state === 'valid' || source.state === 'empty');
  const reloadFailed = model.config.lastReload !== undefined && model.config.lastReload.problems.length > 0;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="10">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bearer-proxy status</title>
<link rel="icon" href="data:,">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; }
  table { border-collapse: collapse; min-width: 32rem; }
  th, td { text-align: left; padding: .3rem .8rem .3rem 0; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { font-weight: 600; }
  td.n, th.n { text-align: right; }
  .ok { color: #11632b; } .bad { color: #a4161a; } .muted { color: #666; }
  code { font-size: .95em; }
  nav a { margin-right: .8rem; }
  ul.problems { margin: .3rem 0 0; padding-left: 1.2rem; }
</style>
</head>
<body>
<h1>bearer-proxy <span class="muted">${escapeMarkup(model.version)}</span></h1>
<p id="summary" class="${healthy && !reloadFailed ? 'ok' : 'bad'}">${healthy ? 'All token sources are healthy.' : 'A token source has no valid token.'}${reloadFailed ? ' The last config reload failed; the previous config keeps serving.' : ''}
<span class="muted">Up ${escapeMarkup(formatDuration(model.now - model.startedAt))}.</span></p>
<nav id="links"><a href="/metrics">/metrics</a><a href="/healthz">/healthz</a><a href="/readyz">/readyz</a></nav>

<h2>Traffic <span class="muted">(last ${model.trafficWindowMinutes} min)</span></h2>
<table id="traffic">
<thead><tr><th>Route</th><th class="n">Requests</th><th class="n">Proxy errors</th><th class="n">Upstream 5xx</th><th class="n">Error rate</th><th class="n">p50</th><th class="n">p95</th></tr></thead>
<tbody>
${model.traffic.map(trafficRow).join('\n')}
</tbody>
</table>

<h2>Routes</h2>
<table id="routes">
<thead><tr><th>Prefix</th><th>Target</th><th>Token source</th><th>URL rewriting</th></tr></thead>
<tbody>
${model.routes.map((route) => `<tr><td><code>${escapeMarkup(route.prefix)}</code></td><td><code>${escapeMarkup(route.target)}</code></td><td>${escapeMarkup(route.tokenSource)}</td><td>${route.rewriteUrls ? 'on' : 'off'}</td></tr>`).join('\n')}
</tbody>
</table>

<h2>Token sources</h2>
<table id="tokens">
<thead><tr><th>Source</th><th>State</th><th>Fetched</th><th>Expires</th><th>Next fetch</th><th>Fetches (failed)</th><th>Last error</th></tr></thead>
<tbody>
${model.tokenSources.map((source) => tokenRow(source, model.now)).join('\n')}
</tbody>
</table>

<h2>Config</h2>
${configTable(model.config, model.now)}

<h2>Errors</h2>
${
  model.errors.length === 0
    ? '<p id="errors" class="ok">No error answers since start.</p>'
    : `<table id="errors">
<thead><tr><th>Answer</th><th>From</th><th class="n">Last ${model.errorWindowMinutes} min</th><th class="n">Since start</th></tr></thead>
<tbody>
${model.errors.map((error) => `<tr><td><code>${escapeMarkup(error.code)}</code></td><td>${error.origin === 'proxy' ? 'proxy' : 'upstream'}</td><td class="n">${error.recent}</td><td class="n">${error.total}</td></tr>`).join('\n')}
</tbody>
</table>`
}
</body>
</html>
`;
}

function trafficRow(route: StatusModel['traffic'][number]): string {
  const failed = route.proxyErrors + route.upstream5xx;
  const rate = route.requests === 0 ? '<span class="muted">–</span>' : `<span class="${failed > 0 ? 'bad' : 'ok'}">${formatPercent(failed / route.requests)}</span>`;
  const latency = (ms: number | undefined) => (ms === undefined ? '<span class="muted">–</span>' : `~${escapeMarkup(formatMs(ms))}`);
  return (
    `<tr><td><code>${escapeMarkup(route.prefix)}</code></td><td class="n">${route.requests}</td><td class="n">${route.proxyErrors}</td><td class="n">${route.upstream5xx}</td>` +
    `<td class="n">${rate}</td><td class="n">${latency(route.p50Ms)}</td><td class="n">${latency(route.p95Ms)}</td></tr>`
  );
}

function tokenRow(source: StatusModel['tokenSources'][number], now: number): string {
  const state = {
    valid: '<span class="ok">valid</span>',
    expired: '<span class="bad">expired</span>',
    failing: '<span class="bad">no token (fetch failed)</span>',
    empty: '<span class="muted">not fetched yet</span>',
  }[source.state];
  const fetched = source.obtainedAt === undefined ? '' : escapeMarkup(relative(source.obtainedAt - now));
  const expires = source.expiresAt === undefined ? '' : `${escapeMarkup(formatInstant(source.expiresAt))} <span class="muted">(${escapeMarkup(relative(source.expiresAt - now))})</span>`;
  const failure = source.lastFailure
    ? `<code>${escapeMarkup(source.lastFailure.code)}</code> ${escapeMarkup(relative(source.lastFailure.at - now))}: ${escapeMarkup(source.lastFailure.message)}`
    : '<span class="muted">none</span>';
  const kind = source.kind ? `<br><span class="muted">${escapeMarkup(source.kind)}</span>` : '';
  return `<tr><td>${escapeMarkup(source.name)}${kind}</td><td>${state}</td><td>${fetched}</td><td>${expires}</td><td>${nextFetch(source, now)}</td><td>${source.fetches} (${source.fetchFailures})</td><td>${failure}</td></tr>`;
}

/** Requests drive every fetch (no timers), so a due one happens on the next request. */
function nextFetch(source: StatusModel['tokenSources'][number], now: number): string {
  if (source.fetching) return 'fetching now';
  const next = source.nextFetch;
  if (!next) return '<span class="muted">on the first request</span>';
  const what = next.reason === 'refresh' ? 'refresh' : '<span class="bad">retry</span>';
  return next.at <= now ? `${what} on the next request` : `${what} ${escapeMarkup(relative(next.at - now))} <span class="muted">(${escapeMarkup(formatInstant(next.at))})</span>`;
}

function configTable(config: StatusModel['config'], now: number): string {
  const reload = config.lastReload;
  let lastReload = '<span class="muted">none since start</span>';
  if (reload) {
    const when = `${escapeMarkup(relative(reload.at - now))} (${escapeMarkup(reload.reason)})`;
    lastReload =
      reload.problems.length === 0
        ? `<span class="ok">applied</span> ${when}`
        : `<span class="bad">failed</span> ${when}: ${reload.problems.length} problem${reload.problems.length === 1 ? '' : 's'}; the previous config keeps serving` +
          `<ul class="problems">${reload.problems.map((problem) => `<li><code>${escapeMarkup(problem)}</code></li>`).join('')}</ul>`;
  }
  return `<table id="config">
<tbody>
<tr><th>File</th><td>${config.file === undefined ? '<span class="muted">none (built in)</span>' : `<code>${escapeMarkup(config.file)}</code>`}</td></tr>
<tr><th>Serving since</th><td>${escapeMarkup(formatInstant(config.loadedAt))} <span class="muted">(${escapeMarkup(relative(config.loadedAt - now))})</span></td></tr>
<tr><th>Last reload</th><td>${lastReload}</td></tr>
</tbody>
</table>`;
}

function relative(deltaMs: number): string {
  return deltaMs >= 0 ? `in ${formatDuration(deltaMs)}` : `${formatDuration(-deltaMs)} ago`;
}

export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`;
}
