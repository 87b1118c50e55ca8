// jsonl-journal/pino: pino's lines stored byte for byte, group commit, flush(cb) only once durable,
// bounded backpressure, failures that reach the caller, what process.exit() keeps, the package as
// a pino transport, and SIGKILLs in the middle of logging.
//
// Transports run in child processes, where pino's exit hooks and a SIGKILL behave as in a user's
// program; one of them also opens the journal on its main thread, beside the transport's worker.
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode, verify, type Durability } from '../src/index.js';
import { journalDestination, type JournalDestination } from '../src/pino/index.js';
import { Child, hookIo, readAll, sleep, sysError, tmpJournal } from './helpers.js';
import { lineOf, logLine, PINO_OPTIONS } from './fixtures/pino-lines.mjs';

/** Every record's data as the JSON text the journal stores. */
async function texts(file: string, fromSeq = 1): Promise<string[]> {
  if (!fs.existsSync(file)) return [];
  return (await readAll(file, { data: 'text', fromSeq })).map((r) => r.data as string);
}

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => lineOf(from + i));

/** A flush as a promise: resolves once the flush calls back without an error. */
const flushed = (d: { flush(cb: (err?: Error) => void): void }) => new Promise<void>((resolve, reject) => d.flush((err) => (err ? reject(err) : resolve())));

const ended = (d: JournalDestination) => new Promise<Error | undefined>((resolve) => d.end(resolve));

/** Keeps every string pino hands the destination. */
function tap(dest: JournalDestination): string[] {
  const seen: string[] = [];
  const write = dest.write.bind(dest);
  dest.write = (s) => (seen.push(String(s)), write(s));
  return seen;
}

/** Counts the journal's batch writes, small (writeSync) and large (write). */
function countWrites(): { n: number } {
  const c = { n: 0 };
  hookIo('write', (orig) => async (...args) => {
    c.n++;
    return orig(...args);
  });
  hookIo('writeSync', (orig) => (...args) => {
    c.n++;
    return orig(...args);
  });
  return c;
}

/** An fdatasync that waits until release() is called. */
function holdSyncs(): () => void {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  hookIo('fdatasync', (orig) => async (fd) => {
    await gate;
    return orig(fd);
  });
  return release;
}

