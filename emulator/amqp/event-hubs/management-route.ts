import type { Logger } from 'pino';
import rhea, { type EventContext, type Message } from 'rhea';
import type { ClaimResult } from '../../identity/amqp-claims.js';
import type { LinkRoutes } from '../link-routes.js';
import { ReplyLinks } from '../reply-links.js';
import type { EventHubEntity } from './partition-route.js';

/**
 * The `$management` node of the Event Hubs-compatible endpoint (docs/protocol.md
 * §10.6): READ of `com.microsoft:eventhub` and `com.microsoft:partition`, answered with
 * a map in an AMQP value section and `status-code` as an int. Each request carries its own
 * `security_token`, which is verified like a put-token.
 */
export function registerManagementRoute(
  routes: LinkRoutes,
  entity: EventHubEntity,
  deps: { verify(audience: string, token: string): ClaimResult; log: Logger },
): void {
  const replies = new ReplyLinks();
  routes.sending('$management', 'anyone', (ctx) => replies.add(ctx.link));
  routes.receiving('$management', 'anyone', (ctx) => {
    ctx.link.on('message', (context: EventContext) => {
      const request = context.message!;
      context.delivery?.accept();
      const answer = (status: number, description: string, body?: Record<string, unknown>, condition?: string): void => {
        const response: Message = {
          correlation_id: request.message_id,
          to: request.reply_to,
          application_properties: {
            'status-code': rhea.types.wrap_int(status),
            'status-description': description,
            ...(condition ? { 'error-condition': condition } : {}),
          },
          body,
        };
        if (!replies.reply(ctx.link, request.reply_to, response)) deps.log.debug({ peer: ctx.peer.id }, '$management request without a receiver to answer on');
      };
      const props = request.application_properties ?? {};
      const token = props.security_token;
      const authorized =
        typeof token === 'string' ? verifyRequestToken(token, deps.verify) : ctx.peer.eventHub(`${entity.name.toLowerCase()}/$management`) !== undefined;
      if (authorized !== true)
        return answer(
          401,
          typeof authorized === 'string' ? authorized : 'The request carries no security_token and the connection has no token for $management.',
          undefined,
          'amqp:unauthorized-access',
        );
      if (props.operation !== 'READ') return answer(400, `Unsupported operation '${String(props.operation)}'.`, undefined, 'com.microsoft:argument-error');
      if (String(props.name ?? '').toLowerCase() !== entity.name.toLowerCase()) {
        return answer(
          404,
          `The messaging entity '${String(props.name)}' could not be found; this hub's Event Hubs-compatible name is '${entity.name}'.`,
          undefined,
          'amqp:not-found',
        );
      }
      const partitionIds = Array.from({ length: entity.log.partitionCount }, (_, i) => String(i));
      if (props.type === 'com.microsoft:eventhub') {
        return answer(200, 'OK', {
          name: entity.name,
          type: 'com.microsoft:eventhub',
          created_at: entity.createdAt,
          partition_count: rhea.types.wrap_int(partitionIds.length),
          partition_ids: partitionIds,
        });
      }
      if (props.type === 'com.microsoft:partition') {
        const partition = String(props.partition ?? '');
        if (!partitionIds.includes(partition))
          return answer(404, `Partition '${partition}' does not exist; the partitions are 0 to ${partitionIds.length - 1}.`, undefined, 'amqp:not-found');
        const info = entity.log.info(Number(partition));
        return answer(200, 'OK', {
          name: entity.name,
          type: 'com.microsoft:partition',
          partition,
          begin_sequence_number: rhea.types.wrap_long(
            info.isEmpty ? (info.lastSequenceNumber === -1 ? -1 : info.lastSequenceNumber + 1) : info.beginSequenceNumber,
          ),
          last_enqueued_sequence_number: rhea.types.wrap_long(info.lastSequenceNumber),
          last_enqueued_offset: String(info.lastOffset),
          last_enqueued_time_utc: new Date(info.lastEnqueuedMs),
          is_partition_empty: info.isEmpty,
        });
      }
      answer(400, `Unsupported type '${String(props.type)}'.`, undefined, 'com.microsoft:argument-error');
    });
  });
}

/** true, or why the token is refused. */
function verifyRequestToken(token: string, verify: (audience: string, token: string) => ClaimResult): true | string {
  const sr = /(?:^|[\s&])sr=([^&]+)/.exec(token)?.[1];
  if (!sr) return 'The security_token is not a SharedAccessSignature.';
  const result = verify(sr, token);
  if (!result.ok) return result.description;
  const claim = result.claim;
  if (claim.kind === 'eventHub' || (claim.kind === 'service' && claim.policy.rights.includes('ServiceConnect'))) return true;
  return 'Only a policy with ServiceConnect can read the Event Hubs-compatible endpoint.';
}
