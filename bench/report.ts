export interface Row {
  scenario: string;
  via: string;
  reqPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  mbPerSec?: number;
  /** Proxy RSS during the phase: peak, and growth over the phase's start when it matters. */
  rss?: { peakMb: number; growthMb?: number };
  /** Against the scenario's reference row (direct, or rewriteUrls off). */
  ratio?: number;
  note?: string;
}

const COLUMNS = ['scenario', 'via', 'req/s', 'p50 ms', 'p99 ms', 'MB/s', 'proxy RSS MB', 'ratio', 'note'] as const;

/** A Markdown table, so the same text reads in a terminal and pastes into RESULTS.md. */
export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map((row) => [
    row.scenario,
    row.via,
    fixed(row.reqPerSec, 0),
    fixed(row.p50Ms, 3),
    fixed(row.p99Ms, 3),
    fixed(row.mbPerSec, 1),
    row.rss ? `${row.rss.peakMb.toFixed(1)}${row.rss.growthMb === undefined ? '' : ` (+${row.rss.growthMb.toFixed(1)})`}` : '',
    row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`,
    row.note ?? '',
  ]);
  const widths = COLUMNS.map((title, index) => Math.max(title.length, ...cells.map((line) => line[index]!.length)));
  const line = (values: readonly string[]): string => `| ${values.map((value, index) => value.padEnd(widths[index]!)).join(' | ')} |`;
  return [line(COLUMNS), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? '' : value.toFixed(digits);
}

export interface Verdict {
  id: string;
  title: string;
  /** undefined: could not be measured (e.g. a comparator is missing). */
  pass: boolean | undefined;
  detail: string;
}

export function formatVerdicts(verdicts: readonly Verdict[]): string {
  return verdicts.map((v) => `${v.pass === undefined ? 'SKIP' : v.pass ? 'PASS' : 'FAIL'} ${v.id} ${v.title}: ${v.detail}`).join('\n');
}

/** Builds a verdict from a measured value and a threshold, with the numbers in the detail line. */
export function atLeast(id: string, title: string, measured: number | undefined, threshold: number, unit = '×'): Verdict {
  if (measured === undefined || Number.isNaN(measured)) return { id, title, pass: undefined, detail: 'not measured' };
  return { id, title, pass: measured >= threshold, detail: `${measured.toFixed(2)}${unit} (target ≥ ${threshold}${unit})` };
}

export function below(id: string, title: string, measured: number | undefined, threshold: number, unit: string, digits = 1): Verdict {
  if (measured === undefined || Number.isNaN(measured)) return { id, title, pass: undefined, detail: 'not measured' };
  return { id, title, pass: measured < threshold, detail: `${measured.toFixed(digits)}${unit} (target < ${threshold}${unit})` };
}
