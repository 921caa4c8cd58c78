export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text format (0.0.4): every line must be a HELP or TYPE
 * comment or a sample, label values properly quoted and escaped, every sample's family
 * declared by TYPE before it. Throws on the first line that is not.
 */
export function parsePrometheusText(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [index, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${index + 1}: ${line}`;
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(comment[3]!)) throw new Error(`unknown type: ${where}`);
        types.set(comment[2]!, comment[3]!);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!sample) throw new Error(`not a sample: ${where}`);
    const name = sample[1]!;
    const family = [...types.keys()].find((declared) => name === declared || (/_(bucket|sum|count|total|created)$/.test(name) && name.startsWith(`${declared}_`)));
    if (!family) throw new Error(`sample before its TYPE: ${where}`);
    const labels: Record<string, string> = {};
    const labelText = sample[2] ?? '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
    while (labelPattern.lastIndex < labelText.length) {
      const label = labelPattern.exec(labelText);
      if (!label) throw new Error(`bad labels: ${where}`);
      labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    }
    // Prometheus reads values with Go's ParseFloat: NaN and Inf in any letter case (prom-client writes "Nan").
    const special = sample[3]!.toLowerCase();
    const value = special === 'nan' ? NaN : /^[+-]?inf$/.test(special) ? (special.startsWith('-') ? -Infinity : Infinity) : Number(sample[3]);
    if (Number.isNaN(value) && special !== 'nan') throw new Error(`bad value: ${where}`);
    samples.push({ name, labels, value });
  }
  return samples;
}

/** The value of one sample, by name and (a subset of) its labels. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))?.value;
}
