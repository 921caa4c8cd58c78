/** Markdown tables and PASS/FAIL lines, so the same text reads in a terminal and pastes into RESULTS.md. */

export interface Table {
  title: string;
  columns: readonly string[];
  rows: ReadonlyArray<readonly string[]>;
}

export function formatTable(table: Table): string {
  const widths = table.columns.map((title, index) => Math.max(title.length, ...table.rows.map((row) => (row[index] ?? '').length)));
  const line = (values: readonly string[]): string => `| ${widths.map((width, index) => (values[index] ?? '').padEnd(width)).join(' | ')} |`;
  return [`### ${table.title}`, '', line(table.columns), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...table.rows.map(line)].join('\n');
}

/** A number for a table cell; blank when not measured. */
export function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? '' : value.toFixed(digits);
}

export function times(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '' : `${value.toFixed(2)}×`;
}

export interface Verdict {
  id: string;
  title: string;
  /** undefined: could not be measured (a comparator or a feature is missing); 'info': measured, no target. */
  pass: boolean | undefined | 'info';
  detail: string;
}

export function formatVerdicts(verdicts: readonly Verdict[]): string {
  const word = (pass: Verdict['pass']): string => (pass === 'info' ? 'INFO' : pass === undefined ? 'SKIP' : pass ? 'PASS' : 'FAIL');
  return verdicts.map((v) => `${word(v.pass)} ${v.id} ${v.title}: ${v.detail}`).join('\n');
}

const NOT_MEASURED = (id: string, title: string, why = 'not measured'): Verdict => ({ id, title, pass: undefined, detail: why });

/** measured ≥ threshold, with the numbers in the detail line. */
export function atLeast(id: string, title: string, measured: number | undefined, threshold: number, unit = '×', digits = 2): Verdict {
  if (measured === undefined || Number.isNaN(measured)) return NOT_MEASURED(id, title);
  return { id, title, pass: measured >= threshold, detail: `${measured.toFixed(digits)}${unit} (target ≥ ${threshold}${unit})` };
}

/** measured ≤ threshold. */
export function atMost(id: string, title: string, measured: number | undefined, threshold: number, unit: string, digits = 1): Verdict {
  if (measured === undefined || Number.isNaN(measured)) return NOT_MEASURED(id, title);
  return { id, title, pass: measured <= threshold, detail: `${measured.toFixed(digits)}${unit} (target ≤ ${threshold}${unit})` };
}

/** measured < threshold. */
export function below(id: string, title: string, measured: number | undefined, threshold: number, unit: string, digits = 1): Verdict {
  if (measured === undefined || Number.isNaN(measured)) return NOT_MEASURED(id, title);
  return { id, title, pass: measured < threshold, detail: `${measured.toFixed(digits)}${unit} (target < ${threshold}${unit})` };
}

export function skipped(id: string, title: string, why: string): Verdict {
  return NOT_MEASURED(id, title, why);
}

export function info(id: string, title: string, detail: string): Verdict {
  return { id, title, pass: 'info', detail };
}
