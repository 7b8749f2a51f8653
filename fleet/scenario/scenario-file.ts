import { readFileSync } from 'node:fs';
import YAML from 'yaml';

/**
 * Reads a scenario file (YAML, and so JSON too) into setting name → raw value, through `keys`
 * (dotted file path → setting name). Unknown keys are refused, so a typo does not go unnoticed.
 */
export function readScenarioFile(file: string, keys: ReadonlyMap<string, string>): Map<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`--scenario: cannot read ${file}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = YAML.parse(text);
  } catch (error) {
    throw new Error(`--scenario: ${file} is neither YAML nor JSON: ${(error as Error).message}`);
  }
  if (document === null || document === undefined) return new Map();
  if (typeof document !== 'object' || Array.isArray(document)) throw new Error(`--scenario: ${file} must hold an object of settings`);

  const sections = new Set([...keys.keys()].filter((k) => k.includes('.')).map((k) => k.split('.')[0]));
  const values = new Map<string, unknown>();
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(document as Record<string, unknown>)) {
    if (sections.has(key) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>)) {
        const name = keys.get(`${key}.${inner}`);
        if (name) values.set(name, innerValue);
        else unknown.push(`${key}.${inner}`);
      }
      continue;
    }
    const name = keys.get(key);
    if (name) values.set(name, value);
    else unknown.push(key);
  }
  if (unknown.length) {
    throw new Error(`--scenario: ${file} has unknown setting(s) ${unknown.join(', ')}; known: ${[...keys.keys()].join(', ')}`);
  }
  return values;
}