describe('journalDestination()', () => {
  it('each line pino writes is one record whose data is the line byte for byte: escapes, unicode, integers beyond a double, errors, child loggers', async () => {
    const file = tmpJournal();
    const dest = await journalDestination(file);
    const seen = tap(dest);
    const log = pino({}, dest);
    for (let n = 1; n <= 200; n++) logLine(log, n);
    log.child({ req: 'r-1' }).warn({ err: new Error('boom\n"x"') }, 'failed');
    log.error(new Error('plain'));
    log.info({ who: 'Zoë Ångström', path: '/заказы/日本', ctl: '\u0000\u001f\u2028' }, 'unicode');
    await flushed(log);
    expect(seen).toHaveLength(203);
    expect(seen.every((s) => s.indexOf('\n') === s.length - 1)).toBe(true);
    expect(await texts(file)).toEqual(seen.map((s) => s.slice(0, -1)));
    // What pino writes for the fixtures' lines is what the tests derive from the line numbers.
    const plain = pino(PINO_OPTIONS, dest);
    for (let n = 1; n <= 10; n++) logLine(plain, n);
    expect(seen.slice(203)).toEqual(lines(1, 10).map((l) => `${l}\n`));
    expect(await ended(dest)).toBeUndefined();
    expect((await texts(file)).slice(203)).toEqual(lines(1, 10));
  });

  it('several lines in one write, and lines split across writes (as a transport splits them), are one record each; end() stores an unfinished last line', async () => {
    const file = tmpJournal();
    const dest = await journalDestination(file);
    dest.write('{"a":1}\n{"b":2}\n{"c"');
    dest.write(':3}\n{"d":"é');
    dest.write(Buffer.from('"}\n{"e":'));
    // A character whose bytes come in two writes.
    const snow = Buffer.from('"☃"}\n{"f":6}');
    dest.write(snow.subarray(0, 2));
    dest.write(snow.subarray(2));
    await flushed(dest);
    expect(await texts(file)).toEqual(['{"a":1}', '{"b":2}', '{"c":3}', '{"d":"é"}', '{"e":"☃"}']);
    expect(await ended(dest)).toBeUndefined();
    expect((await texts(file)).at(-1)).toBe('{"f":6}');
  });

  it('a line that is not JSON is stored as a JSON string of the line, never dropped; so is one with a number no double can hold', async () => {
    const file = tmpJournal();
    const dest = await journalDestination(file);
    dest.write('plain text\n{"broken":\n{"x":1e400}\n\n{"ok":true}\n');
    await flushed(dest);
    expect((await readAll(file)).map((r) => r.data)).toEqual(['plain text', '{"broken":', '{"x":1e400}', '', { ok: true }]);
    expect(dest.notJson).toBe(4);
    expect(dest.dropped).toBe(0);
    await ended(dest);
  });

  it('group commit: the lines logged while a batch is written and synced go as the next batch, all of them', async () => {
    const file = tmpJournal();
    const dest = await journalDestination(file);
    const writes = countWrites();
    const release = holdSyncs();
    const log = pino(PINO_OPTIONS, dest);
    logLine(log, 1);
    await sleep(20);
    // Batch 1 is written; its sync waits. Everything logged now waits for it.
    for (let n = 2; n <= 500; n++) {
      logLine(log, n);
      if (n % 50 === 0) await sleep(1);
    }
    await sleep(20);
    expect(writes.n).toBe(1);
    release();
    await flushed(log);
    expect(writes.n).toBe(2);
    expect(await texts(file)).toEqual(lines(1, 500));
    await ended(dest);
  });

  it.each(['always', 'interval', 'unsafe-nosync'] as Durability[])("%s: flush(cb) calls back only after an fdatasync that began after its lines were written", async (durability) => {
    const file = tmpJournal();
    const dest = await journalDestination(file, { durability });
    let written = 0;
    let synced = 0;
    hookIo('write', (orig) => async (...args) => {
      const n = await orig(...args);
      written++;
      return n;
    });
    hookIo('writeSync', (orig) => (...args) => {
      const n = orig(...args);
      written++;
      return n;
    });
    hookIo('fdatasync', (orig) => async (fd) => {
      const covers = written;
      await orig(fd);
      synced = Math.max(synced, covers);
    });
    const log = pino(PINO_OPTIONS, dest);
    for (let i = 1; i <= 20; i++) {
      logLine(log, 2 * i - 1);
      logLine(log, 2 * i);
      const seen = await new Promise<{ written: number; synced: number }>((resolve, reject) => log.flush((err) => (err ? reject(err) : resolve({ written, synced }))));
      // Each flush waited for its own batch, and for a sync that covers it.
      expect(seen.written).toBeGreaterThanOrEqual(i);
      expect(seen.synced).toBe(seen.written);
    }
    expect(await texts(file)).toEqual(lines(1, 40));
    await ended(dest);
  });

  it("backpressure: write() returns false at half of maxPendingBytes and 'drain' follows; lines past maxPendingBytes are dropped, counted and given to 'drop'", async () => {
    const file = tmpJournal();
    const dest = await journalDestination(file, { maxRecordBytes: 4096, maxPendingBytes: 8192 });
    const release = holdSyncs();
    const line = (n: number) => `${JSON.stringify({ n, pad: 'x'.repeat(300) })}\n`;
    expect(dest.write(line(1))).toBe(true);
    await sleep(20);
    const drops: string[] = [];
    dest.on('drop', (text: string) => drops.push(text));
    const accepted = Array.from({ length: 39 }, (_, i) => dest.write(line(i + 2)));
    // About 440 bytes a line: false from about 4 KiB on, dropped from about 8 KiB on.
    const firstFalse = accepted.indexOf(false);
    expect(firstFalse).toBeGreaterThan(4);
    expect(firstFalse).toBeLessThan(12);
    expect(dest.writableNeedDrain).toBe(true);
    const kept = 40 - dest.dropped;
    expect(dest.dropped).toBeGreaterThan(15);
    expect(kept).toBeGreaterThan(firstFalse + 2);
    // Nothing is written meanwhile, so every line after the bound is dropped, each given to 'drop'.
    expect(drops.join('')).toBe(Array.from({ length: dest.dropped }, (_, i) => line(kept + 1 + i)).join(''));
    const drained = once(dest, 'drain');
    release();
    await drained;
    expect(dest.write(line(41))).toBe(true);
    await flushed(dest);
    expect((await readAll(file)).map((r) => (r.data as { n: number }).n)).toEqual([...Array.from({ length: kept }, (_, i) => i + 1), 41]);
    await ended(dest);
  });

  it("a writer that waits for 'drain' loses nothing, with a bound far below what it writes", async () => {
    const file = tmpJournal();
    const dest = await journalDestination(file, { maxRecordBytes: 4096, maxPendingBytes: 8192 });
    let waits = 0;
    for (let n = 1; n <= 3000; n++) {
      if (!dest.write(`${lineOf(n)}\n`)) {
        waits++;
        await once(dest, 'drain');
      }
    }
    await flushed(dest);
    expect(waits).toBeGreaterThan(10);
    expect(dest.dropped).toBe(0);
    expect(await texts(file)).toEqual(lines(1, 3000));
    await ended(dest);
  });

  it.each([
    { fails: 'fdatasync', code: ErrorCode.SYNC_FAILED },
    { fails: 'write', code: ErrorCode.WRITE_FAILED },
  ] as const)("a failed $fails reaches the caller as an 'error' event ($code) and through flush's callback; later lines are dropped and the journal closed", async ({ fails, code }) => {
    const file = tmpJournal();
    const dest = await journalDestination(file);
    const log = pino(PINO_OPTIONS, dest);
    for (let n = 1; n <= 10; n++) logLine(log, n);
    await flushed(log);
    if (fails === 'fdatasync') {
      hookIo('fdatasync', () => async () => {
        throw sysError('EIO', 'fdatasync');
      });
    } else {
      hookIo('writeSync', () => () => {
        throw sysError('ENOSPC');
      });
      hookIo('write', () => async () => {
        throw sysError('ENOSPC');
      });
    }
    const errors: unknown[] = [];
    dest.on('error', (err) => errors.push(err));
    // Not once(): it rejects at the 'error' event that comes first.
    const closed = new Promise((resolve) => dest.once('close', resolve));
    for (let n = 11; n <= 20; n++) logLine(log, n);
    const err = await flushed(log).catch((e: unknown) => e);
    expect(err).toMatchObject({ code });
    await closed;
    expect(errors).toEqual([err]);
    expect(dest.closed).toBe(true);
    expect(dest.write(`${lineOf(21)}\n`)).toBe(false);
    expect(dest.dropped).toBe(1);
    expect(await flushed(log).catch((e: unknown) => e)).toBe(err);
    // Acknowledged lines stay; those of the failed batch may or may not be there, never in part.
    const got = await texts(file);
    expect(got).toEqual(lines(1, got.length));
    expect(got.length === 10 || (fails === 'fdatasync' && got.length === 20)).toBe(true);
  });

  it('a line longer than maxRecordBytes fails the destination with RECORD_TOO_LARGE, after storing every line before it', async () => {
    const file = tmpJournal();
    const dest = await journalDestination(file, { maxRecordBytes: 4096 });
    const errors: unknown[] = [];
    dest.on('error', (err) => errors.push(err));
    // Not once(): it rejects at the 'error' event that comes first.
    const closed = new Promise((resolve) => dest.once('close', resolve));
    const log = pino(PINO_OPTIONS, dest);
    for (let n = 1; n <= 5; n++) logLine(log, n);
    const before = flushed(log);
    log.info({ pad: 'x'.repeat(5000) }, 'too large');
    logLine(log, 6);
    await before;
    const err = await flushed(log).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.RECORD_TOO_LARGE });
    await closed;
    expect(errors).toEqual([err]);
    expect(dest.dropped).toBe(2);
    expect(await texts(file)).toEqual(lines(1, 5));
  });

  it("end(): appends what is pending, makes it durable even with 'unsafe-nosync', closes the journal, then 'finish' and 'close'; writes after it are dropped", async () => {
    const file = tmpJournal();
    const dest = await journalDestination(file, { durability: 'unsafe-nosync' });
    let syncs = 0;
    hookIo('fdatasync', (orig) => async (fd) => {
      syncs++;
      return orig(fd);
    });
    const events: string[] = [];
    dest.on('finish', () => events.push('finish'));
    dest.on('close', () => events.push('close'));
    const log = pino(PINO_OPTIONS, dest);
    for (let n = 1; n <= 100; n++) logLine(log, n);
    expect(syncs).toBe(0);
    expect(await ended(dest)).toBeUndefined();
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(events).toEqual(['finish', 'close']);
    expect(dest.closed).toBe(true);
    expect(await texts(file)).toEqual(lines(1, 100));
    expect((await verify(file)).ok).toBe(true);
    expect(dest.write(`${lineOf(101)}\n`)).toBe(false);
    expect(dest.dropped).toBe(1);
    await flushed(dest);
  });
});

