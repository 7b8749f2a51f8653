import { type DeviceAuthentication, type DeviceRecord, NEVER } from '../identity/device-record.js';
import type { JsonObject } from '../twin/json.js';
import type { Section } from '../twin/twin-merge.js';

/**
 * The text of a device record in the `devices.record` column: a JSON array of its fields in a
 * fixed order, led by the format number, rather than the record object itself. Without the
 * ~300 characters of field names (and with the never-set times as null) a freshly registered
 * device is about half the text: writing it (JSON.stringify, the SQLite insert, its WAL pages)
 * was a third of bulk registration's cost, and reading it back parses half as much.
 *
 * Rows written before this format are JSON objects (`{…}`, the record as it was) and are read
 * as such; each is rewritten in this format by its next whole-record save. Nothing but the
 * device store reads the column: a migration that needs a field must read both forms (or use
 * the status and twin columns).
 *
 * `connectionState` is not stored: every record read from disk is Disconnected (the store says
 * so). Every other field of DeviceRecord is (ENCODED_FIELDS makes a new one a compile error here).
 */
const FORMAT = 1;

type Encoded = [
  format: number,
  deviceId: string,
  generationId: string,
  etagVersion: number,
  status: DeviceRecord['status'],
  statusReason: string | null,
  statusUpdatedTime: string | null,
  authenticationType: DeviceAuthentication['type'],
  primaryKey: string | null,
  secondaryKey: string | null,
  primaryThumbprint: string | null,
  secondaryThumbprint: string | null,
  iotEdge: 0 | 1,
  connectionStateUpdatedTime: string | null,
  lastActivityTime: string | null,
  cloudToDeviceMessageCount: number,
  modelId: string,
  tags: JsonObject,
  desired: Section,
  reported: Section,
  twinVersion: number,
  twinEtag: number,
  deviceScope?: string | null,
  parentScopes?: string[] | null,
];

// Every field of DeviceRecord is either encoded or named here as deliberately left out.
const ENCODED_FIELDS = [
  'deviceId',
  'generationId',
  'etagVersion',
  'status',
  'statusReason',
  'statusUpdatedTime',
  'authentication',
  'capabilities',
  'deviceScope',
  'parentScopes',
  'connectionState',
  'connectionStateUpdatedTime',
  'lastActivityTime',
  'cloudToDeviceMessageCount',
  'modelId',
  'twin',
] as const satisfies readonly (keyof DeviceRecord)[];
type Unencoded = Exclude<keyof DeviceRecord, (typeof ENCODED_FIELDS)[number]>;
const allFieldsEncoded: [Unencoded] extends [never] ? true : never = true;
void allFieldsEncoded;

/** Where each twin part lies in the encoded array (Encoded above). */
const TWIN_PART_AT = { tags: 17, desired: 18, reported: 19 } as const;

/**
 * SQL reading one twin part of `column` (a device record's text) in either form, without
 * parsing the rest in JavaScript (the background index build: DeviceStore.indexSlice).
 */
export function twinPartSql(column: string, part: keyof typeof TWIN_PART_AT): string {
  return `CASE WHEN substr(${column}, 1, 1) = '[' THEN json_extract(${column}, '$[${TWIN_PART_AT[part]}]') ELSE json_extract(${column}, '$.twin.${part}') END`;
}

/** NEVER (a time not set yet) is stored as null. */
const time = (value: string): string | null => (value === NEVER ? null : value);
const untime = (value: string | null): string => value ?? NEVER;

export function encodeDevice(record: DeviceRecord): string {
  const auth = record.authentication;
  const twin = record.twin;
  const encoded: Encoded = [
    FORMAT,
    record.deviceId,
    record.generationId,
    record.etagVersion,
    record.status,
    record.statusReason,
    time(record.statusUpdatedTime),
    auth.type,
    auth.symmetricKey.primaryKey,
    auth.symmetricKey.secondaryKey,
    auth.x509Thumbprint.primaryThumbprint,
    auth.x509Thumbprint.secondaryThumbprint,
    record.capabilities.iotEdge ? 1 : 0,
    time(record.connectionStateUpdatedTime),
    time(record.lastActivityTime),
    record.cloudToDeviceMessageCount,
    record.modelId,
    twin.tags,
    twin.desired,
    twin.reported,
    twin.version,
    twin.etag,
  ];
  // Edge scopes only where the record has them (absent and '' answer differently).
  if (record.deviceScope !== undefined || record.parentScopes !== undefined) encoded.push(record.deviceScope ?? null, record.parentScopes ?? null);
  return JSON.stringify(encoded);
}

/** A record from its stored text, in either form (see above); connectionState is Disconnected. */
export function decodeDevice(text: string): DeviceRecord {
  if (text.charCodeAt(0) !== 0x5b /* [ */) return JSON.parse(text) as DeviceRecord;
  const e = JSON.parse(text) as Encoded;
  if (e[0] !== FORMAT) throw new Error(`A device record is stored in format ${String(e[0])}, which this version of the emulator does not read.`);
  // Fields in the order prepareCreate builds them (the same object shape, the same JSON key order).
  const record: DeviceRecord = {
    deviceId: e[1],
    generationId: e[2],
    etagVersion: e[3],
    status: e[4],
    statusReason: e[5],
    statusUpdatedTime: untime(e[6]),
    authentication: {
      type: e[7],
      symmetricKey: { primaryKey: e[8], secondaryKey: e[9] },
      x509Thumbprint: { primaryThumbprint: e[10], secondaryThumbprint: e[11] },
    },
    capabilities: { iotEdge: e[12] === 1 },
    connectionState: 'Disconnected',
    connectionStateUpdatedTime: untime(e[13]),
    lastActivityTime: untime(e[14]),
    cloudToDeviceMessageCount: e[15],
    modelId: e[16],
    twin: { tags: e[17], desired: e[18], reported: e[19], version: e[20], etag: e[21] },
  };
  if (e.length > 22) {
    if (e[22] !== null && e[22] !== undefined) record.deviceScope = e[22];
    if (e[23] !== null && e[23] !== undefined) record.parentScopes = e[23];
  }
  return record;
}
