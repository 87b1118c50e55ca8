import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Journal, verify } from '../src/index.js';
import { acked, checkJournal, Child, readAll, sleep, tmpJournal } from './helpers.js';

describe('SIGKILL', () => {
  it('a writer killed in the middle of appending: reopen cuts the torn tail, saved first byte for byte, every acknowledged record is there once', async () => {
    const file = tmpJournal();
    const all: Child[] = [];
    for (let round = 0; round < 8; round++) {
      const c = new Child('writer.mjs', [file, `r${round}`, '32']);
      all.push(c);
      await c.waitFor((l) => l.startsWith('ack'));
      await sleep(20 + Math.random() * 150);
      await c.kill('SIGKILL');
      const before = fs.readFileSync(file);
      const j = await Journal.open(file);
      // What the reopen cut, if anything, was saved first, byte for byte.
      const cut = j.recovered;
      expect(fs.statSync(file).size).toBe(cut?.offset ?? before.length);
      if (cut !== null) expect(fs.readFileSync(cut.savedTo).equals(before.subarray(cut.offset))).toBe(true);
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

