/**
 * JournalError, with a stable `code` per cause (docs/errors.md); codes never change within a major
 * version. Misuse of the API throws a plain TypeError or RangeError instead.
 */

export const ErrorCode = {
  /** The file exists but does not start with a journal header. */
  NOT_A_JOURNAL: 'NOT_A_JOURNAL',
  /** The header names a format version this library cannot read. */
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  /** The journal (or a path it needs) does not exist and the operation does not create it. */
  NOT_FOUND: 'NOT_FOUND',
  /** Damage before data that was durable: never cut, never skipped silently. */
  CORRUPT: 'CORRUPT',
  /** A value JSON cannot represent (undefined, function, symbol, BigInt, cycle, NaN, Infinity). */
  INVALID_VALUE: 'INVALID_VALUE',
  /** A record (or an appendMany group) is larger than the configured limit. */
  RECORD_TOO_LARGE: 'RECORD_TOO_LARGE',
  /** The journal was closed. */
  CLOSED: 'CLOSED',
  /** write(2) failed (ENOSPC, EIO, ...): the batch was not written; the journal is now failed. */
  WRITE_FAILED: 'WRITE_FAILED',
  /** fdatasync failed: the batch may be lost; the journal is now failed (never retry an fsync). */
  SYNC_FAILED: 'SYNC_FAILED',
  /** An earlier write or sync failed; reopen the journal to continue. `cause` is the first failure. */
  FAILED: 'FAILED',
  /** The writers' lock was not granted within `lockTimeoutMs`. */
  LOCK_TIMEOUT: 'LOCK_TIMEOUT',
  /** The operation was aborted through its AbortSignal. */
  ABORTED: 'ABORTED',
  /** appendRecords: a record's seq is not above the journal's last seq. Nothing was written. */
  SEQ_CONFLICT: 'SEQ_CONFLICT',
  /** Another compaction of this journal is running. */
  COMPACTING: 'COMPACTING',
  /** A follower's resume point was removed by compaction (retention). */
  POSITION_GONE: 'POSITION_GONE',
  /** A consumer's committed record is no longer the one in the journal. */
  DIVERGED: 'DIVERGED',
  /** The consumer is open in a running process: it cannot be opened again, reset or deleted (unless forced). */
  CONSUMER_BUSY: 'CONSUMER_BUSY',
  /** The consumer was reset or deleted by force while this process had it open; its commits no longer count. */
  CONSUMER_RESET: 'CONSUMER_RESET',
  /** jsonl-journal/nats was used, but the optional NATS client packages are not installed. */
  NATS_CLIENT_MISSING: 'NATS_CLIENT_MISSING',
  /** No NATS server answered at the given addresses (at once with failFast, else after retries). */
  NATS_UNREACHABLE: 'NATS_UNREACHABLE',
  /** Any other failure reported by the NATS server or client (authorization, JetStream disabled ...); see `cause`. */
  NATS_ERROR: 'NATS_ERROR',
  /** The JetStream stream to ship to or restore from does not exist. */
  STREAM_NOT_FOUND: 'STREAM_NOT_FOUND',
  /** The stream cannot hold a journal as it is configured, or holds messages that are not this journal's. */
  STREAM_MISCONFIGURED: 'STREAM_MISCONFIGURED',
  /** JetStream refused a record for good (too large for the stream, a limit with discard 'new' ...). */
  PUBLISH_REJECTED: 'PUBLISH_REJECTED',
  /** restore: a message in the stream is not a shipped journal record (headers missing, seqs not rising ...). */
  BAD_MESSAGE: 'BAD_MESSAGE',
  /** Any other I/O failure (open, read, stat, rename ...); `cause` holds the system error. */
  IO_ERROR: 'IO_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface JournalErrorDetails {
  /** The journal file (or directory) the error is about. */
  path?: string;
  /** Byte offset in the file, when the error is about a place in it. */
  offset?: number;
  /** 1-based line number, when known (the header is line 1). */
  line?: number;
  /** The position in an appendMany or appendRecords group of the value at fault. */
  index?: number;
  cause?: unknown;
}

export class JournalError extends Error {
  override readonly name = 'JournalError';
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly offset: number | undefined;
  readonly line: number | undefined;
  readonly index: number | undefined;

  constructor(code: ErrorCode, message: string, details: JournalErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.path = details.path;
    this.offset = details.offset;
    this.line = details.line;
    this.index = details.index;
  }
}

export function isJournalError(err: unknown, code?: ErrorCode): err is JournalError {
  return err instanceof JournalError && (code === undefined || err.code === code);
}

/** Wraps a system error from an fs call into a JournalError, keeping the errno error as `cause`. */
export function ioError(what: string, path: string, cause: unknown, code: ErrorCode = ErrorCode.IO_ERROR): JournalError {
  const sys = cause as NodeJS.ErrnoException | undefined;
  if (code === ErrorCode.IO_ERROR && sys?.code === 'ENOENT') code = ErrorCode.NOT_FOUND;
  const suffix = sys?.code ? `: ${sys.code}` : '';
  return new JournalError(code, `${what} ${path}${suffix}`, { path, cause });
}

/**
 * For the outermost catch of an operation: JournalErrors pass through, errors of the file system
 * (they carry an errno code) become IO_ERROR with the path, and anything else is a bug and is
 * returned as it is, to surface with its stack.
 */
export function typed(err: unknown, what: string, path: string): unknown {
  if (err instanceof JournalError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? ioError(what, path, err) : err;
}
