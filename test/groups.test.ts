// Consumer groups: members share a consumer's records, a dead member's records go to the others
// after its lease, and the group's position never passes a record that is not acknowledged.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compact, Consumer, ConsumerGroup, ErrorCode, Journal, listConsumers, type JournalRecord } from '../src/index.js';
import { GroupState } from '../src/consume/group-state.js';
import { Child, readAll, sleep, tmpDir, tmpJournal } from './helpers.js';
import * as groupTorture from './torture/groups.mjs';

const seed = Number(process.env.TORTURE_SEED ?? 20261123);

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

async function journalOf(n: number, file = tmpJournal()): Promise<string> {
  const j = await Journal.open(file);
  for (let i = 1; i <= n; i += 10_000) await j.appendMany(range(i, Math.min(n, i + 9_999)).map((k) => ({ k })));
  await j.close();
  return file;
}

/** Takes `n` records from a member's iteration. */
async function take(it: AsyncIterator<JournalRecord>, n: number): Promise<JournalRecord[]> {
  const out: JournalRecord[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

/** Waits until `cond` holds (failing after 10 s). */
async function until(cond: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !cond(); await sleep(5)) if (Date.now() - t0 > 10_000) throw new Error('waited 10 s in vain');
}

const groupSeq = async (file: string, name: string) => (await listConsumers(file)).find((c) => c.name === name)?.seq ?? 0;

describe('groups in one process', () => {
  it('two members share the records, each record to one of them; the position stops below the first record not acknowledged', async () => {
    const file = await journalOf(100);
    const a = await ConsumerGroup.open(file, 'g', { claimSize: 10 });
    const b = await ConsumerGroup.open(file, 'g', { claimSize: 10 });
    const got: number[][] = [[], []];
    let owner: ConsumerGroup | null = null;
    const ac = new AbortController();
    await Promise.all([a, b].map(async (m, k) => {
      for await (const r of m.records({ signal: ac.signal })) {
        got[k]!.push(r.seq);
        // Everything is acknowledged but seq 35.
        if (r.seq === 35) owner = m;
        else m.ack(r.seq);
        if (got[0]!.length + got[1]!.length === 100) ac.abort();
      }
    }));
    expect([...got[0]!, ...got[1]!].sort((x, y) => x - y)).toEqual(range(1, 100));
    expect(got[0]!.filter((s) => got[1]!.includes(s))).toEqual([]);
    // The position stops below the claim that holds seq 35, whatever is acknowledged above it.
    await until(() => a.committedSeq >= 25 && b.committedSeq >= 25);
    await sleep(50);
    expect(Math.max(a.committedSeq, b.committedSeq)).toBeLessThan(35);
    expect(() => owner!.ack(36)).toThrow(RangeError);
    owner!.ack(35);
    await until(() => a.committedSeq === 100 && b.committedSeq === 100);
    await Promise.all([a.close(), b.close()]);
    expect(await listConsumers(file)).toEqual([expect.objectContaining({ name: 'g', seq: 100, group: true, live: false })]);
  });

  it('a member that closes gives its unacknowledged records to the others at once', async () => {
    const file = await journalOf(30);
    const a = await ConsumerGroup.open(file, 'g', { claimSize: 10, leaseMs: 60_000 });
    const first = await take(a.records(), 10);
    expect(first.map((r) => r.seq)).toEqual(range(1, 10));
    for (const r of first.slice(0, 4)) a.ack(r.seq);
    await a.close();
    const b = await ConsumerGroup.open(file, 'g', { claimSize: 10, leaseMs: 60_000 });
    const it = b.records();
    const again = await take(it, 6);
    // Acknowledged, 1 to 4 are not handed out again.
    expect(again.map((r) => r.seq)).toEqual(range(5, 10));
    for (const r of again) b.ack(r.seq);
    for (const r of await take(it, 20)) b.ack(r.seq);
    await until(() => b.committedSeq === 30);
    await b.close();
  });

  it('a name open as a consumer cannot be joined as a group, nor the reverse: CONSUMER_BUSY; bad options and acks are misuse', async () => {
    const file = await journalOf(10);
    const c = await Consumer.open(file, 'x');
    await expect(ConsumerGroup.open(file, 'x')).rejects.toMatchObject({ code: ErrorCode.CONSUMER_BUSY });
    await c.close();
    const g = await ConsumerGroup.open(file, 'x');
    await expect(Consumer.open(file, 'x')).rejects.toMatchObject({ code: ErrorCode.CONSUMER_BUSY });
    expect(() => g.ack(1)).toThrow(RangeError);
    const it = g.records();
    expect(() => g.records()).toThrow(TypeError);
    await it.return!();
    await g.close();
    await g.close();
    await expect(g.records().next()).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(ConsumerGroup.open(file, 'x', { leaseMs: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(ConsumerGroup.open(file, 'x', { claimSize: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(ConsumerGroup.open(file, '../x')).rejects.toBeInstanceOf(TypeError);
    await expect(ConsumerGroup.open(`${file}.missing`, 'x')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });

  it('reset: the next members start from the new position; forced under a running member, its next claim fails with CONSUMER_RESET; delete removes the work log', async () => {
    const file = await journalOf(50);
    const a = await ConsumerGroup.open(file, 'g', { claimSize: 10 });
    const it = a.records();
    for (const r of await take(it, 20)) a.ack(r.seq);
    await expect(Consumer.reset(file, 'g', { seq: 5 })).rejects.toMatchObject({ code: ErrorCode.CONSUMER_BUSY });
    expect(await Consumer.reset(file, 'g', { seq: 5 }, { force: true })).toMatchObject({ seq: 4, wasLive: true });
    // Records claimed already may still come; the next claim fails.
    await expect(take(it, 50)).rejects.toMatchObject({ code: ErrorCode.CONSUMER_RESET });
    await a.close().catch(() => {});
    const b = await ConsumerGroup.open(file, 'g', { claimSize: 10 });
    expect(b.committedSeq).toBe(4);
    expect((await take(b.records(), 1))[0]!.seq).toBe(5);
    await b.close();
    const work = path.join(`${file}.consumers`, 'groups', 'g.jsonl');
    expect(fs.existsSync(work)).toBe(true);
    await Consumer.delete(file, 'g');
    expect(fs.existsSync(work)).toBe(false);
    expect(await listConsumers(file)).toEqual([]);
  });

  it('a member fenced off by a forced reset finishes a claim of the old epoch: the claim of the same range in the new epoch stays, and the position with it', async () => {
    const file = await journalOf(50);
    const old = await ConsumerGroup.open(file, 'g', { claimSize: 10, leaseMs: 60_000 });
    const oldIt = old.records();
    for (const r of await take(oldIt, 3)) old.ack(r.seq);
    await Consumer.reset(file, 'g', 'earliest', { force: true });
    const b = await ConsumerGroup.open(file, 'g', { claimSize: 10, leaseMs: 60_000 });
    expect((await take(b.records(), 10)).map((r) => r.seq)).toEqual(range(1, 10));
    // The fenced member hands out what it holds, acknowledges it, and finishes its claim 1..10 in the work log.
    for (const r of await take(oldIt, 7)) old.ack(r.seq);
    await expect(take(oldIt, 1)).rejects.toMatchObject({ code: ErrorCode.CONSUMER_RESET });
    await old.close().catch(() => {});
    await sleep(100);
    // b has acknowledged none of 1..10: the group is still at 0, and they go to the next member.
    expect(b.committedSeq).toBe(0);
    await b.close();
    const c = await ConsumerGroup.open(file, 'g', { claimSize: 10, leaseMs: 60_000 });
    expect(c.committedSeq).toBe(0);
    expect((await take(c.records(), 10)).map((r) => r.seq)).toEqual(range(1, 10));
    await c.close();
  });

  it('the work log is compacted down to a state line as it grows, and members go on through it: every record once', async () => {
    const N = 1_500;
    const file = await journalOf(N);
    const members = await Promise.all([1, 2].map(() => ConsumerGroup.open(file, 'g', { claimSize: 1, pollMs: 20 })));
    const seen: number[] = [];
    const ac = new AbortController();
    await Promise.all(members.map(async (m) => {
      for await (const r of m.records({ signal: ac.signal })) {
        seen.push(r.seq);
        m.ack(r.seq);
        if (seen.length === N) ac.abort();
      }
    }));
    const work = path.join(`${file}.consumers`, 'groups', 'g.jsonl');
    const header = JSON.parse(fs.readFileSync(work, 'utf8').split('\n')[0]!.slice(9)) as { generation: number };
    expect(header.generation).toBeGreaterThanOrEqual(1);
    expect((await readAll(work))[0]!.data).toMatchObject({ op: 'state' });
    expect([...seen].sort((x, y) => x - y)).toEqual(range(1, N));
    await Promise.all(members.map((m) => m.close()));
    expect(await groupSeq(file, 'g')).toBe(N);
  });

  it('the position holds records back from compaction like any consumer', async () => {
    const file = await journalOf(40);
    const g = await ConsumerGroup.open(file, 'g', { claimSize: 10 });
    for (const r of await take(g.records(), 10)) g.ack(r.seq);
    await until(() => g.committedSeq > 0);
    await g.close();
    const pos = await groupSeq(file, 'g');
    const r = await compact(file, { beforeSeq: 30 });
    expect(r.consumers).toEqual([{ name: 'g', seq: pos, expired: false, kept: 29 - pos, removed: 0, positionGone: false }]);
    expect((await readAll(file))[0]!.seq).toBe(pos + 1);
  });
});

describe('the work log as a state machine', () => {
  it('claims, renewals by their owner only, releases, done; the floor is the first unfinished claim', () => {
    const s = new GroupState();
    s.apply({ op: 'epoch', epoch: 0, floor: 0 });
    s.apply({ op: 'claim', m: 'a', from: 1, to: 10, until: 100 });
    s.apply({ op: 'claim', m: 'b', from: 11, to: 20, until: 100 });
    expect([s.next, s.floor]).toEqual([21, 0]);
    s.apply({ op: 'done', m: 'b', from: 11 });
    expect(s.floor).toBe(0);
    s.apply({ op: 'renew', m: 'b', froms: [1], until: 500, acked: [] });
    expect(s.reclaimable(200, 'c')).toMatchObject({ from: 1, member: 'a' });
    expect(s.reclaimable(200, 'a')).toBeUndefined();
    s.apply({ op: 'claim', m: 'c', from: 1, to: 10, until: 300 });
    s.apply({ op: 'release', m: 'a', froms: [1], acked: [] });
    expect(s.reclaimable(250, 'd')).toBeUndefined();
    // Acknowledgements count whoever sends them; the owner's release frees the range.
    s.apply({ op: 'renew', m: 'a', froms: [], until: 0, acked: [2, 3] });
    s.apply({ op: 'release', m: 'c', froms: [1], acked: [4] });
    expect(s.reclaimable(0, 'd')).toMatchObject({ from: 1, acked: [2, 3, 4] });
    s.apply({ op: 'done', m: 'a', from: 1 });
    expect([s.floor, s.leases.size]).toEqual([20, 0]);
    const copy = new GroupState();
    s.apply({ op: 'claim', m: 'd', from: 21, to: 25, until: 900 });
    copy.apply(s.snapshot());
    expect([copy.epoch, copy.next, copy.floor, [...copy.leases.values()]]).toEqual([0, 26, 20, [{ from: 21, to: 25, member: 'd', until: 900, acked: [] }]]);
    s.apply({ op: 'epoch', epoch: 1, floor: 7 });
    expect([s.epoch, s.next, s.floor, s.leases.size]).toEqual([1, 8, 7, 0]);
    // Lines about claims of the epoch before change nothing in this one.
    s.apply({ op: 'claim', m: 'e', from: 8, to: 17, until: 900 });
    s.apply({ op: 'renew', m: 'e', e: 0, froms: [8], until: 5000, acked: [9] });
    s.apply({ op: 'release', m: 'e', e: 0, froms: [8], acked: [10] });
    s.apply({ op: 'done', m: 'd', e: 0, from: 8 });
    expect([s.floor, [...s.leases.values()]]).toEqual([7, [{ from: 8, to: 17, member: 'e', until: 900, acked: [] }]]);
    s.apply({ op: 'renew', m: 'e', e: 1, froms: [8], until: 5000, acked: [9] });
    s.apply({ op: 'done', m: 'e', e: 1, from: 8 });
    expect([s.floor, s.leases.size]).toEqual([17, 0]);
  });
});

describe('groups of processes', () => {
  it('a member killed holding records: after its lease they go to another member', async () => {
    const file = await journalOf(40);
    const dir = tmpDir();
    const dead = new Child('group-member.mjs', [file, 'g', path.join(dir, 'dead.txt'), '0', '300', '10', '40', 'dead', 'hold']);
    await dead.waitFor((l) => l === 'holding 10');
    await dead.kill('SIGKILL');
    const held = dead.lines.filter((l) => l.startsWith('holding')).map((l) => Number(l.split(' ')[1]));
    expect(held).toEqual(range(1, 10));
    const live = new Child('group-member.mjs', [file, 'g', path.join(dir, 'live.txt'), '0', '300', '10', '40', 'live']);
    expect((await live.exited).code, live.stderr).toBe(0);
    const processed = fs.readFileSync(path.join(dir, 'live.txt'), 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[0]));
    expect([...processed].sort((x, y) => x - y)).toEqual(range(1, 40));
    expect(await groupSeq(file, 'g')).toBe(40);
  });

  it('4 member processes racing for claims while none dies: every record processed exactly once', async () => {
    const N = 30_000;
    const file = await journalOf(N);
    const dir = tmpDir();
    const members = range(1, 4).map((k) => new Child('group-member.mjs', [file, 'race', path.join(dir, `m${k}.txt`), '20', '30000', '50', String(N), `m${k}`]));
    for (const m of members) expect((await m.exited).code, m.stderr).toBe(0);
    const count = new Map<number, number>();
    for (const k of range(1, 4)) {
      for (const l of fs.readFileSync(path.join(dir, `m${k}.txt`), 'utf8').trim().split('\n')) {
        const seq = Number(l.split(' ')[0]);
        count.set(seq, (count.get(seq) ?? 0) + 1);
      }
    }
    expect(count.size).toBe(N);
    expect([...count].filter(([, n]) => n > 1)).toEqual([]);
  });

  it('a group of 4 processes consumes 100,000 records while members are SIGKILLed and restarted 20 times: every record processed at least once, duplicates only from killed members, the position never past a record not processed', async () => {
    const stats = await groupTorture.run({ seed, kills: 20, records: 100_000 });
    expect(stats.failures, `TORTURE_SEED=${seed}`).toEqual([]);
    expect(stats.states).toBe(20);
    expect(stats.lost).toBe(0);
    expect(stats.samples).toBeGreaterThan(20);
  }, 180_000);
});
