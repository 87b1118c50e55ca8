/**
 * The shipper's publisher, against a real nats-server: acknowledgements matched to their publishes
 * whatever order they come in, JetStream's refusals passed on with their codes, the one timer that
 * times publishes out, and every publish settled exactly once, never from inside publish().
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadNats, type Nats } from '../src/nats/client.js';
import { Publisher, type PublishError } from '../src/nats/publisher.js';
import { sleep } from './helpers.js';
import { admin, createStream, natsMissing, range, serverDir, startServer, type NatsNode } from './nats-helpers.js';

const missing = natsMissing('test/nats-publisher.test.ts (the publisher)');

let dir: string;
let server: NatsNode;
let ctl: Awaited<ReturnType<typeof admin>>;
let nats: Nats;
let nc: NatsConnection;

beforeAll(async () => {
  if (missing) return;
  dir = serverDir();
  server = await startServer(path.join(dir, 'single'));
  ctl = await admin(server.url);
  nats = await loadNats();
  nc = await nats.transport.connect({ servers: server.url });
}, 30_000);

afterAll(async () => {
  if (missing) return;
  await nc?.close();
  await ctl?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  id: number;
  err: PublishError | null;
  seq: number;
}

/** A publisher that records each settlement, and throws from send() if one came from inside publish(). */
function recording(timeoutMs: number): { pub: Publisher<number>; out: Outcome[]; send: (subject: string, id: number, payload?: string, hdrs?: Record<string, string>) => void } {
  const out: Outcome[] = [];
  let inside = false;
  let settledInside = 0;
  const pub = new Publisher<number>(nats, nc, timeoutMs, (id, err, seq) => {
    if (inside) settledInside++;
    out.push({ id, err, seq });
  });
  const send = (subject: string, id: number, payload = `{"n":${id}}`, hdrs: Record<string, string> = {}) => {
    const h = nats.transport.headers();
    for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
    inside = true;
    try {
      pub.publish(subject, payload, h, id);
    } finally {
      inside = false;
    }
    if (settledInside > 0) throw new Error('a publish was settled from inside publish()');
  };
  return { pub, out, send };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await sleep(5);
  }
}

