// The AMQP face (docs/protocol.md §10): listeners, SASL, CBS, link routing, device telemetry
// and the Event Hubs-compatible endpoint. Other faces' code registers links through `routes`
// (see link-routes.ts for the API).
export { AmqpServer, type AmqpServerDependencies } from './amqp-server.js';
export { AmqpOnlyDevicePresence, type DevicePresence } from './device-presence.js';
export { LinkRoutes, normalizeAddress, type LinkAccess, type LinkContext, type LinkHandler } from './link-routes.js';
export { AmqpPeer, type AmqpTransport, type DeviceClaim, type ServiceClaim, type EventHubClaim } from './peer.js';
export { payloadOf, propertiesOf } from './message-mapping.js';
export { registerTelemetryRoute } from './telemetry-route.js';
