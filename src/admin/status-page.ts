import { formatInstant } from '../clock.ts';
import { escapeMarkup } from '../http/escape.ts';

/** What the status page shows. Built from the running proxy; holds no secret and no token by construction. */
export interface StatusModel {
  version: string;
  startedAt: number;
  now: number;
  routes: Array<{ prefix: string; target: string; tokenSource: string; rewriteUrls: boolean }>;
  tokenSources: Array<{
    name: string;
    /** What kind of source it is ("managed identity (IMDS)", "client credentials (private_key_jwt)"). */
    kind?: string;
    /** empty: not fetched yet; failing: no token, and the last fetch failed. */
    state: 'empty' | 'failing' | 'valid' | 'expired';
    expiresAt?: number;
    fetches: number;
    fetchFailures: number;
    lastFailure?: { code: string; message: string; at: number };
  }>;
  errors: Array<{ code: string; total: number; recent: number }>;
  errorWindowMinutes: number;
}

/**
 * A page an operator on the gateway host opens in a browser: plain server-rendered HTML,
 * no script, refreshed by the browser every 10 s. Every value is escaped.
 */
export function renderStatusPage(model: StatusModel): string {
  // A source not used yet counts as fine; a failing one (no token, last fetch failed) does not.
  const healthy = model.tokenSources.every((source) => source.state === 'valid' || source.state === 'empty');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="10">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bearer-proxy status</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; }
  table { border-collapse: collapse; min-width: 32rem; }
  th, td { text-align: left; padding: .3rem .8rem .3rem 0; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { font-weight: 600; }
  .ok { color: #11632b; } .bad { color: #a4161a; } .muted { color: #666; }
  code { font-size: .95em; }
</style>
</head>
<body>
<h1>bearer-proxy <span class="muted">${escapeMarkup(model.version)}</span></h1>
<p id="summary" class="${healthy ? 'ok' : 'bad'}">${healthy ? 'All token sources are healthy.' : 'A token source has no valid token.'}
<span class="muted">Up ${escapeMarkup(formatDuration(model.now - model.startedAt))}.</span></p>

<h2>Routes</h2>
<table id="routes">
<thead><tr><th>Prefix</th><th>Target</th><th>Token source</th><th>URL rewriting</th></tr></thead>
<tbody>
${model.routes.map((route) => `<tr><td><code>${escapeMarkup(route.prefix)}</code></td><td><code>${escapeMarkup(route.target)}</code></td><td>${escapeMarkup(route.tokenSource)}</td><td>${route.rewriteUrls ? 'on' : 'off'}</td></tr>`).join('\n')}
</tbody>
</table>

<h2>Token sources</h2>
<table id="tokens">
<thead><tr><th>Source</th><th>State</th><th>Expires</th><th>Fetches (failed)</th><th>Last error</th></tr></thead>
<tbody>
${model.tokenSources.map((source) => tokenRow(source, model.now)).join('\n')}
</tbody>
</table>

<h2>Errors</h2>
${
  model.errors.length === 0
    ? '<p id="errors" class="ok">No error answers since start.</p>'
    : `<table id="errors">
<thead><tr><th>Code</th><th>Last ${model.errorWindowMinutes} min</th><th>Since start</th></tr></thead>
<tbody>
${model.errors.map((error) => `<tr><td><code>${escapeMarkup(error.code)}</code></td><td>${error.recent}</td><td>${error.total}</td></tr>`).join('\n')}
</tbody>
</table>`
}
</body>
</html>
`;
}

function tokenRow(source: StatusModel['tokenSources'][number], now: number): string {
  const state = {
    valid: '<span class="ok">valid</span>',
    expired: '<span class="bad">expired</span>',
    failing: '<span class="bad">no token (fetch failed)</span>',
    empty: '<span class="muted">not fetched yet</span>',
  }[source.state];
  const expires = source.expiresAt === undefined ? '' : `${escapeMarkup(formatInstant(source.expiresAt))} <span class="muted">(${escapeMarkup(relative(source.expiresAt - now))})</span>`;
  const failure = source.lastFailure
    ? `<code>${escapeMarkup(source.lastFailure.code)}</code> ${escapeMarkup(relative(source.lastFailure.at - now))}: ${escapeMarkup(source.lastFailure.message)}`
    : '<span class="muted">none</span>';
  const kind = source.kind ? `<br><span class="muted">${escapeMarkup(source.kind)}</span>` : '';
  return `<tr><td>${escapeMarkup(source.name)}${kind}</td><td>${state}</td><td>${expires}</td><td>${source.fetches} (${source.fetchFailures})</td><td>${failure}</td></tr>`;
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
