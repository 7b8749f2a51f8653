import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { Command } from 'commander';
import { parseHubConnectionString } from '../../protocol/connection-string.js';
import { createSasToken } from '../../protocol/sas.js';
import type { HubTarget, TargetOptions } from '../hub-target.js';
import { printJson, printList, printRecord, type OutputOptions } from '../output.js';
import { clientCommand, readJson, runCommand } from '../run-command.js';

type Options = TargetOptions & OutputOptions;

interface RuleJson {
  id?: string;
  kind?: string;
  target?: { deviceId?: string; prefix?: string; fraction?: number };
  operation?: string;
  route?: string;
  fraction?: number;
  errorCode?: string;
  delayMs?: number;
  expiresAt?: string;
  affected?: string[];
}

/**
 * `fault add|list|show|remove|clear` and `throttling`: the emulator's chaos API
 * (docs/throttling-and-faults.md) from the command line. It is the emulator's own API
 * (`/$emulator/faults`), so it needs the emulator, not any hub.
 */
export function registerFaultCommands(program: Command): void {
  const fault = program.command('fault').description("make devices or routes fail on purpose: the emulator's chaos API (/$emulator/faults)");

  clientCommand(
    fault
      .command('add [rule]')
      .description(
        'add a rule given as JSON (or @file, or --file), e.g. \'{"kind":"failOperations","operation":"methods","status":500,"fraction":0.5,"seed":1}\'',
      ),
  )
    .option('--file <path>', 'read the rule from a JSON file')
    .action((rule: string | undefined, opts: Options & { file?: string }) =>
      runCommand(opts, async (target, format) => {
        const body = readJson(rule, opts.file, 'the rule');
        printRecord(format, await call(target, 'POST', '/$emulator/faults', body));
      }),
    );

  clientCommand(fault.command('list').description('list the rules in force')).action((opts: Options) =>
    runCommand(opts, async (target, format) => {
      const { rules } = (await call(target, 'GET', '/$emulator/faults')) as { rules: RuleJson[] };
      printList(format, rules, [
        { header: 'Id', value: (r) => r.id },
        { header: 'Kind', value: (r) => r.kind },
        { header: 'Target', value: (r) => describeTarget(r) },
        {
          header: 'Does',
          value: (r) =>
            [
              r.operation,
              r.route,
              r.errorCode,
              r.delayMs ? `+${r.delayMs} ms` : undefined,
              r.fraction !== undefined && r.fraction < 1 ? `${r.fraction * 100}%` : undefined,
            ]
              .filter(Boolean)
              .join(' '),
        },
        { header: 'Until', value: (r) => r.expiresAt ?? 'removed' },
      ]);
    }),
  );

  clientCommand(fault.command('show <id>').description('print one rule')).action((id: string, opts: Options) =>
    runCommand(opts, async (target, format) => printRecord(format, await call(target, 'GET', `/$emulator/faults/${encodeURIComponent(id)}`))),
  );

  clientCommand(fault.command('remove <id>').description('remove one rule')).action((id: string, opts: Options) =>
    runCommand(opts, async (target) => {
      await call(target, 'DELETE', `/$emulator/faults/${encodeURIComponent(id)}`);
    }),
  );

  clientCommand(fault.command('clear').description('remove every rule')).action((opts: Options) =>
    runCommand(opts, async (target) => {
      await call(target, 'DELETE', '/$emulator/faults');
    }),
  );

  clientCommand(program.command('throttling').description("the tier in force (--tier), its rates per second and the day's quota so far")).action(
    (opts: Options) =>
      runCommand(opts, async (target, format) => {
        const answer = await call(target, 'GET', '/$emulator/throttling');
        if (format === 'json') printJson(answer);
        else printRecord(format, answer);
      }),
  );
}

function describeTarget(rule: RuleJson): string {
  const t = rule.target ?? {};
  if (t.deviceId) return t.deviceId;
  const parts = [t.prefix ? `${t.prefix}*` : 'all devices', t.fraction !== undefined ? `${t.fraction * 100}%` : undefined];
  return parts.filter(Boolean).join(', ');
}

/** One call of the emulator's own API with a SAS of the target's policy; hub errors leave in the SDK's error shape, which describeError reads. */
function call(target: HubTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  const cs = parseHubConnectionString(target.connectionString);
  const token = createSasToken(cs.hostName, cs.sharedAccessKey, Math.ceil(Date.now() / 1000) + 600, cs.sharedAccessKeyName);
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: cs.hostName,
        port: 443,
        path,
        method,
        ca: target.caPath ? readFileSync(target.caPath, 'utf8') : undefined,
        headers: { authorization: token, 'content-type': 'application/json', ...(text ? { 'content-length': Buffer.byteLength(text) } : {}) },
      },
      (response) => {
        let raw = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (raw += chunk));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (status >= 400) {
            reject(Object.assign(new Error(`HTTP ${status}`), { responseBody: raw, response: { statusCode: status, headers: response.headers } }));
            return;
          }
          resolve(raw ? JSON.parse(raw) : undefined);
        });
      },
    );
    request.on('error', reject);
    request.end(text);
  });
}
