import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// docs/testing.md promises copy-paste runnable vitest and jest sections; CI runs
// examples/vitest and examples/jest (examples/run.sh). This keeps the two identical.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const docs = readFileSync(path.join(root, 'docs/testing.md'), 'utf8');

function section(title: string): string {
  const start = docs.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/testing.md has no '## ${title}' section`);
  const end = docs.indexOf('\n## ', start + 1);
  return docs.slice(start, end < 0 ? undefined : end);
}

/** `**\`file\`**` followed by a fenced block: the file a reader should create, and its text. */
function fileBlocks(text: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const match of text.matchAll(/\*\*`([^`]+)`\*\*[^\n]*\n\n```\w*\n([\s\S]*?)```/g)) blocks.set(match[1], match[2]);
  return blocks;
}

const readExample = (example: string, file: string): string => readFileSync(path.join(root, 'examples', example, file), 'utf8');

describe('docs/testing.md shows the example projects exactly', () => {
  it.each(['vitest', 'jest'])('%s: every file the section shows is the example’s file', (example) => {
    const blocks = fileBlocks(section(example));
    expect([...blocks.keys()].length).toBeGreaterThanOrEqual(3);
    for (const [file, text] of blocks) {
      if (file === 'package.json') continue;
      expect(text, file).toBe(readExample(example, file));
    }
  });

  it('jest: the package.json fields shown are the example’s', () => {
    const shown = JSON.parse(fileBlocks(section('jest')).get('package.json')!) as Record<string, unknown>;
    const actual = JSON.parse(readExample('jest', 'package.json')) as Record<string, unknown>;
    for (const [key, value] of Object.entries(shown)) expect(actual[key], key).toEqual(value);
  });

  it('vitest: the package.json fields the text names are the example’s', () => {
    const actual = JSON.parse(readExample('vitest', 'package.json')) as { type: string; scripts: Record<string, string> };
    expect(section('vitest')).toContain('Add `"type": "module"` and `"scripts": { "test": "vitest run" }` to `package.json`');
    expect(actual.type).toBe('module');
    expect(actual.scripts.test).toBe('vitest run');
  });

  it('both examples depend on the package by path and on the SDKs the sections install', () => {
    for (const example of ['vitest', 'jest']) {
      const pkg = JSON.parse(readExample(example, 'package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
      expect(pkg.devDependencies['iothub-emulator']).toBe('file:../..');
      const install = section(example).match(/```sh\n([\s\S]*?)```/)![1];
      for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)].filter((n) => n !== 'iothub-emulator')) {
        expect(install, `${example} installs ${name}`).toContain(` ${name}`);
      }
    }
  });

  it('keeps the anchor the README links to', () => {
    expect(docs).toContain('\n## Running without root\n');
  });
});