describe.skipIf(missing)('publisher', () => {
  it('a window of publishes to a stream: each acknowledged once with its stream sequence; duplicates and refusals say so', async () => {
    await createStream(ctl.jsm, 'PUB');
    const { pub, out, send } = recording(5000);
    for (const i of range(1, 500)) send('pub', i, undefined, { 'Nats-Msg-Id': `m${i}`, 'Nats-Expected-Last-Sequence': String(i - 1) });
    expect(pub.pending).toBe(500);
    await until(() => out.length === 500);
    expect(pub.pending).toBe(0);
    expect(out.map((o) => o.err)).toEqual(range(1, 500).map(() => null));
    expect(out.map((o) => [o.id, o.seq])).toEqual(range(1, 500).map((i) => [i, i]));

    out.length = 0;
    // The same message id again: JetStream keeps the first copy and acknowledges with its sequence.
    send('pub', 1, undefined, { 'Nats-Msg-Id': 'm7' });
    // A wrong expected last sequence: refused with 10071, the code the shipper resyncs on.
    send('pub', 2, undefined, { 'Nats-Msg-Id': 'new', 'Nats-Expected-Last-Sequence': '3' });
    await until(() => out.length === 2);
    expect(out[0]).toEqual({ id: 1, err: null, seq: 7 });
    expect(out[1]!.id).toBe(2);
    expect(out[1]!.err).toMatchObject({ reason: 'refused', status: 400, code: 10071 });
    expect(out[1]!.err!.message).toContain('wrong last sequence');
    expect((await ctl.jsm.streams.info('PUB')).state.messages).toBe(500);
    pub.close();
  });

  it('acknowledgements coming back in any order are matched to their publishes; a reply that is no acknowledgement fails only its own', async () => {
    const held: Array<{ reply: string; n: number }> = [];
    const responder = nc.subscribe('fake', { callback: (_e, m) => held.push({ reply: m.reply!, n: JSON.parse(m.string()).n }) });
    const { pub, out, send } = recording(5000);
    for (const i of range(1, 20)) send('fake', i);
    await until(() => held.length === 20);
    for (const { reply, n } of held.reverse()) {
      if (n === 13) nc.publish(reply, 'not json');
      else if (n === 14) nc.publish(reply, JSON.stringify({ hello: 1 }));
      else nc.publish(reply, JSON.stringify({ stream: 'FAKE', seq: 100 + n }));
    }
    await until(() => out.length === 20);
    expect(out.map((o) => o.id)).toEqual(range(1, 20).reverse());
    for (const o of out) {
      if (o.id === 13 || o.id === 14) expect(o.err?.reason).toBe('bad-ack');
      else expect(o).toEqual({ id: o.id, err: null, seq: 100 + o.id });
    }
    responder.unsubscribe();
    pub.close();
  });

  it('unanswered publishes time out, each once, by their own deadline; a late reply is ignored; nothing listening is no-responders', async () => {
    const held: string[] = [];
    const responder = nc.subscribe('silent', { callback: (_e, m) => held.push(m.reply!) });
    const { pub, out, send } = recording(300);
    const t0 = performance.now();
    send('silent', 1);
    send('silent', 2);
    await sleep(150);
    send('silent', 3);
    await until(() => out.length === 2);
    const first = performance.now() - t0;
    expect(first).toBeGreaterThanOrEqual(290);
    expect(out.map((o) => [o.id, o.err?.reason])).toEqual([[1, 'timeout'], [2, 'timeout']]);
    await until(() => out.length === 3);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(440);
    expect(out[2]).toMatchObject({ id: 3, err: { reason: 'timeout' } });
    for (const r of held) nc.publish(r, JSON.stringify({ stream: 'X', seq: 1 }));
    await nc.flush();
    await sleep(50);
    expect(out).toHaveLength(3);

    send('nobody.listens', 4);
    await until(() => out.length === 4);
    expect(out[3]).toMatchObject({ id: 4, err: { reason: 'no-responders', status: 503 } });
    responder.unsubscribe();
    pub.close();
  });

  it('closing settles what is pending as closed; a publish after close, or over max_payload, settles later, not inside publish()', async () => {
    const responder = nc.subscribe('silent2', { callback: () => {} });
    const { pub, out, send } = recording(5000);
    send('silent2', 1, 'x'.repeat(nc.info!.max_payload + 1));
    expect(out).toHaveLength(0);
    await until(() => out.length === 1);
    expect(out[0]).toMatchObject({ id: 1, err: { reason: 'too-big' } });
    send('silent2', 2);
    send('silent2', 3);
    await nc.flush();
    pub.close();
    expect(out.slice(1).map((o) => [o.id, o.err?.reason])).toEqual([[2, 'closed'], [3, 'closed']]);
    send('silent2', 4);
    expect(out).toHaveLength(3);
    await until(() => out.length === 4);
    expect(out[3]).toMatchObject({ id: 4, err: { reason: 'closed' } });
    responder.unsubscribe();
  });

  it('the connection closing settles what is pending as closed', async () => {
    const own = await nats.transport.connect({ servers: server.url });
    const responder = nc.subscribe('silent3', { callback: () => {} });
    await nc.flush();
    const out: Outcome[] = [];
    const pub = new Publisher<number>(nats, own, 5000, (id, err, seq) => out.push({ id, err, seq }));
    pub.publish('silent3', 'a', nats.transport.headers(), 1);
    await own.flush();
    await own.close();
    await until(() => out.length === 1);
    expect(out[0]).toMatchObject({ id: 1, err: { reason: 'closed' } });
    responder.unsubscribe();
  });
});
