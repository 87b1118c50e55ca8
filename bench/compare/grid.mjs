// The grid of the comparison: record sizes × workloads × stores, and replay of each size from each
// store, turned into tasks for rounds(). Every store gets the same records through the same
// workload code, and a fresh file or database for every task.
import fs from 'node:fs';
import path from 'node:path';
import { bigEvent, event } from '../lib.mjs';

export const SIZES = [
  { key: 'small', label: '~100-byte records', short: '~100 B', make: event },
  { key: 'large', label: '~1 KB records', short: '~1 KB', make: bigEvent },
];

export const WORKLOADS = [
  { key: 'one', label: '1 producer awaiting each append', records: 1 },
  { key: 'concurrent', label: '256 concurrent producers', records: 256 },
  { key: 'batch', label: 'batches of 1,000', records: 1000 },
];

/** Records per replay dataset, in each store and for each size, unless --replay-records says otherwise. */
export const REPLAY_RECORDS = 200_000;

const POOL = 65536;

export const taskName = (size, workload, id) => `${size.key}/${workload}/${id}`;

/**
 * The call a task times: one record, 256 concurrent appends or a batch of 1,000. It returns what
 * the store returns, so a store that works synchronously is timed without a promise around it.
 */
function workloadFn(workload, store, ctx, next) {
  if (workload === 'one') return () => ctx.s.append(next());
  const n = workload === 'concurrent' ? 256 : 1000;
  if (workload === 'batch' || store.concurrentAsBatch) {
    return () => {
      const vs = new Array(n);
      for (let i = 0; i < n; i++) vs[i] = next();
      return ctx.s.appendMany(vs);
    };
  }
  if (store.sync) {
    return () => {
      for (let i = 0; i < n; i++) ctx.s.append(next());
    };
  }
  return () => {
    const ps = new Array(n);
    for (let i = 0; i < n; i++) ps[i] = ctx.s.append(next());
    return Promise.all(ps);
  };
}

/** Append tasks for every size, workload and store, in the order each round runs them. */
export function appendTasks(stores, dir) {
  const tasks = [];
  for (const size of SIZES) {
    const pool = Array.from({ length: POOL }, (_, i) => size.make(i));
    for (const w of WORKLOADS) {
      for (const store of stores) {
        if (!store.detail[w.key]) continue;
        const ctx = { s: null, dir: '' };
        let appended = 0;
        const next = () => pool[appended++ & (POOL - 1)];
        tasks.push({
          name: taskName(size, w.key, store.id),
          records: w.records,
          async setup() {
            ctx.dir = fs.mkdtempSync(path.join(dir, `${store.id}-`));
            ctx.s = await store.open(ctx.dir);
            appended = 0;
          },
          fn: workloadFn(w.key, store, ctx, next),
          async teardown() {
            // A store that holds other than what was appended to it was not measured at all.
            const stored = await ctx.s.stored?.();
            await ctx.s.close();
            if (stored !== undefined && stored !== appended) {
              throw new Error(`${store.id}, ${size.label}, ${w.label}: ${appended} records appended, ${stored} stored`);
            }
            fs.rmSync(ctx.dir, { recursive: true, force: true });
          },
        });
      }
    }
  }
  return tasks;
}

/** Loads every replay store with the same records, then returns one task per size and store. */
export async function replayTasks(replays, dir, records = REPLAY_RECORDS) {
  const tasks = [];
  const opened = [];
  for (const size of SIZES) {
    for (const r of replays) {
      const reader = await r.load(fs.mkdtempSync(path.join(dir, `replay-${r.id}-`)), records, size.make);
      opened.push(reader);
      tasks.push({
        name: taskName(size, 'replay', r.id),
        records,
        iterations: 3,
        warmup: 1,
        async fn() {
          const n = await reader.read();
          if (n !== records) throw new Error(`${r.id}, ${size.label}: replay read ${n} of ${records} records`);
        },
      });
    }
  }
  return { tasks, close: async () => { for (const reader of opened) await reader.close(); } };
}
