export const NEVER = '0001-01-01T00:00:00Z';

const number = new Intl.NumberFormat('en-US');
export const fmt = (n: number): string => number.format(n);

/** "12 s ago", "3 min ago", or "never" for the hub's zero date. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso || iso.startsWith('0001-')) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function clockTime(iso: string): string {
  const d = new Date(iso);
  return `${d.toLocaleTimeString('en-GB', { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function dateTime(iso: string | undefined): string {
  if (!iso || iso.startsWith('0001-')) return '—';
  return new Date(iso).toLocaleString('en-GB', { hour12: false });
}

export function compactJson(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A twin without its $metadata (shown on demand): what a person reads first. */
export function withoutMetadata(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutMetadata);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== '$metadata') out[k] = withoutMetadata(v);
  return out;
}
