/**
 * How a failure reaches the page: a code and a message it shows, never a stack trace. What the
 * journal or the system refused is said as it is; a bug in jsonl-journal prints its stack on the
 * server's stderr, where whoever started the console can report it, and the page says so.
 */
import { ErrorCode, isJournalError } from 'jsonl-journal/read';

/** A request the API cannot take (a missing or malformed parameter). */
export class BadRequest extends Error {}

export interface Failure {
  status: 400 | 404 | 500;
  error: { code: string; message: string };
}

export function failureOf(err: unknown): Failure {
  if (err instanceof BadRequest) return { status: 400, error: { code: 'BAD_REQUEST', message: err.message } };
  if (isJournalError(err)) return { status: err.code === ErrorCode.NOT_FOUND ? 404 : 500, error: { code: err.code, message: err.message } };
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof Error && typeof errno === 'string' && /^E[A-Z0-9]+$/.test(errno)) return { status: 500, error: { code: errno, message: err.message } };
  process.stderr.write(`journal ui: internal error, a bug in jsonl-journal; please report it with what the page was doing:\n${err instanceof Error ? err.stack : String(err)}\n`);
  return { status: 500, error: { code: 'INTERNAL', message: 'internal error in jsonl-journal: the details are printed where journal ui runs' } };
}
