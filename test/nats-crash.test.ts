/**
 * The shipper killed with SIGKILL at random moments while a writer keeps appending, against a real
 * nats-server: whatever the kill interrupted (a window of publishes in flight, acknowledged records
 * whose position was not committed yet), the stream ends up with every record once, in seq order.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal, listConsumers } from '../src/index.js';
import { ship } from '../src/nats/index.js';
import { Child, readAll, sleep, tmpJournal } from './helpers.js';
import { admin, createStream, natsMissing, range, serverDir, startServer, streamMessages, type NatsNode } from './nats-helpers.js';

const missing = natsMissing('test/nats-crash.test.ts (shipper crashes)');

const BIN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../dist/cli/main.js');

let dir: string;
let server: NatsNode;
let ctl: Awaited<ReturnType<typeof admin>>;

beforeAll(async () => {
  if (missing) return;
  dir = serverDir();
  server = await startServer(path.join(dir, 'crash'));
  ctl = await admin(server.url);
}, 30_000);

afterAll(async () => {
  if (missing) return;
  await ctl?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The journal seq in the stream's newest message (0 for an empty stream). */
async function newestInStream(stream: string): Promise<number> {
  const info = await ctl.jsm.streams.info(stream);
  if (info.state.last_seq === 0) return 0;
  const m = await ctl.jsm.streams.getMessage(stream, { seq: info.state.last_seq });
  return Number(m?.header.get('Journal-Seq') ?? 0);
}

describe.skipIf(missing)('ship: crashes', () => {
  it('a shipper killed with SIGKILL 20 times while appending goes on: after the last restart catches up, the stream holds every record once, in order', async () => {
    await createStream(ctl.jsm, 'CRASH');
    const file = tmpJournal();
    const writer = new Child('writer.mjs', [file, 'w', '4', '0', JSON.stringify({ durability: 'interval', pauseMs: 2 })]);
    await writer.waitFor((l) => l.startsWith('open'));
    let aheadOfPosition = 0;
    for (let i = 0; i < 20; i++) {
      // Acknowledged by JetStream but not committed when the last kill came: the restart must not publish them again.
      const committed = (await listConsumers(file)).find((c) => c.name === 'ship-CRASH')?.seq ?? 0;
      if ((await newestInStream('CRASH')) > committed) aheadOfPosition++;
      const c = spawn(process.execPath, [BIN, 'ship', file, '--server', server.url, '--stream', 'CRASH', '--ack-timeout', '2000'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      const exited = new Promise((r) => c.on('exit', r));
      const t0 = Date.now();
      while (!out.includes('shipping')) {
        if (Date.now() - t0 > 10_000) throw new Error(`the shipper did not start: ${err}`);
        await sleep(5);
      }
      await sleep(20 + Math.random() * 300);
      c.kill('SIGKILL');
      await exited;
    }
    await writer.kill('SIGKILL');
    const recs = await readAll(file);
    expect(recs.length).toBeGreaterThan(1000);
    const s = await ship(file, { server: server.url, stream: 'CRASH' });
    await s.waitFor(recs.at(-1)!.seq);
    await s.close();
    const id = (await Journal.open(file)).id;
    const msgs = await streamMessages(ctl.nc, 'CRASH');
    expect(msgs.map((m) => m.seq)).toEqual(recs.map((r) => r.seq));
    expect(msgs.map((m) => m.streamSeq)).toEqual(range(1, recs.length));
    for (let i = 0; i < recs.length; i++) {
      expect(msgs[i]!.json).toBe(JSON.stringify(recs[i]!.data));
      expect(msgs[i]!.msgId).toBe(`${id}:${recs[i]!.seq}`);
    }
    expect(aheadOfPosition).toBeGreaterThan(0);
  }, 120_000);
});
