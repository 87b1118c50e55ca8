// The writers' lock: the flock addon (src/native/flock.c) against fs-ext, which it replaced, in
// the same run. Each row is one call pattern a writer makes per batch.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bench } from 'tinybench';
import { flockAddon } from '../dist/fs/flock.js';
import { median, table } from './lib.mjs';

const CALLS = 256;

export async function run(args) {
  const fsExt = createRequire(import.meta.url)('fs-ext');
  const addon = flockAddon();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jj-lock-'));
  const file = path.join(dir, 'lock');
  fs.writeFileSync(file, '');
  const fd = fs.openSync(file, 'r+');
  // A second description holding the lock, for the attempt that is refused.
  const other = fs.openSync(file, 'r+');
  const busy = (f) => { try { f(); return true; } catch { return false; } };
  const cases = {
    'lock and unlock (LOCK_NB, granted)': {
      addon: () => { addon.tryLock(fd, false); addon.unlock(fd); },
      'fs-ext': () => { fsExt.flockSync(fd, 'exnb'); fsExt.flockSync(fd, 'un'); },
    },
    'attempt refused (LOCK_NB, held elsewhere)': {
      setup: () => addon.tryLock(other, false),
      addon: () => addon.tryLock(fd, false),
      'fs-ext': () => busy(() => fsExt.flockSync(fd, 'exnb')),
      teardown: () => addon.unlock(other),
    },
  };
  const rows = [];
  for (const [name, c] of Object.entries(cases)) {
    c.setup?.();
    const us = { addon: [], 'fs-ext': [] };
    for (let r = 0; r < args.rounds; r++) {
      const bench = new Bench({ time: 200 });
      for (const who of ['addon', 'fs-ext']) bench.add(who, () => { for (let k = 0; k < CALLS; k++) c[who](); });
      await bench.run();
      for (const t of bench.tasks) us[t.name].push((t.result.period * 1e3) / CALLS);
    }
    c.teardown?.();
    const a = median(us.addon);
    const f = median(us['fs-ext']);
    rows.push([name, a.toFixed(2), f.toFixed(2), (f / a).toFixed(2)]);
  }
  // A blocked wait handed the lock: from the holder's unlock to the waiter's callback, both in
  // this process (the addon's own thread and thread-safe function, against fs-ext's threadpool work).
  const waits = { addon: [], 'fs-ext': [] };
  const grant = {
    addon: () => addon.lockWait(fd),
    'fs-ext': () => new Promise((res, rej) => fsExt.flock(fd, 'ex', (e) => (e ? rej(e) : res()))),
  };
  for (let r = 0; r < args.rounds; r++) {
    for (const who of ['addon', 'fs-ext']) {
      const each = [];
      for (let k = 0; k < 200; k++) {
        addon.tryLock(other, false);
        const granted = grant[who]();
        // Let the wait reach flock(2) before the lock is let go.
        await new Promise((res) => setTimeout(res, 1));
        const t0 = process.hrtime.bigint();
        addon.unlock(other);
        await granted;
        each.push(Number(process.hrtime.bigint() - t0) / 1e3);
        addon.unlock(fd);
      }
      waits[who].push(median(each));
    }
  }
  const a = median(waits.addon);
  const f = median(waits['fs-ext']);
  rows.push(['blocked wait, unlock to grant', a.toFixed(1), f.toFixed(1), (f / a).toFixed(2)]);
  fs.closeSync(fd);
  fs.closeSync(other);
  fs.rmSync(dir, { recursive: true, force: true });
  return table(['call', 'flock addon (µs, median)', 'fs-ext (µs, median)', 'fs-ext ÷ addon'], rows);
}
