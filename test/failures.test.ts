import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, Journal, verify } from '../src/index.js';
import { bytesOf, countIo, hookIo, readAll, sysError, tmpJournal } from './helpers.js';

describe('a failed fdatasync', () => {
  it('rejects the batch with SYNC_FAILED, then every append with FAILED, and is never retried', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('durable');
    let calls = 0;
    hookIo('fdatasync', (orig) => async (fd) => {
      calls++;
      if (calls === 1) throw sysError('EIO', 'fdatasync');
      return orig(fd);
    });
    const batch = [j.append('lost?'), j.append('lost too?')];
    const queued = j.append('queued behind');
    for (const p of batch) await expect(p).rejects.toMatchObject({ code: ErrorCode.SYNC_FAILED, cause: expect.objectContaining({ code: 'EIO' }) });
    await expect(queued).rejects.toMatchObject({ code: expect.stringMatching(/SYNC_FAILED|FAILED/) });
    const later = await j.append('later').catch((e) => e);
    expect(later).toMatchObject({ code: ErrorCode.FAILED, cause: expect.objectContaining({ code: ErrorCode.SYNC_FAILED }) });
    await expect(j.flush()).rejects.toMatchObject({ code: ErrorCode.FAILED });
    expect(calls).toBe(1);
    await j.close();

    // Reopening starts afresh; the record acknowledged before the failure is there.
    const j2 = await Journal.open(file);
    const r = await j2.append('after reopen');
    await j2.close();
    const recs = await readAll(file);
    expect(recs[0]!.data).toBe('durable');
    expect(recs.at(-1)).toMatchObject({ seq: r.seq, data: 'after reopen' });
    expect((await verify(file)).ok).toBe(true);
  });

  it("with 'interval' a failed background sync fails the journal", async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'interval', syncIntervalMs: 10 });
    hookIo('fdatasync', () => async () => {
      throw sysError('EIO', 'fdatasync');
    });
    await j.append('acked before the sync');
    await new Promise((r) => setTimeout(r, 50));
    await expect(j.append('next')).rejects.toMatchObject({ code: ErrorCode.FAILED });
    await j.close();
  });
});

describe('a failed write', () => {
  it('ENOSPC after a short write: WRITE_FAILED, the partial batch removed, the journal failed until reopened', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append({ keep: 1 });
    const before = bytesOf(file);
    let calls = 0;
    hookIo('writeSync', (orig) => (fd, buf, off, len, pos) => {
      calls++;
      if (calls === 1) return orig(fd, buf, off, Math.floor(len / 2), pos);
      throw sysError('ENOSPC');
    });
    const errs = await Promise.all(Array.from({ length: 20 }, (_, i) => j.append({ i }).catch((e) => e)));
    for (const e of errs) expect(e).toMatchObject({ code: ErrorCode.WRITE_FAILED, cause: expect.objectContaining({ code: 'ENOSPC' }) });
    expect(bytesOf(file).equals(before)).toBe(true);
    await expect(j.append('x')).rejects.toMatchObject({ code: ErrorCode.FAILED });
    await j.close();
  });

  it('when even the cleanup fails, the next open cuts what the failed write left', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append({ keep: 1 });
    const size = fs.statSync(file).size;
    let calls = 0;
    let diskBad = true;
    hookIo('writeSync', (orig) => (fd, buf, off, len, pos) => {
      if (!diskBad) return orig(fd, buf, off, len, pos);
      if (++calls === 1) return orig(fd, buf, off, len - 3, pos);
      throw sysError('EIO');
    });
    hookIo('ftruncate', (orig) => async (fd, len) => {
      if (!diskBad) return orig(fd, len);
      throw sysError('EIO', 'ftruncate');
    });
    await expect(j.appendMany([1, 2, 3])).rejects.toMatchObject({ code: ErrorCode.WRITE_FAILED });
    await j.close();
    expect(fs.statSync(file).size).toBeGreaterThan(size);
    expect((await readAll(file)).map((r) => r.data)).toEqual([{ keep: 1 }]);
    // The disk is good again: the next open cuts the partial batch, and appends go on after it.
    diskBad = false;
    const again = await Journal.open(file);
    expect(fs.statSync(file).size).toBe(size);
    await again.append({ keep: 2 });
    await again.close();
    expect((await readAll(file)).map((r) => r.data)).toEqual([{ keep: 1 }, { keep: 2 }]);
    expect((await verify(file)).ok).toBe(true);
  });
});

describe('failed opens', () => {
  it('EMFILE on open is an IO_ERROR with the system error as cause', async () => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    hookIo('open', () => async () => {
      throw sysError('EMFILE', 'open');
    });
    await expect(Journal.open(file)).rejects.toMatchObject({ code: ErrorCode.IO_ERROR, cause: expect.objectContaining({ code: 'EMFILE' }) });
  });

  it.each([
    ['EACCES', 'open', ErrorCode.IO_ERROR],
    ['ENOSPC', 'write', ErrorCode.WRITE_FAILED],
    ['EIO', 'fsync', ErrorCode.SYNC_FAILED],
  ] as const)('creating a journal, %s on %s names the journal, not the temp file it is made in', async (code, call, expected) => {
    const file = tmpJournal();
    hookIo(call, (orig) => (async (...args: unknown[]) => {
      // The header is written to a temp file first: fail that file's call.
      if (call !== 'open' || String(args[0]).endsWith('.tmp')) throw sysError(code, call);
      return (orig as (...a: unknown[]) => unknown)(...args);
    }) as never);
    const err = await Journal.open(file).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: expected, path: file, message: `cannot ${call === 'open' ? 'create' : call} ${file}: ${code}`, cause: expect.objectContaining({ code }) });
    expect(fs.readdirSync(path.dirname(file))).toEqual([]);
  });

  it('an fdatasync failing during open recovery fails the open', async () => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    let syncs = 0;
    hookIo('fdatasync', () => async () => {
      syncs++;
      throw sysError('EIO', 'fdatasync');
    });
    await expect(Journal.open(file)).rejects.toMatchObject({ code: ErrorCode.SYNC_FAILED });
    // Failed once and given up on: an fsync is never retried.
    expect(syncs).toBe(1);
  });
});

describe('a failed unlock', () => {
  it("fails the batch, and the journal closes its file at once so that its lock cannot stall other writers", async () => {
    const file = tmpJournal();
    const a = await Journal.open(file);
    const b = await Journal.open(file, { lockTimeoutMs: 2_000 });
    let failing = true;
    hookIo('unlockSync', (orig) => (fd) => {
      if (failing) {
        failing = false;
        throw sysError('ENOLCK', 'flock');
      }
      return orig(fd);
    });
    await expect(a.append('one')).rejects.toMatchObject({ code: ErrorCode.IO_ERROR });
    await expect(a.append('two')).rejects.toMatchObject({ code: ErrorCode.FAILED });
    // Without the self-close, a's fd would keep the flock and b would wait out its lock timeout.
    const t0 = Date.now();
    await b.append('three');
    expect(Date.now() - t0).toBeLessThan(1_000);
    await b.close();
    await a.close().catch(() => {});
    expect((await readAll(file)).map((r) => r.data)).toEqual(['one', 'three']);
  });
});
