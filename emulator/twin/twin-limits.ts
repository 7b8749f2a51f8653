import { HubError } from '../errors.js';
import { isJsonObject, type Json, type JsonObject } from './json.js';
import { previewMerge } from './twin-merge.js';
import {
  TWIN_KEY_MAX_BYTES,
  TWIN_MAX_DEPTH,
  TWIN_MAX_INTEGER,
  TWIN_MIN_INTEGER,
  TWIN_PROPERTIES_MAX_BYTES,
  TWIN_STRING_MAX_BYTES,
  TWIN_TAGS_MAX_BYTES,
} from '../limits.js';

// Content rules of twin sections (docs/protocol.md §2.2); the numbers are in limits.ts.
const MAX_DEPTH = TWIN_MAX_DEPTH;
const KEY_MAX_BYTES = TWIN_KEY_MAX_BYTES;
const STRING_MAX_BYTES = TWIN_STRING_MAX_BYTES;
const MAX_SAFE = TWIN_MAX_INTEGER;
const MIN_SAFE = TWIN_MIN_INTEGER;
// C0 and C1 control characters, '.', '$' and space may not appear in a key.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the hub's rule is about exactly these characters.
const FORBIDDEN_KEY_CHAR = /[\u0000-\u001f\u007f-\u009f.$ ]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the size rule leaves out exactly these characters.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/g;

export type SectionName = 'tags' | 'desired' | 'reported';

/**
 * Checks a patch (or a replacement) for one section. `allowNull` is true for merge patches,
 * where null deletes. Throws a 400 HubError naming the offending path.
 */
export function validateSection(section: SectionName, value: JsonObject, allowNull: boolean): void {
  walk(value, section === 'tags' ? 'tags' : `properties.${section}`, 0, allowNull);
}

function walk(object: JsonObject, path: string, depth: number, allowNull: boolean): void {
  if (depth > MAX_DEPTH) {
    throw new HubError('ArgumentInvalid', `Twin property '${path}' exceeds the maximum nesting depth of ${MAX_DEPTH}.`);
  }
  for (const key of Object.keys(object)) {
    if (key.length === 0) throw new HubError('ArgumentInvalid', `Twin property names cannot be empty (in '${path}').`);
    if (FORBIDDEN_KEY_CHAR.test(key)) {
      throw new HubError('ArgumentInvalid', `Twin property name '${path}.${key}' contains a forbidden character ('.', '$', space or a control character).`);
    }
    if (!fitsBytes(key, KEY_MAX_BYTES)) {
      throw new HubError('ArgumentInvalid', `Twin property name '${`${path}.${key}`.slice(0, 64)}…' is longer than ${KEY_MAX_BYTES} bytes.`);
    }
    const value = object[key];
    // A leaf that passes (most of any patch) needs no path: it is built only for a deeper level or an error.
    if ((typeof value === 'object' && value !== null) || !leafPasses(value, allowNull)) checkValue(value, `${path}.${key}`, depth, allowNull);
  }
}

/** Whether a leaf value passes checkValue (which, given one that does not, throws its error). */
function leafPasses(value: Json, allowNull: boolean): boolean {
  switch (typeof value) {
    case 'string':
      return fitsBytes(value, STRING_MAX_BYTES);
    case 'number':
      return Number.isFinite(value) && (!Number.isInteger(value) || (value <= MAX_SAFE && value >= MIN_SAFE));
    case 'boolean':
      return true;
  }
  return value === null && allowNull;
}

/** Buffer.byteLength(text) <= max, without measuring text whose UTF-16 length settles it (a code unit is at most 3 UTF-8 bytes). */
function fitsBytes(text: string, max: number): boolean {
  return text.length * 3 <= max || Buffer.byteLength(text) <= max;
}

