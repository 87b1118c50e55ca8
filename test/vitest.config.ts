import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`../src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // The CLI and the NATS bridge import the core through the package's own name, as users do.
    // Under test they must get the same modules (the same JournalError, the same fs hooks) as the
    // tests that import src/ directly, not the built copy in dist/.
    alias: [
      { find: /^jsonl-journal\/nats$/, replacement: src('nats/index.ts') },
      { find: /^jsonl-journal\/pino$/, replacement: src('pino/index.ts') },
      { find: /^jsonl-journal\/read$/, replacement: src('read/index.ts') },
      { find: /^jsonl-journal$/, replacement: src('index.ts') },
    ],
  },
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts'],
    // Separate processes keep each test file's locks and fs hooks its own.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