describe('process.exit()', () => {
  it('right after logging, journalDestination() has not written the lines and says so on stderr; after flush(cb) called back, every line is there', async () => {
    const lost = tmpJournal();
    const c1 = new Child('pino-exit.mjs', [lost, 'destination', '1000', 'exit']);
    expect((await c1.exited).code).toBe(0);
    expect(c1.stderr).toMatch(/exited before 1000 line\(s\) logged to .* were written/);
    expect(await texts(lost)).toEqual([]);
    const kept = tmpJournal();
    const c2 = new Child('pino-exit.mjs', [kept, 'destination', '1000', 'flush']);
    expect((await c2.exited).code).toBe(0);
    expect(c2.stderr).toBe('');
    expect(await texts(kept)).toEqual(lines(1, 1000));
  });

  it("as a pino transport, right after logging, every line is kept: pino ends the worker's stream at exit and waits until its journal is closed", async () => {
    const file = tmpJournal();
    const c = new Child('pino-exit.mjs', [file, 'transport', '1000', 'exit']);
    expect((await c.exited).code).toBe(0);
    expect(c.stderr).toBe('');
    expect(await texts(file)).toEqual(lines(1, 1000));
    expect((await verify(file)).ok).toBe(true);
  });
});

describe('as a pino transport', () => {
  it('every line byte for byte, flush(cb) through the worker, and an end that closes the journal', async () => {
    const file = tmpJournal();
    const dir = path.dirname(file);
    const c = new Child('pino-logger.mjs', [file, path.join(dir, 'report'), '1', '3000', 'transport', path.join(dir, 'samples')]);
    expect((await c.exited).code, c.stderr).toBe(0);
    expect(c.lines).toEqual(['logging', 'acked', 'done']);
    expect(fs.readFileSync(path.join(dir, 'report'), 'utf8').trim().split('\n').at(-1)).toBe('3000');
    expect(await texts(file)).toEqual(lines(1, 3000));
    const samples = fs.readFileSync(path.join(dir, 'samples'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string);
    expect(samples.length).toBe(4);
    for (const s of samples) expect(s).toBe(`${lineOf((JSON.parse(s) as { n: number }).n)}\n`);
    expect((await verify(file)).ok).toBe(true);
  });

  it('the stream is what thread-stream needs: a flush that takes a callback, and the state it reads', async () => {
    const dest = await journalDestination(tmpJournal());
    // thread-stream calls a flush that declares no parameter without a callback, and takes it as done at once.
    expect(dest.flush.length).toBe(1);
    expect({ writableNeedDrain: dest.writableNeedDrain, writableEnded: dest.writableEnded, writable: dest.writable }).toEqual({
      writableNeedDrain: false, writableEnded: false, writable: true,
    });
    await ended(dest);
    expect(dest.writableEnded).toBe(true);
  });

  it("a failure in the worker reaches the main thread as an 'error' event and through flush's callback", async () => {
    const file = tmpJournal();
    const c = new Child('pino-transport-error.mjs', [file]);
    expect((await c.exited).code, c.stderr).toBe(0);
    expect(c.lines[0]).toBe('flushed');
    expect(c.lines[1]).toMatch(/^flush-error /);
    expect(c.lines[2]).toMatch(/^error-event .*does not fit in a record of maxRecordBytes \(4096\)/);
    expect(await texts(file)).toEqual(lines(1, 10));
  });
});

describe('pino transport beside other writers', () => {
  it('a transport in a worker beside a journal opened on the main thread', async () => {
    const file = tmpJournal();
    const c = new Child('pino-beside-journal.mjs', [file]);
    const { code, signal } = await c.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const [ok, appended, logged] = c.lines.at(-1)!.split(' ');
    expect(ok).toBe('ok');
    const got = await texts(file);
    expect(got.filter((t) => t.startsWith('{"level"'))).toEqual(lines(1, Number(logged)));
    expect(got.filter((t) => !t.startsWith('{"level"'))).toHaveLength(Number(appended));
  });
});

describe('SIGKILL', () => {
  const TOTAL = 100_000;
  const KILLS = 20;
  /** The line numbers a child reported as flushed, in the order of the callbacks. */
  const ackedIn = (report: string) => (fs.existsSync(report) ? fs.readFileSync(report, 'utf8').split('\n').filter((l) => l !== '').map(Number) : []);

  it.each(['destination', 'transport'])(
    '%s: a process logging 100,000 lines, SIGKILLed 20 times at random moments and restarted: every line whose flush called back is in the journal, in order, byte for byte',
    async (mode) => {
      const file = tmpJournal();
      const dir = path.dirname(file);
      const samplesFile = path.join(dir, 'samples');
      let next = 1;
      /** Kills that came while acknowledged lines were being followed by more, and kills after which the journal held lines never acknowledged. */
      let midway = 0;
      let unackedKept = 0;
      /** Lines acknowledged per ms in the last round killed. */
      let perMs = 100;
      for (let round = 0; round <= KILLS; round++) {
        const report = path.join(dir, `report-${round}`);
        const c = new Child('pino-logger.mjs', [file, report, String(next), String(TOTAL), mode, samplesFile]);
        if (round < KILLS) {
          // At a random moment of the logging, once the first flush has called back; within a
          // window short enough, at the rate measured, to leave lines for the rounds after it.
          await Promise.race([c.waitFor((l) => l === 'acked'), c.exited]);
          const t0 = performance.now();
          const first = ackedIn(report)[0] ?? next;
          await sleep(Math.random() * Math.min(100, TOTAL / (2 * KILLS) / perMs));
          await c.kill('SIGKILL');
          const ms = performance.now() - t0;
          if (ms >= 5) perMs = Math.max(1, (Math.max(first, ...ackedIn(report)) - first) / ms);
          expect(c.lines).not.toContain('done');
        } else {
          expect((await c.exited).code, c.stderr).toBe(0);
        }
        const reported = ackedIn(report);
        // The destination calls flushes back in the order of the calls (thread-stream may not).
        if (mode === 'destination') expect(reported).toEqual([...reported].sort((a, b) => a - b));
        const acked = Math.max(0, ...reported);
        const got = await texts(file, next);
        // The journal holds exactly the lines 1..end: this run's lines after the last run's, none twice, none out of order.
        const wrong = got.map((t, i) => (t === lineOf(next + i) ? null : { line: next + i, t })).filter((x) => x !== null);
        expect(wrong).toEqual([]);
        const end = next - 1 + got.length;
        expect(end).toBeGreaterThanOrEqual(acked);
        if (acked >= next) midway++;
        if (end > acked) unackedKept++;
        next = end + 1;
      }
      expect(next - 1).toBe(TOTAL);
      expect(midway).toBeGreaterThanOrEqual(KILLS);
      // Some kills came while lines were written and not yet acknowledged: the window the flushes wait out.
      expect(unackedKept).toBeGreaterThan(0);
      // What pino itself wrote for a sample of lines is the text the journal holds.
      const samples = fs.readFileSync(samplesFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string);
      expect(samples.length).toBeGreaterThan(50);
      for (const s of samples) expect(s).toBe(`${lineOf((JSON.parse(s) as { n: number }).n)}\n`);
    },
    120_000,
  );
});
