import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isJsonObject, type JsonObject } from '../twin/json.js';

/**
 * The devices a hub starts with (`--seed FILE`, `startEmulator({ seed })`), e.g. in YAML:
 *
 *   devices:
 *     - deviceId: door-7
 *       tags: { building: '43' }
 *       desired: { lockTimeoutSeconds: 30 }
 *       reported: { firmware: 1.2.0 }
 *       primaryKey: ...   # optional: a device connection string that never changes
 */
export interface Seed {
  devices: SeedDevice[];
}

export interface SeedDevice {
  deviceId: string;
  status?: 'enabled' | 'disabled';
  tags?: JsonObject;
  desired?: JsonObject;
  reported?: JsonObject;
  /** base64 symmetric keys; generated when absent */
  primaryKey?: string;
  secondaryKey?: string;
}

const deviceFields = new Set(['deviceId', 'status', 'tags', 'desired', 'reported', 'primaryKey', 'secondaryKey']);

export class SeedError extends Error {}

/** Reads a seed file: `.json` as JSON, anything else as YAML (which also reads JSON). */
export function loadSeedFile(file: string): Seed {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SeedError(`Cannot read the seed file ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = path.extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new SeedError(`The seed file ${file} is not valid ${path.extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  return parseSeed(value, file);
}

/**
 * Checks a seed's shape and names the first problem by its place in the file. Unknown fields are
 * refused, so a misspelt `desried` fails loudly instead of seeding nothing. Values inside tags
 * and properties are checked by the hub when the seed is applied.
 */
export function parseSeed(value: unknown, source = 'the seed'): Seed {
  if (!isJsonObject(value)) throw new SeedError(`${source}: expected an object with a 'devices' list`);
  for (const key of Object.keys(value)) {
    if (key !== 'devices') throw new SeedError(`${source}: unknown field '${key}' (a seed has only 'devices')`);
  }
  const list = value.devices ?? [];
  if (!Array.isArray(list)) throw new SeedError(`${source}: 'devices' must be a list`);
  const seen = new Set<string>();
  const devices = list.map((item, index): SeedDevice => {
    const where = `${source}: devices[${index}]`;
    if (!isJsonObject(item)) throw new SeedError(`${where} must be an object`);
    for (const key of Object.keys(item)) {
      if (!deviceFields.has(key)) throw new SeedError(`${where}: unknown field '${key}' (use ${[...deviceFields].join(', ')})`);
    }
    const { deviceId, status, tags, desired, reported, primaryKey, secondaryKey } = item;
    if (typeof deviceId !== 'string' || deviceId.length === 0) throw new SeedError(`${where}: 'deviceId' must be a non-empty string`);
    if (seen.has(deviceId)) throw new SeedError(`${where}: device '${deviceId}' is listed twice`);
    seen.add(deviceId);
    const device: SeedDevice = { deviceId };
    if (status !== undefined) {
      if (status !== 'enabled' && status !== 'disabled') throw new SeedError(`${where}: 'status' must be enabled or disabled`);
      device.status = status;
    }
    for (const [name, section] of [
      ['tags', tags],
      ['desired', desired],
      ['reported', reported],
    ] as const) {
      if (section === undefined) continue;
      if (!isJsonObject(section)) throw new SeedError(`${where}: '${name}' must be an object`);
      device[name] = section;
    }
    for (const [name, key] of [
      ['primaryKey', primaryKey],
      ['secondaryKey', secondaryKey],
    ] as const) {
      if (key === undefined) continue;
      if (typeof key !== 'string') throw new SeedError(`${where}: '${name}' must be a base64 string`);
      device[name] = key;
    }
    return device;
  });
  return { devices };
}
