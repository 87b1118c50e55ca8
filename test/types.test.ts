// Typed records are types only: what proves them is the compiler. test/types/records.ts holds the
// lines that must compile and those that must not (`@ts-expect-error`, which tsc reports when the
// error it expects does not come); this runs the project's own tsc over it.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

describe('typed records', () => {
  it("a record of the wrong type does not compile for append, appendMany, appendRecords or a consumer, and readers, consumers and compact's callbacks get the journal's type (a string with data: 'text')", () => {
    const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'test/types/tsconfig.json')], {
      cwd: ROOT, encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });
});
