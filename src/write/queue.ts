/**
 * The appends waiting for a batch: queued in call order, taken a batch at a time (group commit),
 * and held back while too many bytes wait (backpressure).
 */
import type { PendingRecord } from '../format/batch.js';

export interface AppendReceipt {
  seq: number;
  /** Byte offset of the record's line in the file it was written to. */
  offset: number;
}

/** One append(), appendMany() or appendRecords() call waiting for its batch. */
export interface PendingAppend {
  /** append(): its one record (no array for the commonest call); otherwise null. */
  record: PendingRecord | null;
  /** appendMany() and appendRecords(): the group, all in one batch. */
  group: PendingRecord[] | null;
  /** appendRecords(): the records carry their own seqs, so the group is a batch of its own. */
  ownSeqs: boolean;
  /** Not an append: a seal to be written after everything before it, alone. */
  seal: boolean;
  bytes: number;
  resolve: (r: AppendReceipt | AppendReceipt[]) => void;
  reject: (e: unknown) => void;
}

export class AppendQueue {
  readonly #maxBatchBytes: number;
  readonly #maxPendingBytes: number;
  /** Writes and acknowledges one batch; called for one batch at a time. */
  readonly #commit: (batch: PendingAppend[]) => Promise<void>;
  #queue: PendingAppend[] = [];
  #queueBytes = 0;
  /** Appends held back by maxPendingBytes, admitted in order as the queue drains. */
  #blocked: PendingAppend[] = [];
  #running = false;
  /** Settles when the most recently submitted append has been handled (for flush and close). */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(maxBatchBytes: number, maxPendingBytes: number, commit: (batch: PendingAppend[]) => Promise<void>) {
    this.#maxBatchBytes = maxBatchBytes;
    this.#maxPendingBytes = maxPendingBytes;
    this.#commit = commit;
  }

  /** True while batches are being taken and committed. */
  get running(): boolean {
    return this.#running;
  }

  /** Settles once every append submitted so far is settled. */
  get settled(): Promise<unknown> {
    return this.#tail;
  }

  submit(record: PendingRecord | null, group: PendingRecord[] | null, bytes: number, ownSeqs: boolean): Promise<AppendReceipt | AppendReceipt[]> {
    const p = new Promise<AppendReceipt | AppendReceipt[]>((resolve, reject) => {
      const e: PendingAppend = { record, group, ownSeqs, seal: false, bytes, resolve, reject };
      if (this.#blocked.length > 0 || (this.#queueBytes > 0 && this.#queueBytes + bytes > this.#maxPendingBytes)) {
        this.#blocked.push(e);
      } else {
        this.#enqueue(e);
      }
    });
    this.#tail = p;
    return p;
  }

  /** Queues a seal after everything submitted so far; resolves once it is written (or not needed). */
  submitSeal(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      this.#enqueue({ record: null, group: null, ownSeqs: false, seal: true, bytes: 0, resolve: () => resolve(), reject });
    });
    this.#tail = p;
    return p;
  }

  /** Takes every append not yet in a batch (after a failure, to reject them). */
  takeAll(): PendingAppend[] {
    const rest = this.#queue.concat(this.#blocked);
    this.#queue = [];
    this.#blocked = [];
    this.#queueBytes = 0;
    return rest;
  }

  #enqueue(e: PendingAppend): void {
    this.#queue.push(e);
    this.#queueBytes += e.bytes;
    if (!this.#running) {
      this.#running = true;
      // A microtask, so that appends made in the same synchronous run join this batch.
      queueMicrotask(() => void this.#run());
    }
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#commit(this.#takeBatch());
    } finally {
      this.#running = false;
    }
  }

  #takeBatch(): PendingAppend[] {
    const q = this.#queue;
    let n = 0;
    let bytes = 0;
    // A group that keeps its own seqs goes alone (the seqs of a batch are assigned in one place), and so does a seal.
    const alone = (e: PendingAppend) => e.ownSeqs || e.seal;
    if (alone(q[0]!)) bytes += q[n++]!.bytes;
    else while (n < q.length && !alone(q[n]!) && (n === 0 || bytes + q[n]!.bytes <= this.#maxBatchBytes)) bytes += q[n++]!.bytes;
    const batch = n === q.length ? q : q.slice(0, n);
    this.#queue = n === q.length ? [] : q.slice(n);
    this.#queueBytes -= bytes;
    while (this.#blocked.length > 0 && this.#queueBytes + this.#blocked[0]!.bytes <= this.#maxPendingBytes) {
      this.#enqueue(this.#blocked.shift()!);
    }
    return batch;
  }
}

export function rejectAll(appends: PendingAppend[], err: unknown): void {
  for (const e of appends) e.reject(err);
}
