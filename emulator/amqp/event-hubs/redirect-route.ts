import rhea from 'rhea';
import { AMQP_REDIRECT_DELAY_MS } from '../../limits.js';
import type { LinkRoutes } from '../link-routes.js';

/**
 * IoT Hub's `messages/events` on the hub host (docs/protocol.md §10.13): a
 * receiver attached there is detached with amqp:link:redirect naming the Event Hubs-compatible
 * endpoint, which is how Microsoft's sample turns a hub connection string into an Event Hubs one.
 * The detach comes a little after the attach: the sample listens for it only once attached.
 */
export function registerRedirectRoutes(routes: LinkRoutes, target: { hostName: string; entityName: string; port(): number }): void {
  const redirect = (suffix: (params: Record<string, string>) => string) => (ctx: Parameters<Parameters<LinkRoutes['sending']>[2]>[0]) => {
    const address = `amqps://${target.hostName}:${target.port()}/${target.entityName}${suffix(ctx.params)}`;
    setTimeout(() => {
      if (!ctx.link.is_open()) return;
      ctx.link.close({
        condition: 'amqp:link:redirect',
        description: `Use the Event Hubs-compatible endpoint: ${address}`,
        info: { hostname: target.hostName, 'network-host': target.hostName, port: rhea.types.wrap_int(target.port()), address },
      } as never);
    }, AMQP_REDIRECT_DELAY_MS);
  };
  routes.sending(
    '/messages/events',
    { service: 'ServiceConnect' },
    redirect(() => '/$management'),
  );
  routes.sending(
    '/messages/events/$management',
    { service: 'ServiceConnect' },
    redirect(() => '/$management'),
  );
  routes.sending(
    '/messages/events/ConsumerGroups/{consumerGroup}/Partitions/{partition}',
    { service: 'ServiceConnect' },
    redirect((p) => `/ConsumerGroups/${p.consumerGroup}/Partitions/${p.partition}`),
  );
}
