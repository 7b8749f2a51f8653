/** One line of a benchmark's table: a measured figure, the target it must meet, and its baseline. */
export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  /** e.g. "≤ 1.5" or "≥ 3000", checked against value; "≤ 1.2×" is checked against value / baseline */
  target?: string;
  /** the same thing measured without the emulator's own work, in the same run */
  baseline?: number;
  /** value / baseline as the row means it, when not the plain quotient (a median of several rounds' own ratios) */
  ratio?: number;
  note?: string;
}

export interface Bench {
  name: string;
  description: string;
  run(): Promise<BenchRow[]>;
}

export function meetsTarget(row: BenchRow): boolean | undefined {
  if (!row.target) return undefined;
  const match = /^(≤|>=|≥|<=)\s*([\d.]+)/.exec(row.target);
  if (!match) return undefined;
  const limit = Number(match[2]);
  if (/×/.test(row.target)) {
    if (!row.baseline) return undefined;
    const ratio = row.ratio ?? row.value / row.baseline;
    return match[1] === '≤' || match[1] === '<=' ? ratio <= limit : ratio >= limit;
  }
  return match[1] === '≤' || match[1] === '<=' ? row.value <= limit : row.value >= limit;
}

export function formatTable(title: string, rows: readonly BenchRow[]): string {
  const header = ['metric', 'value', 'unit', 'target', 'baseline', '× baseline', 'ok', 'note'];
  const body = rows.map((r) => {
    const ok = meetsTarget(r);
    return [
      r.metric,
      fmt(r.value),
      r.unit,
      r.target ?? '',
      r.baseline === undefined ? '' : fmt(r.baseline),
      r.baseline ? `${(r.ratio ?? r.value / r.baseline).toFixed(2)}×` : '',
      ok === undefined ? '' : ok ? 'yes' : 'NO',
      r.note ?? '',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [`### ${title}`, '', line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line), ''].join('\n');
}

function fmt(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);
}
