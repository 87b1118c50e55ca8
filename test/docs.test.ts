// The docs promise things "tested by" named tests, and list every error code. These checks keep the
// promises pointing at tests that exist, and the table complete, as both change.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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

  it('the README\'s example runs verbatim in a project that installed the package, and so do its shell lines', () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## Example'));
    const code = /```js\n([\s\S]*?)```/.exec(section)![1]!;
    const shell = /```sh\n([\s\S]*?)```/.exec(section)![1]!.split('\n').filter((l) => l.trim() !== '');
    // A project with the package installed: node_modules/jsonl-journal and its bin.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jj-readme-'));
    try {
      fs.mkdirSync(path.join(dir, 'node_modules/.bin'), { recursive: true });
      fs.symlinkSync(root, path.join(dir, 'node_modules/jsonl-journal'));
      fs.symlinkSync(path.join(root, 'dist/cli/main.js'), path.join(dir, 'node_modules/.bin/journal'));
      fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"app","private":true,"type":"module"}\n');
      fs.writeFileSync(path.join(dir, 'example.mjs'), code);
      const run = spawnSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout.split('\n');
      expect(lines.slice(0, 3).map((l) => l.split(' ')[0])).toEqual(['1', '2', '3']);
      expect(run.stdout).toMatch(/ok: true/);
      const bin = path.dirname(process.execPath);
      for (const line of shell) {
        const r = spawnSync('sh', ['-c', line], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
        expect(r.status, `${line}\n${r.stderr}`).toBe(0);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
