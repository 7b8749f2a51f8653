import type { AmqpClaim, ClaimResult } from '../identity/amqp-claims.js';

/**
 * SASL PLAIN as IoT Hub takes it (docs/protocol.md §10.2): user `<policy>@sas.root.<hub>`
 * or `<device>@sas.<hub>`, password a SAS token. The token is verified here and the claim kept
 * on the mechanism object, which the connection reads back once it opens (rhea's stock PLAIN
 * callback never sees the connection).
 */
export class PlainTokenMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  claim: AmqpClaim | undefined;

  constructor(private readonly verify: (audience: string, token: string) => ClaimResult) {}

  start(response: Buffer | undefined): void {
    const fields = splitNul(response ?? Buffer.alloc(0));
    const [, username, password] = fields;
    this.username = username ?? undefined;
    const sr = password ? /(?:^|[\s&])sr=([^&]+)/.exec(password)?.[1] : undefined;
    if (!password || !sr) {
      this.outcome = false;
      return;
    }
    const result = this.verify(sr, password);
    this.outcome = result.ok;
    if (result.ok) this.claim = result.claim;
  }
}

function splitNul(buffer: Buffer): (string | null)[] {
  const parts: (string | null)[] = [];
  let start = 0;
  for (let i = 0; i <= buffer.length; i++) {
    if (i === buffer.length || buffer[i] === 0) {
      parts.push(i > start ? buffer.toString('utf8', start, i) : null);
      start = i + 1;
    }
  }
  return parts;
}

/** The claim a SASL PLAIN exchange left on an opened connection, if any. */
export function plainClaimOf(connection: unknown): AmqpClaim | undefined {
  const transport = (connection as { sasl_transport?: { selected?: { mechanism?: unknown }; mechanism?: unknown } }).sasl_transport;
  const mechanism = transport?.selected?.mechanism ?? transport?.mechanism;
  return mechanism instanceof PlainTokenMechanism ? mechanism.claim : undefined;
}
