// IoT Hub's MQTT topic names (docs/protocol.md §1.6). Both the hub and the fleet's light engine use these,
// so the two sides of the wire cannot drift apart.

export const TWIN_RESPONSE_FILTER = '$iothub/twin/res/#';
export const DESIRED_FILTER = '$iothub/twin/PATCH/properties/desired/#';
export const METHODS_FILTER = '$iothub/methods/POST/#';

export const c2dFilter = (deviceId: string): string => `devices/${deviceId}/messages/devicebound/#`;
/** A module's input messages (docs/protocol.md §1.6), which IoT Edge's hub delivers; IoT Hub itself sends none. */
export const moduleInputsFilter = (deviceId: string, moduleId: string): string => `devices/${deviceId}/modules/${moduleId}/inputs/#`;

/**
 * The path an identity's own topics start with: `{deviceId}`, or for a module (client id
 * `{deviceId}/{moduleId}`, docs/protocol.md §1.2) `{deviceId}/modules/{moduleId}`.
 */
export function identityPath(clientId: string): string {
  const slash = clientId.indexOf('/');
  return slash < 0 ? clientId : `${clientId.slice(0, slash)}/modules/${clientId.slice(slash + 1)}`;
}
export const telemetryTopic = (deviceId: string, propertyBag = ''): string => `devices/${deviceId}/messages/events/${propertyBag}`;
export const twinGetTopic = (rid: string): string => `$iothub/twin/GET/?$rid=${rid}`;
export const reportedPatchTopic = (rid: string): string => `$iothub/twin/PATCH/properties/reported/?$rid=${rid}`;
export const methodResponseTopic = (status: number, rid: string): string => `$iothub/methods/res/${status}/?$rid=${rid}`;
export const twinResponseTopic = (status: number, rid: string, version?: number): string =>
  `$iothub/twin/res/${status}/?$rid=${rid}${version === undefined ? '' : `&$version=${version}`}`;
export const desiredPatchTopic = (version: number): string => `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
export const methodRequestTopic = (methodName: string, rid: string): string => `$iothub/methods/POST/${methodName}/?$rid=${rid}`;

/** The subscriptions a device (or module) may hold; anything else is refused (docs/protocol.md §1.9). */
export type SubscriptionKind = 'methods' | 'twinResponses' | 'desired' | 'c2d' | 'inputs';

/** `clientId` is the device id, or `{deviceId}/{moduleId}` for a module: modules get inputs instead of C2D. */
export function classifySubscription(deviceId: string, filter: string): SubscriptionKind | undefined {
  switch (filter) {
    case METHODS_FILTER:
      return 'methods';
    case TWIN_RESPONSE_FILTER:
      return 'twinResponses';
    case DESIRED_FILTER:
      return 'desired';
    default: {
      const slash = deviceId.indexOf('/');
      if (slash >= 0) return filter === moduleInputsFilter(deviceId.slice(0, slash), deviceId.slice(slash + 1)) ? 'inputs' : undefined;
      return filter === c2dFilter(deviceId) ? 'c2d' : undefined;
    }
  }
}

/** What a device published, as the hub understands it. */
export type DevicePublish =
  | { kind: 'telemetry'; properties: Record<string, string | null> }
  | { kind: 'twinGet'; rid: string }
  | { kind: 'reportedPatch'; rid: string }
  | { kind: 'methodResponse'; rid: string; status: number };

/** `deviceId` is the publisher's client id: a device id, or `{deviceId}/{moduleId}` for a module. */
export function parseDevicePublish(deviceId: string, topic: string): DevicePublish | undefined {
  const path = identityPath(deviceId);
  const telemetryPrefix = `devices/${path}/messages/events/`;
  if (topic.startsWith(telemetryPrefix)) {
    const properties = parsePropertyBag(topic.slice(telemetryPrefix.length));
    return properties ? { kind: 'telemetry', properties } : undefined;
  }
  if (topic === `devices/${path}/messages/events`) return { kind: 'telemetry', properties: {} };
  if (!topic.startsWith('$iothub/')) return undefined;
  const [topicPath, query = ''] = splitQuery(topic);
  const rid = ridOf(query);
  if (topicPath === '$iothub/twin/GET/' || topicPath === '$iothub/twin/GET') {
    return rid ? { kind: 'twinGet', rid } : undefined;
  }
  if (topicPath === '$iothub/twin/PATCH/properties/reported/' || topicPath === '$iothub/twin/PATCH/properties/reported') {
    return rid ? { kind: 'reportedPatch', rid } : undefined;
  }
  const method = /^\$iothub\/methods\/res\/(\d{1,9})\/?$/.exec(topicPath);
  if (method && rid) return { kind: 'methodResponse', rid, status: Number(method[1]) };
  return undefined;
}

/**
 * `$rid` of a device publish's query, as URLSearchParams reads it. The SDKs send `$rid=N` alone,
 * which needs no parser; anything with another field, an escape or a `+` goes through one.
 */
function ridOf(query: string): string | null {
  if (query.startsWith('$rid=') && !/[&%+]/.test(query)) return query.slice(5);
  return new URLSearchParams(query).get('$rid');
}

/** What the hub published to a device, as a device understands it. */
export type HubPublish =
  | { kind: 'twinResponse'; rid: string; status: number; version?: number }
  | { kind: 'desiredPatch'; version?: number }
  | { kind: 'methodRequest'; rid: string; methodName: string }
  | { kind: 'c2d'; properties: Record<string, string | null> };

export function parseHubPublish(topic: string): HubPublish | undefined {
  const [path, query = ''] = splitQuery(topic);
  const params = new URLSearchParams(query);
  const twin = /^\$iothub\/twin\/res\/(\d+)\/?$/.exec(path);
  if (twin) {
    const version = params.get('$version');
    return { kind: 'twinResponse', rid: params.get('$rid') ?? '', status: Number(twin[1]), version: version === null ? undefined : Number(version) };
  }
  if (path.startsWith('$iothub/twin/PATCH/properties/desired')) {
    const version = params.get('$version');
    return { kind: 'desiredPatch', version: version === null ? undefined : Number(version) };
  }
  const method = /^\$iothub\/methods\/POST\/([^/]+)\/?$/.exec(path);
  if (method) return { kind: 'methodRequest', methodName: method[1], rid: params.get('$rid') ?? '' };
  const c2d = /^devices\/[^/]+\/messages\/devicebound\/(.*)$/.exec(topic);
  if (c2d) return { kind: 'c2d', properties: parsePropertyBag(c2d[1]) ?? {} };
  return undefined;
}

/** `k=v&k2` → {k: 'v', k2: null}; undefined when the bag is not valid percent-encoding. */
export function parsePropertyBag(bag: string): Record<string, string | null> | undefined {
  const properties: Record<string, string | null> = {};
  if (!bag) return properties;
  try {
    for (const part of bag.split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      if (eq < 0) properties[decodeURIComponent(part)] = null;
      else properties[decodeURIComponent(part.slice(0, eq))] = decodeURIComponent(part.slice(eq + 1));
    }
  } catch {
    return undefined;
  }
  return properties;
}

export function buildPropertyBag(properties: Record<string, string | null | undefined>): string {
  return Object.entries(properties)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => (v === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v as string)}`))
    .join('&');
}

function splitQuery(topic: string): [string, string?] {
  const q = topic.indexOf('?');
  return q < 0 ? [topic] : [topic.slice(0, q), topic.slice(q + 1)];
}
