/**
 * Shipping to NATS JetStream and restoring from it, against a real nats-server started here on a
 * free loopback port: the happy path under a concurrent writer, restore's idempotence, and each
 * failure the shipper must survive or report.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compact, Consumer, ErrorCode, Journal, listConsumers, rawJson, readJournal, verify } from '../src/index.js';
import { restore, ship, type ShipEvent } from '../src/nats/index.js';
import { Child, readAll, sleep, tmpDir, tmpJournal } from './helpers.js';
import { admin, createStream, freePort, natsMissing, range, serverDir, startServer, streamMessages, type NatsNode } from './nats-helpers.js';

const missing = natsMissing('test/nats.test.ts (ship and restore)');

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = path.join(ROOT, 'dist/cli/main.js');
const FIXTURES = path.join(ROOT, 'test/fixtures');

let dir: string;
let server: NatsNode;
let ctl: Awaited<ReturnType<typeof admin>>;
let streams = 0;

beforeAll(async () => {
  if (missing) return;
  dir = serverDir();
  server = await startServer(path.join(dir, 'single'));
  ctl = await admin(server.url);
}, 30_000);

afterAll(async () => {
  if (missing) return;
  await ctl?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A new stream for one test, named uniquely. */
async function newStream(config = {}): Promise<string> {
  const name = `S${++streams}`;
  await createStream(ctl.jsm, name, config);
  return name;
}

async function journalOf(n: number, file = tmpJournal(), from = 0): Promise<string> {
  const j = await Journal.open(file);
  await j.appendMany(range(from + 1, from + n).map((i) => ({ n: i, text: `record ${i}` })));
  await j.close();
  return file;
}

/** Checks that the stream holds exactly the journal's records, in seq order, each once. */
async function expectStreamEqualsJournal(stream: string, file: string): Promise<void> {
  const recs = await readAll(file);
  const msgs = await streamMessages(ctl.nc, stream);
  expect(msgs.map((m) => m.seq)).toEqual(recs.map((r) => r.seq));
  expect(msgs.map((m) => m.streamSeq)).toEqual(range(msgs[0]?.streamSeq ?? 1, (msgs[0]?.streamSeq ?? 1) + msgs.length - 1));
  const id = (await Journal.open(file)).id;
  for (let i = 0; i < recs.length; i++) {
    expect(msgs[i]!.json).toBe(JSON.stringify(recs[i]!.data));
    expect(msgs[i]!.ts).toBe(recs[i]!.ts);
    expect(msgs[i]!.msgId).toBe(`${id}:${recs[i]!.seq}`);
    expect(msgs[i]!.journalId).toBe(id);
  }
}

