/**
 * A JetStream cluster of 3 nats-servers on loopback, a stream with 3 replicas: the node the shipper
 * is connected to, which also leads the stream, is killed in the middle of shipping. The shipper
 * reconnects to another node, waits out the leader election, and goes on; nothing is lost or
 * duplicated; the node comes back and catches up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../src/index.js';
import { ship, type ShipEvent } from '../src/nats/index.js';
import { Child, readAll, sleep, tmpJournal } from './helpers.js';
import { admin, createStream, natsMissing, range, serverDir, startCluster, streamMessages, type NatsCluster } from './nats-helpers.js';

const missing = natsMissing('test/nats-cluster.test.ts (a JetStream cluster)');

let dir: string;
let cluster: NatsCluster;
let ctl: Awaited<ReturnType<typeof admin>>;

beforeAll(async () => {
  if (missing) return;
  dir = serverDir();
  cluster = await startCluster(dir, 3);
  ctl = await admin(cluster.urls);
}, 60_000);

afterAll(async () => {
  if (missing) return;
  await ctl?.close();
  await cluster?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe.skipIf(missing)('ship to a JetStream cluster', () => {
  it('a stream of 3 replicas: its leader stopped mid-shipping, shipping goes on, nothing lost or duplicated; the node restarted catches up', async () => {
    await createStream(ctl.jsm, 'CLUSTERED', { num_replicas: 3 });
    const leaderName = (await ctl.jsm.streams.info('CLUSTERED')).cluster!.leader!;
    const leader = cluster.node(leaderName);
    const servers = [leader.url, ...cluster.urls.filter((u) => u !== leader.url)];
    const file = tmpJournal();
    const writer = new Child('writer.mjs', [file, 'w', '8', '2000', JSON.stringify({ durability: 'interval', pauseMs: 1 })]);
    await writer.waitFor((l) => l.startsWith('open'));
    const events: ShipEvent[] = [];
    const s = await ship(file, { server: servers, stream: 'CLUSTERED', ackTimeoutMs: 2000, onEvent: (e) => events.push(e) });
    await until(() => s.position >= 2000, 'shipping to start');
    const atStop = s.position;
    expect(atStop, 'the node must be stopped in the middle of shipping').toBeLessThan(16_000);
    await leader.stop('SIGKILL');
    // The writer may end before the shipper has 2000 more to ship when the machine is loaded.
    const onward = Math.min(atStop + 2000, 16_000);
    await until(() => s.position >= onward, `shipping to go on without the stopped node (at ${s.position}, stopped at ${atStop})`, 60_000);
    expect((await writer.exited).code, writer.stderr).toBe(0);
    const recs = await readAll(file);
    await s.waitFor(recs.at(-1)!.seq);
    expect(events.some((e) => e.type === 'disconnected')).toBe(true);
    expect(events.some((e) => e.type === 'resync')).toBe(true);

    await leader.start();
    const seen: string[] = [];
    await until(async () => {
      const info = await ctl.jsm.streams.info('CLUSTERED').catch(() => null);
      const replicas = info?.cluster?.replicas ?? [];
      if (info !== null) {
        const view = `leader ${info.cluster?.leader} last_seq ${info.state.last_seq} replicas ${replicas.map((r) => `${r.name}:${r.current ? 'current' : 'behind'}${r.offline ? ',offline' : ''}`).join(' ')}`;
        if (seen.at(-1) !== view) seen.push(view);
      }
      // A node that is not the leader may answer, with its own view of the stream (while it catches
      // up, an older one): only the leader's answer says what the stream holds.
      return info !== null && info.cluster?.leader !== undefined && replicas.length === 2 && replicas.every((r) => r.current && !r.offline);
    }, 'the restarted node to catch up').catch((err) => {
      throw new Error(`${err.message}; the stream as seen meanwhile:\n${seen.join('\n')}`);
    });
    await s.close();

    const id = (await Journal.open(file)).id;
    let state = (await ctl.jsm.streams.info('CLUSTERED')).state;
    // A replica counts as current a little before it holds the last message, and any node may
    // answer: wait until the answer holds every record. One that never comes fails the wait, and a
    // stream holding too many or the wrong ones fails the checks below.
    await until(async () => {
      const info = await ctl.jsm.streams.info('CLUSTERED').catch(() => null);
      if (info?.cluster?.leader === undefined) return false;
      state = info.state;
      return state.last_seq >= recs.length;
    }, 'an answer holding every record', 30_000).catch((err) => {
      throw new Error(`${err.message}; the last answer: ${JSON.stringify([state.messages, state.first_seq, state.last_seq])}`);
    });
    expect([state.messages, state.first_seq, state.last_seq]).toEqual([recs.length, 1, recs.length]);
    const msgs = await streamMessages(ctl.nc, 'CLUSTERED');
    expect(msgs.map((m) => m.seq)).toEqual(recs.map((r) => r.seq));
    expect(new Set(msgs.map((m) => m.msgId)).size).toBe(recs.length);
    expect(msgs.every((m) => m.journalId === id)).toBe(true);
    expect(msgs.map((m) => m.seq)).toEqual(range(1, 16_000));
  }, 120_000);
});
