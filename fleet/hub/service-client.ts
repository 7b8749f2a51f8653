import https from 'node:https';
import { createSasToken } from '../../protocol/sas.js';
import { FleetError } from '../errors.js';
import type { HubAddress } from './hub-address.js';
import { caBundle } from './trust.js';

const API_VERSION = '2021-04-12';
const TIMEOUT_MS = 30_000;

export interface ServiceResponse {
  readonly status: number;
  readonly body: unknown;
}

/**
 * The few service REST calls the fleet makes, signed with the policy key as the service SDK does
 * (sr = host, skn = policy). Plain https rather than azure-iothub so that `--ca` can be honoured
 * and failures can be told apart (unreachable, refused credentials, hub errors).
 */
export class ServiceClient {
  private readonly agent: https.Agent;

  constructor(
    private readonly hub: HubAddress,
    ca?: string,
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: caBundle(ca) });
  }

  async request(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<ServiceResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const expiry = Math.ceil(Date.now() / 1000) + 3600;
    const headers: Record<string, string | number> = {
      authorization: createSasToken(this.hub.hostName, this.hub.sharedAccessKey, expiry, this.hub.sharedAccessKeyName),
      'user-agent': 'iothub-emulator-fleet',
      accept: 'application/json',
      ...extraHeaders,
    };
    if (payload) {
      headers['content-type'] = 'application/json; charset=utf-8';
      headers['content-length'] = payload.length;
    }
    const separator = path.includes('?') ? '&' : '?';
    const where = `https://${this.hub.hostName}${this.hub.httpsPort === 443 ? '' : `:${this.hub.httpsPort}`}`;
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.hub.hostName,
          port: this.hub.httpsPort,
          method,
          path: `${path}${separator}api-version=${API_VERSION}`,
          headers,
          agent: this.agent,
          timeout: TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text for the error message
            }
            const status = res.statusCode ?? 0;
            if (status === 401 || status === 403) {
              reject(
                new FleetError(
                  'unauthorized',
                  `the hub at ${where} refused the credentials (${status} ${errorText(parsed)}): check the connection string's SharedAccessKeyName and SharedAccessKey; the policy needs registry write access (iothubowner or registryReadWrite)`,
                ),
              );
              return;
            }
            resolve({ status, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error instanceof FleetError) return reject(error);
        reject(new FleetError('unreachable', `cannot reach the hub at ${where}: ${error.code ? `${error.code} ` : ''}${error.message}${hint(error)}`));
      });
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The hub's error text: `Message` in REST envelopes, `message` elsewhere. */
export function errorText(body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const o = body as Record<string, unknown>;
    const text = o.Message ?? o.message ?? o.ExceptionMessage;
    if (typeof text === 'string') return text;
  }
  return typeof body === 'string' && body ? body.slice(0, 300) : 'no details';
}

function hint(error: NodeJS.ErrnoException): string {
  if (/certificate|self.signed|UNABLE_TO_VERIFY/i.test(`${error.code} ${error.message}`)) {
    return ' (the hub certificate is not trusted: pass the emulator CA with --ca, or set NODE_EXTRA_CA_CERTS)';
  }
  if (error.code === 'ECONNREFUSED') return ' (is the hub running, and is this its address?)';
  if (error.code === 'ENOTFOUND') return ' (check the HostName in the connection string)';
  return '';
}
