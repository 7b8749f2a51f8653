import tls from 'node:tls';
import type { Hub } from '../../emulator/hub.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** the parsed body, when it is JSON */
  json: unknown;
}

/**
 * Writes bytes to the hub's HTTPS port that fetch and the SDKs would never send (an unknown
 * method, a broken header, a body that never ends) and reads the first response off the wire.
 * `rest` is written after the head, so a test can declare a body and send less of it.
 */
export function rawHttp(hub: Hub, head: string, rest: Buffer | string = '', timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hub.options.host, port: hub.httpsPort, servername: hub.hostName, ca: hub.ca });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response within ${timeoutMs} ms; got: ${data.toString('latin1').slice(0, 300)}`));
    }, timeoutMs);
    const finish = (response: RawResponse): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(response);
    };
    socket.on('secureConnect', () => {
      socket.write(head);
      if (rest.length) socket.write(rest);
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const parsed = parse(data, false);
      if (parsed) finish(parsed);
    });
    socket.on('close', () => {
      const parsed = parse(data, true);
      if (parsed) finish(parsed);
      else {
        clearTimeout(timer);
        reject(new Error(`connection closed without a response; got: ${data.toString('latin1').slice(0, 300)}`));
      }
    });
    socket.on('error', () => undefined);
  });
}

function parse(data: Buffer, ended: boolean): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = data.subarray(end + 4);
  const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  if (length !== undefined && body.length < length) return undefined;
  if (length === undefined && !ended) return undefined;
  const text = body.subarray(0, length ?? body.length).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers, body: text, json };
}
