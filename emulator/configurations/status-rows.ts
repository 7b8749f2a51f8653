import type { JsonObject } from '../twin/json.js';

const MEMBER = 'configurations';

/**
 * A twin as a configuration's metric queries see it (docs/protocol.md §17): its view with a
 * `configurations` member holding the twin's statuses, exactly as `{ ...view, configurations }`
 * would read (property reads, `in`, own keys and their order, descriptors), without copying the
 * view: a metric query reads every twin of the hub, and copying 100,000 views per GET cost over
 * ten times the query itself. The row is read-only, as twin views are.
 */
export function statusRows(statuses: JsonObject): (view: object) => object {
  const handler: ProxyHandler<object> = {
    get: (target, key) => (key === MEMBER ? statuses : Reflect.get(target, key)),
    has: (target, key) => key === MEMBER || Reflect.has(target, key),
    ownKeys: (target) => {
      const keys = Reflect.ownKeys(target).filter((k) => k !== MEMBER);
      keys.push(MEMBER);
      return keys;
    },
    getOwnPropertyDescriptor: (target, key) =>
      key === MEMBER ? { value: statuses, writable: false, enumerable: true, configurable: true } : Reflect.getOwnPropertyDescriptor(target, key),
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  };
  return (view) => new Proxy(view, handler);
}
