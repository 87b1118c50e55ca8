/**
 * The NATS client, loaded only when a journal is shipped or restored (its packages are optional);
 * connecting with retries, and the client's errors as JournalErrors.
 */
import type * as JetStreamModule from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type * as TransportModule from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode, JournalError } from 'jsonl-journal';

export interface Nats {
  transport: typeof TransportModule;
  jetstream: typeof JetStreamModule;
}

export const CLIENT_PACKAGES = ['@nats-io/transport-node', '@nats-io/jetstream'] as const;

let loading: Promise<Nats> | null = null;

/** Imports the NATS client, or fails with NATS_CLIENT_MISSING saying what to install. */
export function loadNats(): Promise<Nats> {
  loading ??= (async () => {
    try {
      const [transport, jetstream] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]);
      return { transport, jetstream };
    } catch (err) {
      loading = null;
      const code = (err as { code?: string }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
        throw new JournalError(ErrorCode.NATS_CLIENT_MISSING,
          `shipping to NATS needs the NATS client, which is an optional dependency: npm install ${CLIENT_PACKAGES.join(' ')}`, { cause: err });
      }
      throw err;
    }
  })();
  return loading;
}

/** Events of a connection's life, for the caller to log (see ShipEvent). */
export type ConnectionEvent =
  | { type: 'retry'; what: string; attempt: number; delayMs: number; error: Error }
  | { type: 'disconnected'; server: string }
  | { type: 'reconnected'; server: string };

export interface ConnectOptions {
  servers: readonly string[];
  failFast: boolean;
  name: string;
  signal: AbortSignal | undefined;
  onEvent: ((e: ConnectionEvent) => void) | undefined;
}

export interface Connection {
  nats: Nats;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** First and largest pause between attempts to reach a server. */
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 5000;

export function backoffMs(attempt: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(attempt - 1, 10));
}

/** How ship and restore connect, besides the servers and the connection's name (the benchmark uses them too). */
export const CONNECTION_OPTIONS = {
  // Tried in the order given, so that a test or an operator can say which server comes first.
  noRandomize: true,
  timeout: 2000,
  maxReconnectAttempts: -1,
  reconnectTimeWait: BACKOFF_FIRST_MS,
  // A peer that vanishes without closing the socket is noticed in seconds, not the default minutes.
  pingInterval: 5000,
  maxPingOut: 2,
  // Each request (the stream API calls, restore's fetches) would otherwise capture a stack trace in
  // advance, whether or not it fails.
  noAsyncTraces: true,
} as const;

/**
 * Connects, retrying with backoff while no server answers (forever, until the signal aborts),
 * or failing at the first refusal with failFast. Once connected, the client itself reconnects
 * after a lost connection, for as long as the connection is open.
 */
export async function connect(o: ConnectOptions): Promise<Connection> {
  const nats = await loadNats();
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(o.signal);
    let nc: NatsConnection;
    try {
      nc = await nats.transport.connect({ ...CONNECTION_OPTIONS, servers: [...o.servers], name: o.name });
    } catch (err) {
      const e = natsError(err, `cannot connect to ${o.servers.join(', ')}`);
      if (e.code !== ErrorCode.NATS_UNREACHABLE || o.failFast) throw e;
      const delayMs = backoffMs(attempt);
      o.onEvent?.({ type: 'retry', what: 'connect', attempt, delayMs, error: e });
      await sleep(delayMs, o.signal);
      continue;
    }
    watchStatus(nc, o.onEvent);
    return { nats, nc, js: nats.jetstream.jetstream(nc), jsm: await nats.jetstream.jetstreamManager(nc, { checkAPI: false }) };
  }
}

function watchStatus(nc: NatsConnection, onEvent: ((e: ConnectionEvent) => void) | undefined): void {
  if (onEvent === undefined) return;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') onEvent({ type: 'disconnected', server: s.server });
      else if (s.type === 'reconnect') onEvent({ type: 'reconnected', server: s.server });
    }
  })().catch(() => {});
}

/**
 * The JournalError for a failure of the NATS client: NATS_UNREACHABLE when no server could be
 * reached (worth retrying), STREAM_NOT_FOUND, or NATS_ERROR for anything the server refused.
 */
export function natsError(err: unknown, what: string): JournalError {
  if (err instanceof JournalError) return err;
  const e = err as { name?: string; message?: string; code?: unknown; cause?: { code?: unknown } };
  const name = e?.name ?? '';
  const msg = e?.message ?? String(err);
  if (name === 'StreamNotFoundError') return new JournalError(ErrorCode.STREAM_NOT_FOUND, `${what}: ${msg}`, { cause: err });
  if (name === 'AuthorizationError' || name === 'PermissionViolationError' || name === 'UserAuthenticationExpiredError') {
    return new JournalError(ErrorCode.NATS_ERROR, `${what}: ${msg}`, { cause: err });
  }
  if (name === 'ConnectionError' || name === 'TimeoutError' || typeof e?.cause?.code === 'string') {
    return new JournalError(ErrorCode.NATS_UNREACHABLE, `${what}: ${msg}`, { cause: err });
  }
  return new JournalError(ErrorCode.NATS_ERROR, `${what}: ${msg}`, { cause: err });
}

/**
 * Whether a failed request to JetStream may succeed if tried again: the connection is down or
 * being re-established, the request timed out, or the stream has no leader at the moment (a
 * cluster electing one answers 503, or nobody answers).
 */
export function isTransient(err: unknown): boolean {
  const e = err as { name?: string; status?: number; code?: unknown; cause?: { name?: string } };
  const name = e?.name ?? '';
  if (name === 'TimeoutError' || name === 'ConnectionError' || name === 'ClosedConnectionError' || name === 'DrainingConnectionError') return true;
  if (name === 'NoRespondersError' || name === 'RequestError' || e?.cause?.name === 'RequestError' || e?.cause?.name === 'NoRespondersError') return true;
  if (name === 'JetStreamNotEnabled') return true;
  if (name === 'JetStreamApiError' && e.status === 503) return true;
  return false;
}

/** Waits `ms`, or rejects with ABORTED as soon as `signal` aborts. */
export async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  await delay(ms, undefined, { signal }).catch(() => {});
  throwIfAborted(signal);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw aborted();
}

function aborted(): JournalError {
  return new JournalError(ErrorCode.ABORTED, 'aborted');
}

/** The server URLs of an option that takes one URL or a list. */
export function serverList(server: unknown): string[] {
  const list = typeof server === 'string' ? [server] : Array.isArray(server) ? server : null;
  if (list === null || list.length === 0 || !list.every((s) => typeof s === 'string' && s !== '')) {
    throw new TypeError('server must be a NATS server URL (nats://host:4222) or a non-empty list of them');
  }
  return list as string[];
}
