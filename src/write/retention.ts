/**
 * Retention that runs itself: a writer checks after its batches whether the journal holds half as
 * much again as its policy allows, and if so compacts it in the background, one compaction at a
 * time across processes.
 */
import type { RetentionPolicy } from './options.js';

/** Compaction starts once the journal holds this much more than the policy allows (Redis's auto-aof-rewrite-percentage: 50%). */
export const RETENTION_SLACK = 1.5;
/** After a compaction fails, or finds another process compacting, the next try waits this long. */
const PAUSE_MS = 1000;
/** The longest wait before retrying by age after a compaction that could not remove the oldest record. */
const AGE_RETRY_MAX_MS = 60_000;

/**
 * Runs one compaction for a policy. Compaction sits on a floor above the writer, so it is given to
 * the writer when it loads (setRetentionRunner) rather than imported here.
 */
export type RetentionRunner = (
  path: string, policy: { beforeTs?: number; maxBytes?: number; key?: RetentionPolicy['key'] }, signal: AbortSignal,
) => Promise<{ bytesAfter: number }>;

let runner: RetentionRunner | null = null;

/** Called by the compaction module as it loads. */
export function setRetentionRunner(run: RetentionRunner): void {
  runner = run;
}

export function retentionAvailable(): boolean {
  return runner !== null;
}

export class AutoRetention {
  readonly #path: string;
  readonly #policy: RetentionPolicy;
  readonly #abort = new AbortController();
  #running: Promise<void> | null = null;
  #notBefore = 0;
  /**
   * What the last compaction left. Consumers that have not read the old records, or keys that
   * must stay, can keep the journal past its bound; then compacting again at once would only copy
   * it again, so the size trigger waits for the journal to grow by the slack from there.
   */
  #sizeBase = 0;
  /** The oldest record's ts that the last compaction could not remove, and when to try it again. */
  #stuckTs: number | null = null;
  #ageRetryAt = 0;

  constructor(path: string, policy: RetentionPolicy) {
    this.#path = path;
    this.#policy = policy;
  }

  /**
   * After a batch: starts a compaction if the file of `bytes` whose oldest record has `firstTs`
   * (null: none) is past the policy's bound by RETENTION_SLACK, and none runs or ran just now.
   */
  check(bytes: number, firstTs: number | null): void {
    if (this.#running !== null || this.#abort.signal.aborted) return;
    const now = Date.now();
    if (now < this.#notBefore) return;
    const p = this.#policy;
    const tooBig = p.maxBytes !== undefined && bytes > Math.max(p.maxBytes, this.#sizeBase) * RETENTION_SLACK;
    const tooOld = p.maxAgeMs !== undefined && firstTs !== null && now - firstTs > p.maxAgeMs * RETENTION_SLACK
      && (firstTs !== this.#stuckTs || now >= this.#ageRetryAt);
    if (!tooBig && !tooOld || runner === null) return;
    const policy = {
      ...(p.maxAgeMs !== undefined ? { beforeTs: now - p.maxAgeMs } : {}),
      ...(p.maxBytes !== undefined ? { maxBytes: p.maxBytes } : {}),
      ...(p.key !== undefined ? { key: p.key } : {}),
    };
    this.#running = runner(this.#path, policy, this.#abort.signal).then(
      (r) => {
        this.#sizeBase = r.bytesAfter;
        // Whether it removed the oldest record shows at the next check: the first ts differs.
        if (p.maxAgeMs !== undefined) {
          this.#stuckTs = firstTs;
          this.#ageRetryAt = Date.now() + Math.min(Math.max(PAUSE_MS, p.maxAgeMs * (RETENTION_SLACK - 1)), AGE_RETRY_MAX_MS);
        }
        p.onCompacted?.(r);
      },
      (err: { code?: string }) => {
        this.#notBefore = Date.now() + PAUSE_MS;
        // Another writer's compaction of this journal is doing the work.
        if (err?.code !== 'COMPACTING' && err?.code !== 'ABORTED') p.onError?.(err);
      },
    ).finally(() => {
      this.#running = null;
    });
  }

  /** Stops a compaction under way (the journal is left as it was) and waits for it. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }
}
