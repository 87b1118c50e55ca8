/**
 * For the shipping tests: a real nats-server (or a cluster) on free loopback ports, started by the
 * tests, and small tools to create streams and read back what a stream holds.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
// @ts-expect-error: a plain .mjs module shared with the benchmarks, without type declarations.
import { freePort, startCluster, startServer, waitForJetStream } from '../tools/nats-server.mjs';

export { freePort, startCluster, startServer, waitForJetStream };

/**
 * True when the NATS suites cannot run here: they start their own nats-server, which must be on
 * the PATH. npm test then skips them with a one-line note. Under CI=true a missing server is an
 * error instead: CI must prove the bridge works.
 */
export function natsMissing(suite: string): boolean {
  const probe = spawnSync('nats-server', ['--version'], { stdio: 'ignore' });
  if (probe.error === undefined && probe.status === 0) return false;
  const why = 'nats-server is not on the PATH (install it from your OS\'s packages: apt-get install nats-server)';
  if (process.env.CI === 'true') throw new Error(`${suite}: ${why}. Under CI=true the NATS suites must run.`);
  console.warn(`${suite} skipped: ${why}`);
  return true;
}

export interface NatsNode {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
}

export interface NatsCluster {
  nodes: NatsNode[];
  urls: string[];
  node(name: string): NatsNode;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A directory for servers' stores, removed by the caller (servers outlive single tests). */
export function serverDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'jj-nats-'));
}

/** A client connection for setting streams up and reading them back. */
export async function admin(urls: string | string[]): Promise<{ nc: NatsConnection; jsm: JetStreamManager; close: () => Promise<void> }> {
  const nc = await connect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  return { nc, jsm, close: () => nc.close() };
}

export async function createStream(jsm: JetStreamManager, name: string, config: Partial<StreamConfig> = {}): Promise<void> {
  await jsm.streams.add({ name, subjects: [name.toLowerCase()], storage: 'file', ...config } as StreamConfig);
}

/** A message of the stream as the tests look at it. */
export interface StreamMessage {
  streamSeq: number;
  subject: string;
  journalId: string;
  seq: number;
  ts: number;
  msgId: string;
  json: string;
}

/** Every message the stream holds, in stream order. */
export async function streamMessages(nc: NatsConnection, stream: string): Promise<StreamMessage[]> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const info = await jsm.streams.info(stream);
  const out: StreamMessage[] = [];
  if (info.state.messages === 0) return out;
  const c = await jetstream(nc).consumers.get(stream, {});
  const it = await c.consume({ max_messages: 1000 });
  // Read up to the stream's last sequence; a stream missing messages ends the read after a while instead.
  let idle = setTimeout(() => void it.close(), 10_000);
  for await (const m of it) {
    clearTimeout(idle);
    idle = setTimeout(() => void it.close(), 10_000);
    out.push({
      streamSeq: m.seq,
      subject: m.subject,
      journalId: m.headers?.get('Journal-Id') ?? '',
      seq: Number(m.headers?.get('Journal-Seq')),
      ts: Number(m.headers?.get('Journal-Ts')),
      msgId: m.headers?.get('Nats-Msg-Id') ?? '',
      json: m.string(),
    });
    if (m.seq >= info.state.last_seq) break;
  }
  clearTimeout(idle);
  await it.close();
  return out;
}

export const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
