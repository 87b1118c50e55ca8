// The floors of src/ (docs/design.md, "The floors"), read from the import lines themselves: an
// import that points up a floor, a core file named from outside the package entries, or a cycle
// fails here before a reader of the tree is misled by it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const src = path.join(root, 'src');

/** Each folder's floor, as docs/design.md draws them; folders on one floor do not import each other. */
const FLOORS: Record<string, number> = {
  'errors.ts': 0,
  format: 1, fs: 1, native: 1,
  scan: 2,
  read: 3, write: 3,
  positions: 4,
  compact: 5,
  consume: 6,
  'index.ts': 7,
  ui: 8,
  cli: 9, nats: 9, pino: 9,
};

/** The folders that use the library as its users do: through the package's name only. */
const USERS = new Set(['cli', 'nats', 'pino', 'ui']);

interface Import {
  from: string;
  line: number;
  spec: string;
  /** The file it names, relative to src/, for a relative import. */
  to: string | null;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'build' || e.name === 'page' ? [] : sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => {
    const spec = (m[1] ?? m[2])!;
    const line = text.slice(0, m.index + m[0].indexOf(m[1] !== undefined ? 'from' : 'import(')).split('\n').length;
    const to = spec.startsWith('.') ? path.relative(src, path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts') : null;
    return { from: path.relative(src, file), line, spec, to };
  });
}

const top = (f: string) => f.split(path.sep)[0]!;
const imports = sourceFiles(src).flatMap(importsOf);

describe('floors', () => {
  it('finds the import lines it checks', () => {
    expect(imports.length).toBeGreaterThan(300);
    expect(imports.some((i) => i.from === path.join('cli', 'commands', 'verify.ts') && i.spec === 'jsonl-journal')).toBe(true);
  });

  it('an import that points up a floor, or across to a folder on the same floor, is refused', () => {
    const bad: string[] = [];
    for (const i of imports) {
      if (i.to === null || top(i.from) === top(i.to)) continue;
      const a = FLOORS[top(i.from)];
      const b = FLOORS[top(i.to)];
      if (a === undefined || b === undefined || b >= a) bad.push(`${i.from}:${i.line} imports ${i.spec}`);
    }
    expect(bad).toEqual([]);
  });

  it('the CLI, the NATS bridge, pino and the console name no core file: they import the package entries', () => {
    const bad = imports.filter((i) => USERS.has(top(i.from)) && i.to !== null && !USERS.has(top(i.to)));
    expect(bad.map((i) => `${i.from}:${i.line} imports ${i.spec}`)).toEqual([]);
  });

  it('no import cycle, between files or between folders', () => {
    const graph = new Map<string, Set<string>>();
    const folders = new Map<string, Set<string>>();
    for (const i of imports) {
      if (i.to === null) continue;
      if (!graph.has(i.from)) graph.set(i.from, new Set());
      graph.get(i.from)!.add(i.to);
      if (top(i.from) !== top(i.to)) {
        if (!folders.has(top(i.from))) folders.set(top(i.from), new Set());
        folders.get(top(i.from))!.add(top(i.to));
      }
    }
    expect(cycle(graph)).toBeNull();
    expect(cycle(folders)).toBeNull();
  });

  it('a file that does not open with a line or three on its job (none, or an essay that belongs in docs) is refused', () => {
    const long: string[] = [];
    for (const file of sourceFiles(src)) {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      let i = lines[0]!.startsWith('#!') ? 1 : 0;
      let n = 0;
      if (lines[i]!.startsWith('/*')) {
        if (lines[i]!.includes('*/')) n = 1;
        else while (!lines[++i]!.includes('*/')) n++;
      } else {
        while (lines[i]!.startsWith('//')) (i++, n++);
      }
      if (n === 0 || n > 3) long.push(`${path.relative(src, file)}: ${n} lines`);
    }
    expect(long).toEqual([]);
  });
});

/** One cycle of `graph` as a list of its nodes, or null. */
function cycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const trail: string[] = [];
  const visit = (v: string): string[] | null => {
    state.set(v, 'open');
    trail.push(v);
    for (const w of graph.get(v) ?? []) {
      if (state.get(w) === 'open') return [...trail.slice(trail.indexOf(w)), w];
      if (state.get(w) === undefined) {
        const found = visit(w);
        if (found) return found;
      }
    }
    trail.pop();
    state.set(v, 'done');
    return null;
  };
  for (const v of graph.keys()) {
    if (state.get(v) === undefined) {
      const found = visit(v);
      if (found) return found;
    }
  }
  return null;
}
