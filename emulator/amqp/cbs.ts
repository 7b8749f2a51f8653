import type { Logger } from 'pino';
import rhea, { type EventContext, type Message } from 'rhea';
import type { AmqpClaim, ClaimResult } from '../identity/amqp-claims.js';
import type { ConnectAdmission } from './connect-gate.js';
import type { DevicePresence } from './device-presence.js';
import type { LinkRoutes } from './link-routes.js';
import type { AmqpPeer } from './peer.js';
import { ReplyLinks } from './reply-links.js';

// The longest delay setTimeout accepts; longer-lived tokens are re-checked when it fires.
const MAX_TIMER_MS = 2_147_000_000;
const TOKEN_TYPES = new Set(['servicebus.windows.net:sastoken', 'azure-devices.net:sastoken']);

export interface CbsDependencies {
  verify(audience: string, token: string): ClaimResult;
  presence: DevicePresence;
  log: Logger;
  /** throttles and chaos rules at a device's connect (connect-gate.ts); absent: always admitted */
  admitDevice?(deviceId: string): ConnectAdmission;
}

/**
 * The claims-based security node `$cbs` (docs/protocol.md §10.3): put-token requests on a
 * client sender to `$cbs`, answers on a client receiver from `$cbs`. Every request is answered,
 * with `status-code` as an AMQP int: 200, 400 (not a put-token request) or 401 (refused).
 */
export function registerCbs(routes: LinkRoutes, deps: CbsDependencies): { grant(peer: AmqpPeer, claim: AmqpClaim): void } {
  const replies = new ReplyLinks();

  const announced = new WeakMap<AmqpPeer, Set<string>>();
  const grant = (peer: AmqpPeer, claim: AmqpClaim): void => {
    peer.grant(claim);
    if (claim.kind !== 'device') return;
    // By connection key: a module (`{deviceId}/{moduleId}`) is an identity of its own (docs/protocol.md §12.3).
    const { key } = claim;
    const devices = announced.get(peer) ?? new Set<string>();
    announced.set(peer, devices);
    if (!devices.has(key)) {
      devices.add(key);
      deps.presence.connected(key, peer);
      peer.onClose((reason) => deps.presence.disconnected(key, peer, reason));
    }
    watchExpiry(peer, key);
  };

  // A device whose token lapses without renewal is dropped, as on MQTT (README Fidelity).
  const watched = new WeakMap<AmqpPeer, Set<string>>();
  const watchExpiry = (peer: AmqpPeer, deviceId: string): void => {
    const set = watched.get(peer) ?? new Set<string>();
    watched.set(peer, set);
    if (set.has(deviceId)) return;
    set.add(deviceId);
    const arm = (): void => {
      const latest = Math.max(0, ...peer.allClaims().map((c) => (c.kind === 'device' && c.key === deviceId ? c.expiry : 0)));
      const timer = setTimeout(
        () => {
          if (peer.closed) return;
          if (peer.device(deviceId)) return arm();
          deps.log.info({ deviceId }, 'closing AMQP connection: SAS token expired');
          peer.close('amqp:unauthorized-access', `The SAS token for ${deviceId.includes('/') ? 'module' : 'device'} '${deviceId}' expired.`);
        },
        Math.min(Math.max(latest * 1000 - Date.now() + 50, 0), MAX_TIMER_MS),
      );
      timer.unref();
    };
    arm();
  };

  routes.sending('$cbs', 'anyone', (ctx) => replies.add(ctx.link));
  routes.receiving('$cbs', 'anyone', (ctx) => {
    ctx.link.on('message', (context: EventContext) => {
      const request = context.message!;
      context.delivery?.accept();
      const answer = (status: number, description: string): void => {
        const response: Message = {
          correlation_id: request.message_id,
          to: request.reply_to,
          application_properties: { 'status-code': rhea.types.wrap_int(status), 'status-description': description },
          body: undefined,
        };
        if (!replies.reply(ctx.link, request.reply_to, response)) deps.log.debug({ peer: ctx.peer.id }, 'CBS request without a $cbs receiver to answer on');
      };
      const props = request.application_properties ?? {};
      if (props.operation !== 'put-token') return answer(400, `Unsupported CBS operation '${String(props.operation)}'.`);
      if (typeof props.name !== 'string' || !props.name) return answer(400, 'The put-token request has no name (audience).');
      const body = request.body;
      const token =
        typeof body === 'string'
          ? body
          : Buffer.isBuffer(body)
            ? body.toString('utf8')
            : body?.content
              ? Buffer.from(body.content).toString('utf8')
              : undefined;
      if (!token) return answer(400, 'The put-token request has no token in its body.');
      if (props.type !== undefined && !TOKEN_TYPES.has(String(props.type))) {
        return answer(401, `Token type '${String(props.type)}' is not supported by the emulator; use a SharedAccessSignature.`);
      }
      const result = deps.verify(props.name, token);
      if (!result.ok) {
        deps.log.info({ peer: ctx.peer.id, audience: props.name, reason: result.description }, 'CBS put-token refused');
        return answer(result.status, result.description);
      }
      const claim = result.claim;
      // A device's first token on this connection is its connect: the gate may delay or refuse it (docs/protocol.md §13).
      const admission = claim.kind === 'device' && !announced.get(ctx.peer)?.has(claim.key) ? deps.admitDevice?.(claim.key) : undefined;
      if (admission?.kind === 'unauthorized') return answer(401, admission.description);
      if (admission?.kind === 'close') {
        const error = { condition: admission.condition, description: admission.description };
        return ctx.peer.closeInOrder(error, error);
      }
      const admit = (): void => {
        if (ctx.peer.closed) return;
        grant(ctx.peer, claim);
        answer(200, 'OK');
      };
      if (admission?.kind === 'later') setTimeout(admit, admission.delayMs);
      else admit();
    });
  });

  return { grant };
}
