// The docs promise things "tested by" named tests, and list every error code. These checks keep the
// promises pointing at tests that exist, and the table complete, as both change.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/index.js';

const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const read = (p: string) => fs.readFileSync(path.join(root, p), 'utf8');
const flat = (s: string) => s.replace(/\s+/g, ' ');

/** Every `file.test.ts › name` in a doc (names may be cut short with "..." or "…", or list alternatives with " / "). */
function citations(doc: string): Array<{ file: string; name: string }> {
  const out: Array<{ file: string; name: string }> = [];
  let file = '';
  for (const m of flat(doc).matchAll(/`(?:([\w-]+\.test\.ts) )?› ([^`]+)`/g)) {
    file = m[1] ?? file;
    for (const alt of m[2]!.split(' / ')) {
      const name = alt.replace(/\s*(\.\.\.|…)\s*$/, '').trim();
      if (name !== '') out.push({ file, name });
    }
  }
  return out;
}

describe('docs', () => {
  it('every test a doc names exists', () => {
    const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const missing: string[] = [];
    let n = 0;
    for (const d of docs) {
      for (const { file, name } of citations(read(d))) {
        n++;
        const source = fs.existsSync(path.join(root, 'test', file)) ? flat(read(`test/${file}`)) : '';
        // The cited text is a test's name or its start; an it.each title is matched piece by piece around its placeholders.
        const pieces = name.split(/\$\w+|%s/).map((p) => p.trim()).filter((p) => p !== '');
        if (pieces.length === 0 || !pieces.every((p) => source.includes(p))) missing.push(`${d}: ${file} › ${name}`);
      }
    }
    expect(missing).toEqual([]);
    expect(n).toBeGreaterThan(20);
  });

  it('docs/errors.md has a row for every error code', () => {
    const doc = read('docs/errors.md');
    const undocumented = Object.keys(ErrorCode).filter((c) => !doc.includes(`| \`${c}\` |`));
    expect(undocumented).toEqual([]);
  });
});
