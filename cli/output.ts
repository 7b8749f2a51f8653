import { Option, type Command } from 'commander';
import { UsageError, type HubTarget } from './hub-target.js';

export type OutputFormat = 'table' | 'json';

export interface OutputOptions {
  output?: OutputFormat;
  json?: boolean;
}

/** `--output table|json` (and `--json`): a table for a person at a terminal, JSON for a pipe or a script. */
export function outputOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--output <format>', 'table or json (default: table on a terminal, json when piped)').choices(['table', 'json']).env('IOTHUB_EMULATOR_OUTPUT'),
    )
    .option('--json', 'the same as --output json');
}

export function formatOf(options: OutputOptions): OutputFormat {
  if (options.json) return 'json';
  return options.output ?? (process.stdout.isTTY ? 'table' : 'json');
}

export interface Column<T> {
  header: string;
  value(row: T): unknown;
}

/** Prints `rows` as JSON, or as a table of `columns`. */
export function printList<T>(format: OutputFormat, rows: readonly T[], columns: readonly Column<T>[], json: unknown = rows): void {
  if (format === 'json') {
    printJson(json);
    return;
  }
  if (rows.length === 0) {
    console.log('(none)');
    return;
  }
  console.log(table([columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => cell(c.value(row))))]));
}

/** Prints one object as JSON, or as a two-column table of its leaves (`properties.desired.x  1`). */
export function printRecord(format: OutputFormat, value: unknown): void {
  if (format === 'json') {
    printJson(value);
    return;
  }
  const rows: string[][] = [];
  flatten(value, '', rows);
  console.log(table(rows));
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

function flatten(value: unknown, prefix: string, rows: string[][]): void {
  if (value === undefined) return;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) {
      // $metadata doubles a twin's table with timestamps; JSON output keeps it.
      if (key !== '$metadata' && !key.startsWith('_')) flatten(child, prefix ? `${prefix}.${key}` : key, rows);
    }
    return;
  }
  rows.push([prefix || '(value)', cell(value)]);
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function table(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, c] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Exit codes of the client commands (as the fleet's: 2 bad input, 3 hub unreachable or untrusted). */
export const EXIT = { hub: 1, usage: 2, unreachable: 3 } as const;

const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

interface SdkError {
  code?: string;
  message?: string;
  responseBody?: unknown;
  response?: { statusCode?: number; headers?: Record<string, string | string[] | undefined> };
}

/** An error as the user should read it: the hub's own words for a hub answer; what to do for the rest. */
export function describeError(error: unknown, target?: HubTarget): { message: string; exitCode: number } {
  if (error instanceof UsageError) return { message: error.message, exitCode: EXIT.usage };
  const e = error as SdkError;
  if (e.response?.statusCode) {
    const { code, text } = hubError(String(e.responseBody ?? ''), e.response.headers?.['iothub-errorcode']);
    return { message: `${code ? `${code}: ` : ''}${text || e.message} (HTTP ${e.response.statusCode})`, exitCode: EXIT.hub };
  }
  const where = target ? ` ${target.hostName}:443` : '';
  if (e.code && CERTIFICATE_ERRORS.has(e.code)) {
    return {
      message:
        `${e.message}: this process does not trust the certificate of${where || ' the hub'}. ` +
        (target?.caPath
          ? `It trusted ${target.caPath}, which did not issue it: was the emulator started with another --ca-dir or --cert-dir?`
          : "The emulator's CA was not found: pass the --ca-dir (or --cert-dir, or --ca) the emulator was started with; `iothub-emulator ca` prints where the CA is."),
      exitCode: EXIT.unreachable,
    };
  }
  if (e.code && NETWORK_ERRORS.has(e.code)) {
    return {
      message: `Cannot reach the hub at${where} (${e.code}): is the emulator running (iothub-emulator start)? Pass the --host it listens on, or --connection-string.`,
      exitCode: EXIT.unreachable,
    };
  }
  return { message: e.message ?? String(error), exitCode: EXIT.hub };
}

function hubError(body: string, header: string | string[] | undefined): { code?: string; text: string } {
  let code = typeof header === 'string' ? header : undefined;
  let text = body.trim();
  try {
    const envelope = JSON.parse(body) as { Message?: unknown; message?: unknown; errorCode?: unknown };
    const message = typeof envelope.Message === 'string' ? envelope.Message : typeof envelope.message === 'string' ? envelope.message : undefined;
    if (message) {
      const match = /^ErrorCode:([^;]*);([\s\S]*)$/.exec(message);
      code ??= match?.[1];
      text = match ? match[2]! : message;
      // Direct-method errors carry a JSON document in Message (docs/protocol.md §3.3): its own message is the text.
      const inner = parseObject(text);
      if (typeof inner?.message === 'string') text = inner.message;
    }
    if (!code && typeof envelope.errorCode === 'string') code = envelope.errorCode;
  } catch {
    // not JSON: the body as it came
  }
  return { code, text };
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