function run(args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(missing)('ship and restore, one server', () => {
  it('ships 50,000 records while another process appends: the stream holds each once, in seq order; restore equals the original', async () => {
    const stream = await newStream();
    const file = tmpJournal();
    const writer = new Child('writer.mjs', [file, 'w', '25', '2000', JSON.stringify({ durability: 'interval' })]);
    await writer.waitFor((l) => l.startsWith('open'));
    const s = await ship(file, { server: server.url, stream });
    const exit = await writer.exited;
    expect(exit.code, writer.stderr).toBe(0);
    const recs = await readAll(file);
    expect(recs.length).toBe(50_000);
    await s.waitFor(recs.at(-1)!.seq);
    await s.close();
    await s.done;
    expect(s.stats.skipped).toBe(0);
    await expectStreamEqualsJournal(stream, file);

    const copy = path.join(tmpDir(), 'restored.jsonl');
    const r = await restore(copy, { server: server.url, stream });
    expect(r).toMatchObject({ restored: 50_000, firstSeq: 1, lastSeq: 50_000 });
    expect((await verify(copy)).ok).toBe(true);
    const back = await readAll(copy);
    expect(back.map(({ seq, ts, data }) => ({ seq, ts, data }))).toEqual(recs.map(({ seq, ts, data }) => ({ seq, ts, data })));
    const original = await Journal.open(file);
    const restored = await Journal.open(copy);
    expect(restored.id).toBe(original.id);
    await original.close();
    await restored.close();

    const bytes = fs.readFileSync(copy);
    expect(await restore(copy, { server: server.url, stream })).toMatchObject({ restored: 0, firstSeq: null });
    expect(fs.readFileSync(copy).equals(bytes)).toBe(true);
  }, 120_000);

  it('a restore killed half way and run again gives the same journal', async () => {
    const stream = await newStream();
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    for (let b = 0; b < 30; b++) await j.appendMany(range(1, 1000).map((i) => ({ b, i, pad: 'r'.repeat(200) })));
    await j.close();
    const s = await ship(file, { server: server.url, stream });
    await s.waitFor(30_000);
    await s.close();

    const copy = path.join(tmpDir(), 'copy.jsonl');
    const child = spawn(process.execPath, [BIN, 'restore', copy, '--server', server.url, '--stream', stream], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    while (!(fs.existsSync(copy) && fs.statSync(copy).size > 1_000_000)) await sleep(2);
    child.kill('SIGKILL');
    await exited;
    const part = await readAll(copy);
    expect(part.length).toBeGreaterThan(0);
    expect(part.length).toBeLessThan(30_000);

    const again = await run(['restore', copy, '--server', server.url, '--stream', stream]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`restored ${(30_000 - part.length).toLocaleString('en-US')} records`);
    expect((await verify(copy)).ok).toBe(true);
    const recs = await readAll(file);
    expect((await readAll(copy)).map(({ seq, ts, data }) => ({ seq, ts, data }))).toEqual(recs.map(({ seq, ts, data }) => ({ seq, ts, data })));
    const third = await run(['restore', copy, '--server', server.url, '--stream', stream]);
    expect(third.stdout).toContain('up to date');
  }, 60_000);

  it('restore into a journal with a torn tail says where the bytes it cut were saved', async () => {
    const stream = await newStream();
    const file = await journalOf(10);
    const s = await ship(file, { server: server.url, stream });
    await s.waitFor(10);
    await s.close();
    const copy = path.join(tmpDir(), 'copy.jsonl');
    expect(await restore(copy, { server: server.url, stream })).toMatchObject({ restored: 10, cut: null });
    const size = fs.statSync(copy).size;
    fs.appendFileSync(copy, 'torn bytes');
    const r = await run(['restore', copy, '--server', server.url, '--stream', stream]);
    expect(r.code, r.stderr).toBe(0);
    const m = new RegExp(`up to date.*\\n  cut a torn tail of 10 bytes at offset ${size.toLocaleString('en-US')}; the bytes are saved in (\\S+\\.cut)\\n$`).exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(fs.readFileSync(m![1]!, 'utf8')).toBe('torn bytes');
    fs.appendFileSync(copy, 'torn again');
    const again = await restore(copy, { server: server.url, stream });
    expect(again.cut).toMatchObject({ offset: size, bytes: 10, foreign: 0 });
    expect(fs.readFileSync(again.cut!.savedTo, 'utf8')).toBe('torn again');
  });

  it('numbers are shipped and restored digit for digit, as the journal stores them', async () => {
    const stream = await newStream();
    const file = tmpJournal();
    const j = await Journal.open(file);
    const texts = ['{"id":12345678901234567890123,"f":0.1000000000000000055511151231257827}', '{"n":-98765432109876543210}', '{"plain":1}'];
    await j.appendMany(texts.map((t) => rawJson(t)));
    await j.close();
    const s = await ship(file, { server: server.url, stream });
    await s.waitFor(3);
    await s.close();
    expect((await streamMessages(ctl.nc, stream)).map((m) => m.json)).toEqual(texts);
    const copy = path.join(tmpDir(), 'copy.jsonl');
    await restore(copy, { server: server.url, stream });
    const back = [];
    for await (const r of readJournal(copy, { data: 'text' })) back.push(r.data);
    expect(back).toEqual(texts);
    // A restarted shipper compares the stream's newest record with the journal's: the same.
    const again = await ship(file, { server: server.url, stream });
    expect(again.ackedSeq).toBe(3);
    await again.close();
  });

  it('fromTs: a first run starts at the first record appended at or after it; a second run goes on from its position', async () => {
    const stream = await newStream();
    const file = tmpJournal();
    const base = Date.parse('2026-11-22T03:00:00Z');
    const j = await Journal.open(file);
    await j.appendMany(range(1, 10).map((n) => ({ n })), { ts: range(1, 10).map((n) => base + n * 60_000) });
    await j.close();
    const s = await ship(file, { server: server.url, stream, fromTs: new Date(base + 6.5 * 60_000) });
    expect(s.ackedSeq).toBe(6);
    await s.waitFor(10);
    await s.close();
    expect((await streamMessages(ctl.nc, stream)).map((m) => m.seq)).toEqual([7, 8, 9, 10]);
    const j2 = await Journal.open(file);
    await j2.append({ n: 11 });
    await j2.close();
    // The time applies to a first run only: this one goes on from seq 10.
    const again = await ship(file, { server: server.url, stream, fromTs: base });
    await again.waitFor(11);
    await again.close();
    expect((await streamMessages(ctl.nc, stream)).map((m) => m.seq)).toEqual([7, 8, 9, 10, 11]);
    await expect(ship(file, { server: server.url, stream, fromTs: Number.NaN })).rejects.toThrow(RangeError);
  });

  it('journal ship and journal restore from the command line', async () => {
    const stream = await newStream();
    const file = await journalOf(100);
    const c = spawn(process.execPath, [BIN, 'ship', file, '--server', server.url, '--stream', stream], { env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    const closed = new Promise<number | null>((r) => c.on('close', r));
    while (!out.includes('shipping')) await sleep(10);
    expect(out).toContain(`shipping to stream ${stream} (subject ${stream.toLowerCase()}) from seq 1`);
    while ((await listConsumers(file)).find((x) => x.name === `ship-${stream}`)?.seq !== 100) await sleep(20);
    c.kill('SIGTERM');
    expect(await closed).toBe(0);
    expect(out).toContain('100 records shipped in this run, position seq 100');
    await expectStreamEqualsJournal(stream, file);
    const copy = path.join(tmpDir(), 'copy.jsonl');
    const r = await run(['restore', copy, '--server', server.url, '--stream', stream, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ restored: 100, firstSeq: 1, lastSeq: 100 });
    const usage = await run(['ship', file, '--stream', stream]);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('missing --server');
  }, 30_000);
});

describe.skipIf(missing)('ship: failures', () => {
  it('no server at start: fails at once with NATS_UNREACHABLE under failFast, naming the address', async () => {
    const file = await journalOf(3);
    const url = `nats://127.0.0.1:${await freePort()}`;
    const t0 = Date.now();
    const err = await ship(file, { server: url, stream: 'NONE', failFast: true }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.NATS_UNREACHABLE);
    expect(err.message).toContain(url);
    expect(Date.now() - t0).toBeLessThan(5000);
    const cli = await run(['ship', file, '--server', url, '--stream', 'NONE', '--fail-fast']);
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain(url);
  });

  it('no server at start: retries with growing backoff until one answers, then ships', async () => {
    const file = await journalOf(20);
    const port = await freePort();
    const events: ShipEvent[] = [];
    const shipping = ship(file, { server: `nats://127.0.0.1:${port}`, stream: 'LATE', onEvent: (e) => events.push(e) });
    while (events.filter((e) => e.type === 'retry').length < 3) await sleep(20);
    const late = await startServer(path.join(dir, 'late'), port);
    try {
      const c = await admin(late.url);
      await createStream(c.jsm, 'LATE');
      const s = await shipping;
      await s.waitFor(20);
      await s.close();
      expect((await streamMessages(c.nc, 'LATE')).map((m) => m.seq)).toEqual(range(1, 20));
      await c.close();
    } finally {
      await late.stop();
    }
    const delays = events.flatMap((e) => (e.type === 'retry' ? [e.delayMs] : []));
    expect(delays.slice(0, 3)).toEqual([250, 500, 1000]);
  }, 30_000);

  it('the connection lost mid-stream: reconnects and resumes, nothing lost or duplicated', async () => {
    const own = await startServer(path.join(dir, 'restarted'));
    try {
      const c = await admin(own.url);
      await createStream(c.jsm, 'LOST');
      const file = tmpJournal();
      const writer = new Child('writer.mjs', [file, 'w', '8', '1500', JSON.stringify({ durability: 'interval', pauseMs: 1 })]);
      await writer.waitFor((l) => l.startsWith('open'));
      const events: ShipEvent[] = [];
      const s = await ship(file, { server: own.url, stream: 'LOST', ackTimeoutMs: 1000, onEvent: (e) => events.push(e) });
      while (s.position < 2000) await sleep(10);
      await own.stop('SIGKILL');
      await sleep(300);
      await own.start();
      expect((await writer.exited).code, writer.stderr).toBe(0);
      const last = (await readAll(file)).at(-1)!.seq;
      await s.waitFor(last);
      await s.close();
      expect(events.some((e) => e.type === 'disconnected')).toBe(true);
      expect(events.some((e) => e.type === 'reconnected')).toBe(true);
      const msgs = await streamMessages(c.nc, 'LOST');
      expect(msgs.map((m) => m.seq)).toEqual(range(1, last));
      expect(msgs.map((m) => m.streamSeq)).toEqual(range(1, last));
      await c.close();
    } finally {
      await own.stop();
    }
  }, 60_000);

  it('a missing stream: STREAM_NOT_FOUND, naming the stream and how to create it', async () => {
    const file = await journalOf(3);
    const err = await ship(file, { server: server.url, stream: 'NO_SUCH_STREAM' }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.STREAM_NOT_FOUND);
    expect(err.message).toContain('stream NO_SUCH_STREAM does not exist');
    expect(err.message).toContain('retention');
    const r = await restore(path.join(tmpDir(), 'x.jsonl'), { server: server.url, stream: 'NO_SUCH_STREAM' }).catch((e) => e);
    expect(r.code).toBe(ErrorCode.STREAM_NOT_FOUND);
  });

  it('a misconfigured stream: STREAM_MISCONFIGURED saying what to fix', async () => {
    const file = await journalOf(3);
    const other = await newStream();
    let err = await ship(file, { server: server.url, stream: other, subject: 'elsewhere' }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.STREAM_MISCONFIGURED);
    expect(err.message).toContain(`does not take the subject elsewhere (its subjects are ${other.toLowerCase()})`);

    const wq = await newStream({ retention: 'workqueue' });
    err = await ship(file, { server: server.url, stream: wq }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.STREAM_MISCONFIGURED);
    expect(err.message).toContain("use retention 'limits'");

    const foreign = await newStream();
    const { jetstream } = await import('@nats-io/jetstream');
    await jetstream(ctl.nc).publish(foreign.toLowerCase(), 'not a record');
    err = await ship(file, { server: server.url, stream: foreign }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.STREAM_MISCONFIGURED);
    expect(err.message).toContain('not a journal record');
    const r = await restore(path.join(tmpDir(), 'x.jsonl'), { server: server.url, stream: foreign }).catch((e) => e);
    expect(r.code).toBe(ErrorCode.BAD_MESSAGE);

    const taken = await newStream();
    const s = await ship(await journalOf(2), { server: server.url, stream: taken });
    await s.waitFor(2);
    await s.close();
    err = await ship(file, { server: server.url, stream: taken }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.STREAM_MISCONFIGURED);
    expect(err.message).toContain('holds records of another journal');

    const two = await newStream({ subjects: ['a.*', 'b'] });
    err = await ship(file, { server: server.url, stream: two }).catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toContain('say which subject');
  });

  it('another publisher writing to the stream while shipping stops the shipper with STREAM_MISCONFIGURED', async () => {
    const stream = await newStream();
    const file = await journalOf(10);
    const s = await ship(file, { server: server.url, stream, ackTimeoutMs: 1000 });
    await s.waitFor(10);
    const { jetstream } = await import('@nats-io/jetstream');
    await jetstream(ctl.nc).publish(stream.toLowerCase(), 'intruder');
    const j = await Journal.open(file);
    await j.append({ after: 'intruder' });
    await j.close();
    const err = await s.done.catch((e) => e);
    expect(err.code).toBe(ErrorCode.STREAM_MISCONFIGURED);
    expect(s.position).toBe(10);
    const msgs = await streamMessages(ctl.nc, stream);
    expect(msgs.map((m) => m.seq)).toEqual([...range(1, 10), Number.NaN]);
  });

  it('a record the stream refuses for good: the shipper stops with PUBLISH_REJECTED naming the record', async () => {
    const stream = await newStream({ max_msg_size: 300 });
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany([{ small: 1 }, { big: 'b'.repeat(1000) }, { small: 3 }]);
    await j.close();
    const s = await ship(file, { server: server.url, stream });
    const err = await s.done.catch((e) => e);
    expect(err.code).toBe(ErrorCode.PUBLISH_REJECTED);
    expect(err.message).toContain('refused record seq 2');
    expect(s.position).toBe(1);
  });

  it('a record over the server\'s max_payload: the shipper stops with PUBLISH_REJECTED naming the record and the limit', async () => {
    const stream = await newStream();
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany([{ small: 1 }, { small: 2 }, { big: 'b'.repeat(1024 * 1024 + 1) }, { small: 4 }]);
    await j.close();
    const s = await ship(file, { server: server.url, stream });
    const err = await s.done.catch((e) => e);
    expect(err.code).toBe(ErrorCode.PUBLISH_REJECTED);
    expect(err.message).toContain('record seq 3 cannot be published');
    expect(err.message).toContain('max_payload');
    expect(s.position).toBe(2);
    expect((await streamMessages(ctl.nc, stream)).map((m) => m.seq)).toEqual([1, 2]);
  });

  it('the stream deleted under a running shipper: it stops with STREAM_NOT_FOUND', async () => {
    const stream = await newStream();
    const file = await journalOf(10);
    const s = await ship(file, { server: server.url, stream, ackTimeoutMs: 1000 });
    await s.waitFor(10);
    await ctl.jsm.streams.delete(stream);
    const j = await Journal.open(file);
    await j.append({ after: 'deleted' });
    await j.close();
    const err = await s.done.catch((e) => e);
    expect(err.code).toBe(ErrorCode.STREAM_NOT_FOUND);
    expect(err.message).toContain(`stream ${stream} does not exist`);
    expect(s.position).toBe(10);
  });

  it('records compaction removed before they were shipped are reported, the rest shipped once', async () => {
    const stream = await newStream();
    const file = await journalOf(100);
    let s = await ship(file, { server: server.url, stream });
    await s.waitFor(100);
    await s.close();
    await journalOf(100, file, 100);
    await compact(file, { keep: (r) => !(r.seq >= 120 && r.seq < 150), retainForConsumers: false });
    const events: ShipEvent[] = [];
    s = await ship(file, { server: server.url, stream, onEvent: (e) => events.push(e) });
    await s.waitFor(200);
    await s.close();
    expect(events.filter((e) => e.type === 'skipped')).toEqual([{ type: 'skipped', fromSeq: 120, toSeq: 149 }]);
    expect(s.stats.skipped).toBe(30);
    await expectStreamEqualsJournal(stream, file);

    // Retention past the position: no POSITION_GONE, the gap is reported and shipping goes on.
    await journalOf(100, file, 200);
    await compact(file, { beforeSeq: 250, retainForConsumers: false });
    events.length = 0;
    s = await ship(file, { server: server.url, stream, onEvent: (e) => events.push(e) });
    await s.waitFor(300);
    await s.close();
    expect(events.filter((e) => e.type === 'skipped')).toEqual([{ type: 'skipped', fromSeq: 201, toSeq: 249 }]);
    const msgs = await streamMessages(ctl.nc, stream);
    expect(msgs.map((m) => m.seq)).toEqual([...range(1, 119), ...range(150, 200), ...range(250, 300)]);
  }, 30_000);

  it('a journal compacted under a running shipper: it goes on after its position, nothing skipped or duplicated', async () => {
    const stream = await newStream();
    const file = await journalOf(500);
    const events: ShipEvent[] = [];
    const s = await ship(file, { server: server.url, stream, pollMs: 20, onEvent: (e) => events.push(e) });
    await s.waitFor(500);
    await compact(file, { beforeSeq: 400, keep: (r) => r.seq % 2 === 0 });
    await journalOf(100, file, 500);
    await s.waitFor(600);
    await compact(file, { beforeSeq: 550 });
    await journalOf(100, file, 600);
    await s.waitFor(700);
    await s.close();
    expect(events.filter((e) => e.type === 'skipped')).toEqual([]);
    expect((await streamMessages(ctl.nc, stream)).map((m) => m.seq)).toEqual(range(1, 700));
  }, 30_000);

  it('a shipper restarted after its duplicate window does not publish again what the stream holds', async () => {
    const stream = await newStream({ duplicate_window: 100_000_000 });
    const file = await journalOf(100);
    let s = await ship(file, { server: server.url, stream, consumer: 'dw' });
    await s.waitFor(100);
    await s.close();
    // As if the shipper died after JetStream acknowledged 51..100 and before it committed them.
    await Consumer.reset(file, 'dw', { seq: 51 });
    await sleep(300);
    s = await ship(file, { server: server.url, stream, consumer: 'dw' });
    await s.waitFor(100);
    expect(s.stats.published).toBe(0);
    await journalOf(10, file, 100);
    await s.waitFor(110);
    await s.close();
    await expectStreamEqualsJournal(stream, file);
  });

  it('a stream emptied and made again gets the whole journal again; a journal beside the stream is DIVERGED', async () => {
    const stream = await newStream();
    const file = await journalOf(50);
    let s = await ship(file, { server: server.url, stream });
    await s.waitFor(50);
    await s.close();
    await ctl.jsm.streams.delete(stream);
    await createStream(ctl.jsm, stream);
    // Its position says 50, but the stream's end is what counts.
    s = await ship(file, { server: server.url, stream });
    await s.waitFor(50);
    await s.close();
    expect(s.stats.published).toBe(50);
    await expectStreamEqualsJournal(stream, file);

    // A copy of the journal that got another record 51 than the one shipped.
    const other = path.join(tmpDir(), 'other.jsonl');
    await restore(other, { server: server.url, stream });
    const j = await Journal.open(file);
    await j.append({ n: 51 });
    await j.close();
    s = await ship(file, { server: server.url, stream });
    await s.waitFor(51);
    await s.close();
    const j2 = await Journal.open(other);
    await j2.append({ other: 51 });
    await j2.close();
    const err = await ship(other, { server: server.url, stream, consumer: 'other' }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.DIVERGED);
    expect(err.message).toContain("the journal's record at seq 51 is another one");
    const r = await restore(other, { server: server.url, stream }).catch((e) => e);
    expect(r.code).toBe(ErrorCode.DIVERGED);
    // And a journal that lost its last records (an older copy) is behind the stream.
    const behind = path.join(tmpDir(), 'behind.jsonl');
    const jb = await Journal.open(behind, { identity: { id: (await Journal.open(file)).id, created: 1 } });
    await jb.appendRecords((await readAll(file)).slice(0, 40).map(({ seq, ts, data }) => ({ seq, ts, data })));
    await jb.close();
    const err2 = await ship(behind, { server: server.url, stream }).catch((e) => e);
    expect(err2.code).toBe(ErrorCode.DIVERGED);
    expect(err2.message).toContain('the journal ends before that seq');
  });

  it('without the NATS client installed: NATS_CLIENT_MISSING saying what to install; the rest of the command works', async () => {
    const file = await journalOf(3);
    const hooks = ['--import', path.join(FIXTURES, 'without-nats.mjs')];
    const r = await run(['ship', file, '--server', server.url, '--stream', 'X'], {}, hooks);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('npm install @nats-io/transport-node @nats-io/jetstream');
    const v = await run(['verify', file], {}, hooks);
    expect(v.code).toBe(0);
    const lib = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, [...hooks, '--input-type=module', '-e',
        `import('jsonl-journal/nats').then((m) => m.restore('x.jsonl', { server: '${server.url}', stream: 'X' })).catch((e) => console.log(e.code))`], { cwd: ROOT });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('close', () => resolve(out.trim()));
    });
    expect(lib).toBe(ErrorCode.NATS_CLIENT_MISSING);
  });
});