function checkValue(value: Json, path: string, depth: number, allowNull: boolean): void {
  if (value === null) {
    if (!allowNull) throw new HubError('ArgumentInvalid', `Twin property '${path}' cannot be null here.`);
    return;
  }
  switch (typeof value) {
    case 'string':
      if (!fitsBytes(value, STRING_MAX_BYTES)) {
        throw new HubError('ArgumentInvalid', `Twin property '${path}' is a string longer than ${STRING_MAX_BYTES} bytes.`);
      }
      return;
    case 'number':
      if (!Number.isFinite(value) || (Number.isInteger(value) && (value > MAX_SAFE || value < MIN_SAFE))) {
        throw new HubError('ArgumentInvalid', `Twin property '${path}' is a number outside the supported range [${MIN_SAFE}, ${MAX_SAFE}].`);
      }
      return;
    case 'boolean':
      return;
  }
  if (Array.isArray(value)) {
    // EMULATOR CHOICE (docs/protocol.md §2.2): arrays are accepted, as IoT Edge's IoT Hub validator does, but not null elements.
    value.forEach((element, i) => {
      if (element === null) throw new HubError('ArgumentInvalid', `Twin property '${path}[${i}]': arrays cannot contain null.`);
      checkValue(element, `${path}[${i}]`, depth + 1, false);
    });
    return;
  }
  if (isJsonObject(value)) {
    walk(value, path, depth + 1, allowNull);
    return;
  }
  throw new HubError('ArgumentInvalid', `Twin property '${path}' has an unsupported value.`);
}

/** The hub's size measure: key and string lengths (control characters excluded), 8 per number, 4 per boolean. */
export function sectionSize(value: Json): number {
  if (value === null) return 0;
  switch (typeof value) {
    case 'string':
      return Buffer.byteLength(value.replace(CONTROL_CHARS, ''));
    case 'number':
      return 8;
    case 'boolean':
      return 4;
  }
  if (Array.isArray(value)) return value.reduce<number>((sum, v) => sum + sectionSize(v), 0);
  let size = 0;
  for (const key of Object.keys(value)) size += Buffer.byteLength(key) + sectionSize(value[key]);
  return size;
}

/**
 * An upper bound of sectionSize(value) from UTF-16 lengths alone (a code unit is at most 3 UTF-8
 * bytes, and dropping control characters only shrinks a string): no regex and no byte count per
 * string. Measuring every key and string exactly was a third of a bulk-registered device's twin
 * checks, for sections that are almost always far below the limit.
 */
function sizeBound(value: Json): number {
  if (value === null) return 0;
  switch (typeof value) {
    case 'string':
      return value.length * 3;
    case 'number':
      return 8;
    case 'boolean':
      return 4;
  }
  if (Array.isArray(value)) {
    let sum = 0;
    for (const v of value) sum += sizeBound(v);
    return sum;
  }
  let size = 0;
  for (const key of Object.keys(value)) size += key.length * 3 + sizeBound(value[key]);
  return size;
}

/**
 * checkSectionSize of what merging `patch` into `current` would produce. The merge holds no key
 * and no value that is in neither, so the two bounds summed bound it: only when they leave it
 * open is the merge built to be measured (building it for every device of a twin job was
 * garbage for nothing, twins being far below the limit).
 */
export function checkMergedSectionSize(section: SectionName, current: JsonObject, patch: JsonObject): void {
  const limit = section === 'tags' ? TWIN_TAGS_MAX_BYTES : TWIN_PROPERTIES_MAX_BYTES;
  if (sizeBound(current) + sizeBound(patch) <= limit) return;
  checkSectionSize(section, previewMerge(current, patch));
}

export function checkSectionSize(section: SectionName, value: JsonObject): void {
  const limit = section === 'tags' ? TWIN_TAGS_MAX_BYTES : TWIN_PROPERTIES_MAX_BYTES;
  // The exact measure only where the bound leaves it open (and for the error's figure).
  if (sizeBound(value) <= limit) return;
  const size = sectionSize(value);
  if (size > limit) {
    const name = section === 'tags' ? 'tags' : `properties.${section}`;
    throw new HubError('ArgumentInvalid', `Twin ${name} would be ${size} bytes, over the limit of ${limit} bytes.`);
  }
}
