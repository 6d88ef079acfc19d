/**
 * A strict reader of the Prometheus text exposition format (0.0.4), enough
 * to prove an endpoint's output parses and to read samples back: every line
 * is a HELP or TYPE comment or `name{label="value",…} number`; every sample
 * belongs to a declared family.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Values as Go's ParseFloat reads them (Prometheus's parser): NaN and Inf in any case. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.eE+-]+|[nN][aA][nN]|[+-][iI][nN][fF])( -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (name === undefined || !TYPES.has(type ?? '')) throw new Error(`bad TYPE line: ${line}`);
      types.set(name, type!);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[3] ?? '').matchAll(LABEL)) labels[k!] = v!;
    const name = m[1]!;
    const family = [...types.keys()].find((f) => name === f || /^_(bucket|sum|count)$/.test(name.slice(f.length)) && name.startsWith(f));
    if (family === undefined) throw new Error(`sample ${name} has no TYPE line`);
    samples.push({ name, labels, value: Number(m[4]) });
  }
  return { samples, types };
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}
