import type { Client } from 'aedes';
import { isUtf8 } from 'node:buffer';

/**
 * Checks what aedes' MQTT parser (mqtt-packet) reads from one device, as the bytes arrive and
 * before aedes sees a packet (docs/protocol.md §14):
 * - the fixed header's remaining length is known after at most 5 bytes; above `maxPacketBytes`
 *   the connection is closed then, so a PUBLISH declaring 268 MB is never buffered;
 * - every UTF-8 string (client id, username, topic names and filters, Will topic) must be
 *   well-formed UTF-8 without U+0000, or the connection is closed (MQTT 3.1.1 §1.5.3). The parser
 *   decodes with replacement characters, so a string holding one (or U+0000) is judged by its raw bytes;
 * - a SUBSCRIBE asking for QoS 2 is read as QoS 1 before aedes handles it: aedes writes its SUBACK
 *   from the requested QoS, not from the one authorizeSubscribe grants, and IoT Hub grants 1
 *   (docs/protocol.md §1.9).
 * mqtt-packet has no options for these, so the guard wraps four steps of this client's parser
 * instance (`_parseLength`, `_parseString`, `_parseSubscribe`, `_emitError`, stable across
 * mqtt-packet 6–9); a parse error makes aedes close the connection, as for any malformed packet.
 */
export function guardParser(client: Client, maxPacketBytes: number): void {
  const parser = (client as unknown as { _parser?: GuardedParser })._parser;
  if (!parser || typeof parser._parseLength !== 'function' || typeof parser._parseString !== 'function' || typeof parser._parseSubscribe !== 'function') {
    throw new Error('aedes client without the mqtt-packet parser this guard expects');
  }
  const parseLength = parser._parseLength;
  const parseString = parser._parseString;
  const parseSubscribe = parser._parseSubscribe;
  const emitError = parser._emitError;

  parser._parseLength = function guardedLength(this: GuardedParser): boolean {
    const ok = parseLength.call(this);
    if (ok && this.packet.length > maxPacketBytes) {
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the maximum of ${maxPacketBytes}`));
      return false;
    }
    return ok;
  };

  parser._parseString = function guardedString(this: GuardedParser, maybeBuffer?: unknown): string | null {
    const start = this._pos;
    const result = parseString.call(this, maybeBuffer);
    if (result === null) return result;
    // The parser decoded the bytes with Node's UTF-8 decoder, which turns every ill-formed sequence
    // (overlong, surrogate, truncated, above U+10FFFF) into U+FFFD and only a 0 byte into U+0000:
    // a string with neither came from well-formed bytes without U+0000, so the bytes need no second
    // look. One that has U+FFFD (ill-formed, or a well-formed EF BF BD) is checked byte by byte.
    if (!result.includes('\0') && !result.includes('\uFFFD')) return result;
    // The string's bytes follow its two-byte length.
    const bytes: Buffer = this._list.slice(start + 2, this._pos);
    if (bytes.includes(0) || !isUtf8(bytes)) {
      this._emitError(new Error('a UTF-8 string in the packet is not well-formed or holds U+0000 (MQTT 3.1.1 §1.5.3)'));
      return null;
    }
    return result;
  };

  // The first error of a packet is the one that counts: the parser's own "Cannot parse topic"
  // after ours would close the same connection a second time.
  parser._emitError = function onceError(this: GuardedParser, error: Error): void {
    if (this.error) return;
    emitError.call(this, error);
  };

  // Inside the SUBSCRIBE's own parse step rather than a second 'packet' listener: with two
  // listeners Node's emit copies its listener array for every packet the device sends, which was
  // 1.5 % of the emulator's CPU under a closed loop of reported patches.
  parser._parseSubscribe = function loweredSubscribe(this: GuardedParser): unknown {
    const result = parseSubscribe.call(this);
    for (const subscription of this.packet.subscriptions ?? []) if (subscription.qos > 1) subscription.qos = 1;
    return result;
  };
}

interface GuardedParser {
  packet: { length: number; subscriptions?: { qos: number }[] };
  error: Error | null;
  _pos: number;
  _list: { slice(start: number, end: number): Buffer };
  _parseLength(): boolean;
  _parseString(maybeBuffer?: unknown): string | null;
  _parseSubscribe(): unknown;
  _emitError(error: Error): void;
}
