import net from 'node:net';
import tls from 'node:tls';

export interface HttpTarget {
  host: string;
  hostName: string;
  ca: string;
  httpsPort: number;
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * One request as raw bytes over its own TLS connection (resuming the last TLS session, so a case
 * costs little more than the request), and the first response read off the wire. Raw bytes,
 * because the fuzz cases are what an HTTP client library refuses to send: unknown or lower-case
 * methods, broken header lines, bytes that are not UTF-8, a Content-Length that lies.
 */
export class HttpWire {
  private session: Buffer | undefined;

  constructor(private readonly target: HttpTarget) {}

  send(bytes: Buffer, timeoutMs = 10_000): Promise<WireResponse | { error: string }> {
    return new Promise((resolve) => {
      const socket = tls.connect({
        host: this.target.host,
        port: this.target.httpsPort,
        servername: serverName(this.target.hostName),
        ca: this.target.ca,
        session: this.session,
      });
      socket.on('session', (session: Buffer) => (this.session = session));
      let data = Buffer.alloc(0);
      let done = false;
      const finish = (result: WireResponse | { error: string }): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(result);
      };
      const timer = setTimeout(() => finish({ error: `no answer within ${timeoutMs} ms` }), timeoutMs);
      socket.once('secureConnect', () => socket.write(bytes));
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        const parsed = parseResponse(data, false);
        if (parsed) finish(parsed);
      });
      socket.on('close', () =>
        finish(
          parseResponse(data, true) ?? { error: data.length ? `incomplete answer: ${data.subarray(0, 80).toString('latin1')}` : 'closed without an answer' },
        ),
      );
      socket.on('error', () => undefined);
    });
  }
}

function parseResponse(data: Buffer, ended: boolean): WireResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  // 100 Continue (a request that sent Expect) comes before the answer.
  if (status >= 100 && status < 200 && status !== 101) return parseResponse(data.subarray(end + 4), ended);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = data.subarray(end + 4);
  // A stream (server-sent events) is answered as soon as its head is there.
  if ((headers['content-type'] ?? '').startsWith('text/event-stream')) return { status, headers, body: Buffer.alloc(0) };
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    return rest.length >= length || ended ? { status, headers, body: rest.subarray(0, length) } : undefined;
  }
  if ((headers['transfer-encoding'] ?? '').includes('chunked')) {
    const body = dechunk(rest);
    return body ? { status, headers, body } : undefined;
  }
  if (status === 204 || status === 304 || status === 101) return { status, headers, body: Buffer.alloc(0) };
  return ended ? { status, headers, body: rest } : undefined;
}

function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** SNI carries host names only (RFC 6066): none for an IP address. */
export function serverName(hostName: string): string | undefined {
  return net.isIP(hostName) ? undefined : hostName;
}
