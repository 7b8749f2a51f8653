/**
 * Link routing for the AMQP face: which handler serves a link a client attaches.
 *
 * REGISTERING
 *   const routes = amqp.routes;                       // the LinkRoutes of the running AmqpFace
 *   routes.sending('/devices/{deviceId}/messages/devicebound', { device: 'deviceId' }, (ctx) => { … });
 *   routes.receiving('/messages/devicebound', { service: 'ServiceConnect' }, (ctx) => { … });
 *
 *   - `sending(pattern, …)`: the HUB SENDS on the link. The client attached a receiver whose
 *     SOURCE address matches; `ctx.link` is a rhea `Sender` (check `sendable()`, wait for the
 *     `sendable` event, listen for `accepted`/`rejected`/`released`/`modified` on it).
 *   - `receiving(pattern, …)`: the HUB RECEIVES on the link. The client attached a sender whose
 *     TARGET address matches; `ctx.link` is a rhea `Receiver` (listen for `message`; the
 *     connection runs with `autoaccept: false`, so settle each delivery yourself:
 *     `context.delivery.accept()` / `.reject({ condition, description })` — never an error-less
 *     reject, docs/protocol.md §10).
 *   - Patterns are paths with `{name}` segments. Matching ignores case and a leading slash, drops
 *     a `?query`, and strips an `amqps://host[:port]` prefix. The first registered match wins.
 *     Both links of a pair (twin, methods) register the same pattern once per direction.
 *   - Listeners go on `ctx.link` itself (rhea delivers a link's events to the link first).
 *
 * WHAT A HANDLER RECEIVES (`LinkContext`)
 *   link      the rhea Sender/Receiver, already attached; its source/target are echoed by the
 *             router before the handler runs (set `link.local.attach.properties` synchronously
 *             in the handler if the reply needs more: rhea writes the attach on the next tick)
 *   address   the address as the client sent it; `params` the `{name}` segments (percent-decoded)
 *   peer      the connection's authenticated identity (`AmqpPeer`): `peer.device(id)` (a live
 *             device claim), `peer.service(right)` (a live policy claim with that right, e.g.
 *             ServiceConnect), `peer.eventHub(path)`, `peer.transport` ('amqp' | 'amqp-ws' |
 *             'amqp-tcp'), `peer.onClose(fn)`, `peer.close(condition, description)`
 *   onClose(fn)  runs `fn` once when the link is gone for any reason: detached by the client, its
 *             session ended (Event Hubs clients end sessions without detaching), or its
 *             connection closed or lost. Put requeue-on-loss and cleanup here.
 *   reject(condition, description)   refuses the link: the attach is answered, then detached
 *             with that AMQP error (e.g. 'amqp:not-found'). The IoT SDKs treat any link error as
 *             fatal for their connection (docs/protocol.md §10), so prefer errors on dispositions.
 *
 * ACCESS (checked by the router BEFORE the handler runs; a miss detaches with amqp:unauthorized-access)
 *   { device: 'deviceId' }         a live claim for the device named by that param: its own token
 *                                  for HOST/devices/{id}, or a policy token with DeviceConnect
 *   { device: 'deviceId', module: 'moduleId' }   a live claim for exactly that module (its own
 *                                  token for HOST/devices/{id}/modules/{mid}, or a policy token
 *                                  with DeviceConnect); the device's claim never covers it
 *   { service: 'ServiceConnect' }  a live IoT Hub policy claim (audience HOST) with that right
 *   { eventHub: true }             a live Event Hubs claim (audience sb://HOST/…) covering the address
 *   'anyone'                       no claim needed ($cbs itself; links that check on their own)
 *
 * DEVICE CONNECTIONS: see `device-presence.ts` — the face calls `DevicePresence.connected` when a
 * device's put-token first succeeds on a connection and `disconnected` when it ends; the presence
 * implementation decides "one connection per device across protocols".
 *
 * Unknown addresses are refused with amqp:not-found; nothing a client attaches reaches the process.
 */
import type { Receiver, Sender } from 'rhea';
import type { Permission } from '../identity/policies.js';
import type { AmqpPeer } from './peer.js';

export type LinkAccess = { device: string; module?: string } | { service: Permission } | { eventHub: true } | 'anyone';

export interface LinkContext<L extends Sender | Receiver> {
  readonly link: L;
  readonly address: string;
  readonly params: Readonly<Record<string, string>>;
  readonly peer: AmqpPeer;
  /** Runs once when the link is detached, its session ends, or its connection ends. */
  onClose(handler: () => void): void;
  reject(condition: string, description: string): void;
}

export type LinkHandler<L extends Sender | Receiver> = (ctx: LinkContext<L>) => void;

interface Route {
  readonly pattern: string;
  readonly regex: RegExp;
  readonly names: readonly string[];
  readonly access: LinkAccess;
  readonly handler: LinkHandler<Sender> | LinkHandler<Receiver>;
}

export interface RouteMatch<L extends Sender | Receiver> {
  readonly params: Record<string, string>;
  readonly access: LinkAccess;
  readonly handler: LinkHandler<L>;
}

/** The table of link handlers, one list per direction. */
export class LinkRoutes {
  private readonly senders: Route[] = [];
  private readonly receivers: Route[] = [];

  /** The hub sends on links whose source matches `pattern` (the client attached a receiver). */
  sending(pattern: string, access: LinkAccess, handler: LinkHandler<Sender>): () => void {
    return add(this.senders, pattern, access, handler);
  }

  /** The hub receives on links whose target matches `pattern` (the client attached a sender). */
  receiving(pattern: string, access: LinkAccess, handler: LinkHandler<Receiver>): () => void {
    return add(this.receivers, pattern, access, handler);
  }

  matchSending(address: string): RouteMatch<Sender> | undefined {
    return match(this.senders, address) as RouteMatch<Sender> | undefined;
  }

  matchReceiving(address: string): RouteMatch<Receiver> | undefined {
    return match(this.receivers, address) as RouteMatch<Receiver> | undefined;
  }
}

/** `amqps://host:5671/a/b?x=1` → `a/b`; `/a/b/` → `a/b`. */
export function normalizeAddress(address: string): string {
  let path = address.replace(/^amqps?:\/\/[^/]*/i, '');
  const q = path.indexOf('?');
  if (q >= 0) path = path.slice(0, q);
  return path.replace(/^\/+|\/+$/g, '');
}

function add(list: Route[], pattern: string, access: LinkAccess, handler: Route['handler']): () => void {
  const names: string[] = [];
  const source = normalizeAddress(pattern)
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (param) {
        names.push(param[1]);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  const route: Route = { pattern, regex: new RegExp(`^${source}$`, 'i'), names, access, handler };
  list.push(route);
  return () => {
    const i = list.indexOf(route);
    if (i >= 0) list.splice(i, 1);
  };
}

function match(list: readonly Route[], address: string): RouteMatch<Sender | Receiver> | undefined {
  const path = normalizeAddress(address);
  for (const route of list) {
    const m = route.regex.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    try {
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]);
      });
    } catch {
      continue;
    }
    return { params, access: route.access, handler: route.handler as LinkHandler<Sender | Receiver> };
  }
  return undefined;
}
