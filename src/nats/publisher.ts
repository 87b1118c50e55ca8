/**
 * Publishes to JetStream with many acknowledgements awaited at once, on one reply subscription,
 * for a fraction of what the client's js.publish costs per message (docs/design.md).
 */
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Nats } from './client.js';

/** Why a publish is not known to be in the stream. */
export type PublishFailure =
  /** JetStream answered with an API error (the stream refused the message). */
  | 'refused'
  /** No acknowledgement within the timeout: the message may or may not be in the stream. */
  | 'timeout'
  /** No stream (nor anything else) listens on the subject, or the stream has no leader. */
  | 'no-responders'
  /** The client would not send it: bigger than the server's max_payload. */
  | 'too-big'
  /** The connection closed, or the publisher did, before the acknowledgement came. */
  | 'closed'
  /** The reply was not a JetStream acknowledgement. */
  | 'bad-ack';

export class PublishError extends Error {
  readonly reason: PublishFailure;
  /** For 'refused': the API error's HTTP-like status (400, 503, ...) and JetStream error code (10071, ...). */
  readonly status: number;
  readonly code: number;

  constructor(reason: PublishFailure, message: string, status = 0, code = 0, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PublishError';
    this.reason = reason;
    this.status = status;
    this.code = code;
  }
}

/**
 * Told once about each publish: with the stream sequence it was stored under (or found under, for
 * a duplicate), or with why it failed. Never called from inside publish().
 */
export type Settled<T> = (ctx: T, err: PublishError | null, streamSeq: number) => void;

interface Pending<T> {
  ctx: T;
  deadline: number;
}

export class Publisher<T> {
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;
  readonly #settled: Settled<T>;
  /** `<inbox>.`: a publish's reply subject is this and its number. */
  readonly #prefix: string;
  readonly #sub: Subscription;
  /** Publishes awaiting their reply, by number; a Map iterates in insertion order, so oldest first. */
  readonly #pending = new Map<number, Pending<T>>();
  #count = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(nats: Nats, nc: NatsConnection, timeoutMs: number, settled: Settled<T>) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
    this.#settled = settled;
    this.#prefix = `${nats.transport.createInbox()}.`;
    this.#sub = nc.subscribe(`${this.#prefix}*`, { callback: (err, msg) => this.#reply(err, msg) });
    // The client ends its subscriptions when the connection closes for good: nothing will answer then.
    void this.#sub.closed.then(() => this.close(), () => this.close());
  }

  /** Publishes awaiting their acknowledgement. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Publishes `payload` on `subject`; `settled` is told about it later. */
  publish(subject: string, payload: string | Uint8Array, headers: MsgHdrs, ctx: T): void {
    if (this.#closed) {
      this.#later(ctx, new PublishError('closed', 'the publisher is closed'));
      return;
    }
    const n = ++this.#count;
    try {
      this.#nc.publish(subject, payload, { reply: this.#prefix + n, headers });
    } catch (err) {
      // The client checks before it sends: a closed or draining connection, or a message over the
      // server's max_payload. Nothing went out.
      const reason = (err as Error)?.name === 'InvalidArgumentError' ? 'too-big' : 'closed';
      this.#later(ctx, new PublishError(reason, (err as Error)?.message ?? String(err), 0, 0, { cause: err }));
      return;
    }
    this.#pending.set(n, { ctx, deadline: performance.now() + this.#timeoutMs });
    if (this.#timer === null) this.#arm();
  }

  /** Stops listening; whatever still awaits its acknowledgement settles as 'closed'. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (!this.#sub.isClosed()) this.#sub.unsubscribe();
    const err = new PublishError('closed', 'the connection closed before JetStream acknowledged the publish');
    for (const [n, p] of this.#pending) {
      this.#pending.delete(n);
      this.#settled(p.ctx, err, 0);
    }
  }

  #later(ctx: T, err: PublishError): void {
    queueMicrotask(() => this.#settled(ctx, err, 0));
  }

  #reply(err: Error | null, msg: Msg): void {
    if (err !== null) {
      // A subscription's callback gets an error only when the server refused the subscription
      // (permissions): no acknowledgement will ever come.
      this.#failAll(new PublishError('closed', `cannot receive JetStream's acknowledgements: ${err.message}`, 0, 0, { cause: err }));
      return;
    }
    const n = Number(msg.subject.slice(this.#prefix.length));
    const p = this.#pending.get(n);
    // Not (or no longer) awaited: it timed out, or the publisher was closed.
    if (p === undefined) return;
    this.#pending.delete(n);
    const data = msg.data;
    if (data.length === 0) {
      // A status message instead of an answer: 503 when nothing listens on the subject.
      const code = msg.headers?.code ?? 0;
      this.#settled(p.ctx, code === 503
        ? new PublishError('no-responders', 'nothing answers on the subject (503): no stream takes it, or its stream has no leader', 503)
        : new PublishError('bad-ack', `an empty reply with status ${code} instead of an acknowledgement`, code), 0);
      return;
    }
    let ack: { stream?: unknown; seq?: unknown; error?: { code?: unknown; err_code?: unknown; description?: unknown } };
    try {
      ack = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
    } catch {
      this.#settled(p.ctx, new PublishError('bad-ack', 'the reply is not JSON'), 0);
      return;
    }
    if (typeof ack.seq === 'number' && typeof ack.stream === 'string' && ack.stream !== '' && ack.error === undefined) {
      this.#settled(p.ctx, null, ack.seq);
      return;
    }
    const e = ack.error;
    if (e !== null && typeof e === 'object') {
      const status = typeof e.code === 'number' ? e.code : 0;
      const code = typeof e.err_code === 'number' ? e.err_code : 0;
      this.#settled(p.ctx, new PublishError('refused', typeof e.description === 'string' ? e.description : `error ${code}`, status, code), 0);
      return;
    }
    this.#settled(p.ctx, new PublishError('bad-ack', 'the reply is not a JetStream acknowledgement'), 0);
  }

  /** Arms the one timer for the oldest publish's deadline. */
  #arm(): void {
    const oldest = this.#pending.values().next();
    if (oldest.done === true) return;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, oldest.value.deadline - performance.now()) + 1);
  }

  #expire(): void {
    this.#timer = null;
    const now = performance.now();
    let err: PublishError | null = null;
    for (const [n, p] of this.#pending) {
      if (p.deadline > now) break;
      this.#pending.delete(n);
      err ??= new PublishError('timeout', `no acknowledgement from JetStream within ${this.#timeoutMs} ms`);
      this.#settled(p.ctx, err, 0);
    }
    if (!this.#closed) this.#arm();
  }

  #failAll(err: PublishError): void {
    for (const [n, p] of this.#pending) {
      this.#pending.delete(n);
      this.#settled(p.ctx, err, 0);
    }
  }
}
