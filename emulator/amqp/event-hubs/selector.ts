import type { EventLog } from '../../event-hubs/index.js';

/** A partition receiver's start, from its `apache.org:selector-filter:string` (docs/protocol.md §10.10). */
export type StartPosition =
  | { kind: 'offset'; value: string; inclusive: boolean }
  | { kind: 'sequence'; value: number; inclusive: boolean }
  | { kind: 'time'; value: number; inclusive: boolean };

export const SELECTOR_FILTER = 'apache.org:selector-filter:string';

const GRAMMAR = /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*'?([^']*?)'?\s*$/i;

/** Parses the selector the Event Hubs SDKs emit; undefined when it is not one of those forms. */
export function parseSelector(selector: string): StartPosition | undefined {
  const m = GRAMMAR.exec(selector);
  if (!m) return undefined;
  const inclusive = m[2] === '>=';
  const value = m[3].trim();
  switch (m[1].toLowerCase()) {
    case 'x-opt-offset':
      return value === '@latest' || /^-?\d+$/.test(value) ? { kind: 'offset', value, inclusive } : undefined;
    case 'x-opt-sequence-number':
      return /^-?\d+$/.test(value) ? { kind: 'sequence', value: Number(value), inclusive } : undefined;
    default:
      return /^-?\d+$/.test(value) ? { kind: 'time', value: Number(value), inclusive } : undefined;
  }
}

/** The sequence number a receiver starting at `position` gets first (no filter: the oldest retained event). */
export function startSequence(log: EventLog, partition: number, position: StartPosition | undefined): number {
  const { beginSequenceNumber } = log.info(partition);
  if (!position) return beginSequenceNumber;
  switch (position.kind) {
    case 'offset':
      if (position.value === '@latest') return log.nextSequenceNumber(partition);
      if (position.value === '-1') return beginSequenceNumber;
      return log.seqForOffset(partition, Number(position.value), position.inclusive);
    case 'sequence':
      return Math.max(beginSequenceNumber, position.inclusive ? position.value : position.value + 1);
    case 'time':
      return log.seqForTime(partition, position.inclusive ? position.value - 1 : position.value);
  }
}
