import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import path from 'node:path';
import { createSasToken } from '../../protocol/sas.js';
import { findPolicy } from '../identity/policies.js';
import { resolveCaDir } from '../tls/ca-location.js';

export interface RemoteHubOptions {
  /** where the emulator listens (0.0.0.0 and :: are reached through 127.0.0.1) */
  host: string;
  /** the name its certificate was issued for, when it differs from host */
  hostName?: string;
  httpsPort: number;
  /** PEM of the emulator's CA */
  ca: string;
  /** well-known policy whose key signs the requests */
  policy: string;
}

/** Finds the running emulator's CA the way `start` placed it: --ca, else the CA directory (--ca-dir, else --cert-dir, else the user's). */
export function readCa(options: { ca?: string; caDir?: string; certDir?: string }): string {
  const file = options.ca ?? path.join(resolveCaDir(options), 'ca.pem');
  if (!existsSync(file)) {
    throw new Error(`No CA certificate at ${path.resolve(file)}: pass the --ca-dir (or --cert-dir, or --ca) the emulator was started with`);
  }
  return readFileSync(file, 'utf8');
}

/** The emulator's HTTPS API as the CLI's own commands call it: trusted by its CA, signed with a well-known policy key. */
export class RemoteHub {
  private readonly address: string;

  constructor(private readonly options: RemoteHubOptions) {
    this.address = options.host === '0.0.0.0' ? '127.0.0.1' : options.host === '::' ? '::1' : options.host;
  }

  get url(): string {
    return `https://${this.options.hostName ?? this.address}:${this.options.httpsPort}`;
  }

  async request(method: string, requestPath: string): Promise<{ status: number; body: string }> {
    const response = await this.send(method, requestPath, {});
    let body = '';
    for await (const chunk of response) body += chunk;
    return { status: response.statusCode ?? 0, body };
  }

  /** Opens a streaming GET; rejects with the hub's error message unless it answers 200. */
  async stream(requestPath: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    const response = await this.send('GET', requestPath, { accept: 'text/event-stream', ...headers });
    if (response.statusCode !== 200) {
      let body = '';
      for await (const chunk of response) body += chunk;
      throw new Error(`${this.url}${requestPath} answered ${response.statusCode}: ${errorMessage(body)}`);
    }
    return response;
  }

  private send(method: string, requestPath: string, headers: Record<string, string>): Promise<IncomingMessage> {
    const policy = findPolicy(this.options.policy);
    if (!policy) throw new Error(`No shared access policy named '${this.options.policy}'`);
    const token = createSasToken(this.options.hostName ?? this.address, policy.primaryKey, Math.ceil(Date.now() / 1000) + 3600, policy.keyName);
    const servername = this.options.hostName && !isIP(this.options.hostName) ? this.options.hostName : undefined;
    return new Promise((resolve, reject) => {
      const request = https.request(
        {
          host: this.address,
          port: this.options.httpsPort,
          path: requestPath,
          method,
          ca: this.options.ca,
          servername,
          headers: { authorization: token, ...headers },
        },
        resolve,
      );
      request.on('error', (error) => reject(new Error(`Cannot reach the emulator at ${this.url}: ${error.message}`)));
      request.end();
    });
  }
}

/** The text of the hub's error envelope (`{"Message":"ErrorCode:Name;text"}`), or the body as it came. */
export function errorMessage(body: string): string {
  try {
    const message = (JSON.parse(body) as { Message?: unknown }).Message;
    if (typeof message === 'string') return message.replace(/^ErrorCode:[^;]*;/, '');
  } catch {
    // not the envelope
  }
  return body.trim();
}
