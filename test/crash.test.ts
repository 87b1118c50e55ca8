import { describe, expect, it } from 'vitest';
import { Journal, verify } from '../src/index.js';
import { Child, readAll, sleep, tmpJournal } from './helpers.js';

/** tag -> seq of every record a child reported as acknowledged. */
function acked(children: Child[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of children) {
    for (const l of c.lines) {
      const [kind, seq, tag] = l.split(' ');
      if (kind === 'ack') m.set(tag!, Number(seq));
    }
  }
  return m;
}

/** Every acknowledged record present exactly once under its seq, and each producer's records in order. */
async function checkJournal(file: string, ack: Map<string, number>): Promise<void> {
  const recs = await readAll(file);
  const seqs = recs.map((r) => r.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
  const byTag = new Map<string, number>();
  for (const r of recs) {
    const tag = (r.data as { tag: string }).tag;
    expect(byTag.has(tag)).toBe(false);
    byTag.set(tag, r.seq);
  }
  for (const [tag, seq] of ack) expect(byTag.get(tag)).toBe(seq);
  const lastK = new Map<string, number>();
  for (const r of recs) {
    const [w, p, k] = (r.data as { tag: string }).tag.split('.');
    const key = `${w}.${p}`;
    expect(Number(k)).toBeGreaterThan(lastK.get(key) ?? -1);
    lastK.set(key, Number(k));
  }
}

describe('SIGKILL', () => {
  it('a writer killed in the middle of appending: reopen cuts the torn tail, every acknowledged record is there once', async () => {
    const file = tmpJournal();
    const all: Child[] = [];
    for (let round = 0; round < 8; round++) {
      const c = new Child('writer.mjs', [file, `r${round}`, '32']);
      all.push(c);
      await c.waitFor((l) => l.startsWith('ack'));
      await sleep(20 + Math.random() * 150);
      await c.kill('SIGKILL');
      const j = await Journal.open(file);
      await j.close();
      const report = await verify(file);
      expect(report.ok).toBe(true);
    }
    const ack = acked(all);
    expect(ack.size).toBeGreaterThan(100);
    await checkJournal(file, ack);
  });

  it('processes racing to create one journal end with one journal, created once', async () => {
    const file = tmpJournal();
    const startAt = Date.now() + 700;
    const kids = Array.from({ length: 4 }, () => new Child('create.mjs', [file, String(startAt)]));
    await Promise.all(kids.map((k) => k.exited));
    const ids = kids.map((k) => k.lines.find((l) => l.startsWith('id'))!.split(' ')[1]);
    expect(new Set(ids).size).toBe(1);
    const recs = await readAll(file);
    expect(recs.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect((await verify(file)).ok).toBe(true);
  });
});

export { acked, checkJournal };
