import type { Random } from './random.js';

/** What a telemetry template can refer to. `state` holds the device behaviour's own values (e.g. doorState). */
export interface TemplateContext {
  readonly deviceId: string;
  readonly index: number;
  readonly seq: number;
  readonly now: number;
  readonly random: Random;
  readonly state: Readonly<Record<string, unknown>>;
}

export type TelemetryTemplate = (context: TemplateContext) => string;

export const DEFAULT_TELEMETRY_TEMPLATE =
  '{"deviceId":"{{deviceId}}","doorState":"{{doorState}}","battery":{{int 20 100}},"temperature":{{number 18 26}},"seq":{{seq}},"ts":"{{timestamp}}"}';

type Part = string | ((context: TemplateContext) => string);

/**
 * Compiles `{{name}}` placeholders once so that rendering thousands of messages a second is string
 * concatenation. Placeholders: deviceId, index, seq, timestamp (ISO), epochMs, `int MIN MAX`,
 * `number MIN MAX` (two decimals), `pick A B …`, and any value the device behaviour exposes (doorState…).
 */
export function compileTemplate(template: string): TelemetryTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const match of template.matchAll(/\{\{\s*([^}]+?)\s*\}\}/g)) {
    if (match.index > last) parts.push(template.slice(last, match.index));
    parts.push(placeholder(match[1]));
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return (context) => {
    let out = '';
    for (const part of parts) out += typeof part === 'string' ? part : part(context);
    return out;
  };
}

function placeholder(expression: string): (context: TemplateContext) => string {
  const [name, ...args] = expression.split(/\s+/);
  const numbers = (): [number, number] => {
    const [min, max] = args.map(Number);
    if (args.length !== 2 || !Number.isFinite(min) || !Number.isFinite(max)) throw new Error(`telemetry template: '{{${expression}}}' needs two numbers`);
    return [min, max];
  };
  switch (name) {
    case 'deviceId':
      return (c) => c.deviceId;
    case 'index':
      return (c) => String(c.index);
    case 'seq':
      return (c) => String(c.seq);
    case 'timestamp':
      return (c) => new Date(c.now).toISOString();
    case 'epochMs':
      return (c) => String(c.now);
    case 'int': {
      const [min, max] = numbers();
      return (c) => String(Math.floor(min + (max - min + 1) * c.random()));
    }
    case 'number': {
      const [min, max] = numbers();
      return (c) => (min + (max - min) * c.random()).toFixed(2);
    }
    case 'pick': {
      if (args.length === 0) throw new Error(`telemetry template: '{{pick}}' needs choices`);
      return (c) => args[Math.floor(c.random() * args.length)];
    }
    default:
      return (c) => (name in c.state ? String(c.state[name]) : '');
  }
}
