import type { Command } from 'commander';
import type { TargetOptions } from '../hub-target.js';
import { printList, type OutputOptions } from '../output.js';
import { clientCommand, positive, runCommand } from '../run-command.js';

/** `query "SELECT …"`, as `az iot hub query` runs it: every page, through the SDK's own paging. */
export function registerQueryCommand(program: Command): void {
  clientCommand(program.command('query <sql>').description('run an IoT Hub query (SELECT … FROM devices | devices.jobs) and print every result'))
    .addHelpText(
      'after',
      `\nExamples:\n  iothub-emulator query "SELECT * FROM devices WHERE tags.floor = 3"\n  iothub-emulator query "SELECT properties.reported.doorState AS state, COUNT() AS n FROM devices GROUP BY properties.reported.doorState"`,
    )
    .option('--top <n>', 'stop after this many results', positive)
    .option('--page-size <n>', 'results per page the hub is asked for (at most 1000)', positive, 100)
    .action((sql: string, opts: TargetOptions & OutputOptions & { top?: number; pageSize: number }) =>
      runCommand(opts, async (target, format) => {
        const query = target.registry().createQuery(sql, opts.pageSize);
        const items: Record<string, unknown>[] = [];
        while (query.hasMoreResults && (opts.top === undefined || items.length < opts.top)) {
          // Query.next() in promise form does not pass on the token it holds: give it back.
          const page = await query.next(query.continuationToken as string);
          items.push(...(page.result as Record<string, unknown>[]));
        }
        const results = opts.top === undefined ? items : items.slice(0, opts.top);
        const rows = results.map(withoutMetadata);
        printList(format, rows, columnsOf(rows), results);
      }),
    );
}

/** Every top-level member any row has, deviceId first. */
function columnsOf(rows: readonly Record<string, unknown>[]): { header: string; value(row: Record<string, unknown>): unknown }[] {
  const keys = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) keys.add(key);
  const ordered = [...keys].sort((a, b) => (a === 'deviceId' ? -1 : b === 'deviceId' ? 1 : 0));
  return ordered.map((key) => ({ header: key, value: (row) => row[key] }));
}

/** `$metadata` makes a twin unreadable in a table; JSON output keeps the hub's answer as it came. */
function withoutMetadata(row: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(row, (key, value: unknown) => (key === '$metadata' ? undefined : value))) as Record<string, unknown>;
}
