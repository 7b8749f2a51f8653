import type { Receiver, Sender } from 'rhea';
import { moduleKey } from '../identity/module-record.js';
import type { LinkAccess, LinkHandler, LinkRoutes } from './link-routes.js';

/**
 * Where an identity's links live (docs/protocol.md §12.3): a device's under `/devices/{id}`, a
 * module's under `/devices/{id}/modules/{mid}`, each needing a claim for exactly that identity.
 */
const IDENTITY_PREFIXES: readonly { readonly prefix: string; readonly access: LinkAccess }[] = [
  { prefix: '/devices/{deviceId}', access: { device: 'deviceId' } },
  { prefix: '/devices/{deviceId}/modules/{moduleId}', access: { device: 'deviceId', module: 'moduleId' } },
];

/** The connection key a link's `{deviceId}` (and `{moduleId}`) params name: a device id, or `{deviceId}/{moduleId}`. */
export function identityKeyOf(params: Readonly<Record<string, string>>): string {
  return params.moduleId === undefined ? params.deviceId : moduleKey(params.deviceId, params.moduleId);
}

/**
 * Registers a link a device and a module attach alike (twin, methods, telemetry) under both
 * prefixes: `suffix` is the path after the identity (`/twin`). The handler reads
 * `ctx.params.deviceId` as the identity's CONNECTION KEY — the key the services use, a device id
 * or `{deviceId}/{moduleId}` — so a module's twin, methods and telemetry are its own and never
 * its device's or a sibling's; `ctx.params.moduleId` is set for a module.
 */
export function identityRoutes(routes: LinkRoutes): {
  sending(suffix: string, handler: LinkHandler<Sender>): void;
  receiving(suffix: string, handler: LinkHandler<Receiver>): void;
} {
  const keyed =
    <L extends Sender | Receiver>(handler: LinkHandler<L>): LinkHandler<L> =>
    (ctx) =>
      handler({ ...ctx, params: { ...ctx.params, deviceId: identityKeyOf(ctx.params) } });
  return {
    sending(suffix, handler) {
      for (const { prefix, access } of IDENTITY_PREFIXES) routes.sending(`${prefix}${suffix}`, access, keyed(handler));
    },
    receiving(suffix, handler) {
      for (const { prefix, access } of IDENTITY_PREFIXES) routes.receiving(`${prefix}${suffix}`, access, keyed(handler));
    },
  };
}
