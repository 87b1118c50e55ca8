/** What every `journal` subcommand provides, and how failures become messages and exit codes. */
import { readFileSync } from 'node:fs';
import { inspect, type ParseArgsConfig } from 'node:util';
import { ErrorCode, isJournalError, JournalError } from 'jsonl-journal/read';
import { Exit, red, UsageError } from './term.js';

export interface Command {
  name: string;
  /** The whole help text of the command. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

/** The version in the package's package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Prints an error and picks its exit code. What the journal or the system refused (a JournalError,
 * or an errno error from a call the library does not wrap) is one line, `journal: ...`: the message
 * says what to do, and a stack would only hide it. Anything else is a bug in jsonl-journal, and
 * then the stack is exactly what whoever fixes it needs.
 */
export function report(err: unknown): number {
  const prefix = red(process.stderr, 'journal:');
  if (!isBug(err)) {
    process.stderr.write(`${prefix} ${(err as Error).message}\n`);
    // A damaged header (line 1) is not damage before the end but a journal nothing can be done
    // with: without it no line after it can be checked, read or rewritten.
    return isJournalError(err, ErrorCode.CORRUPT) && err.line !== 1 ? Exit.DAMAGED : Exit.FAILED;
  }
  process.stderr.write(
    `${prefix} internal error: a bug in jsonl-journal ${version()}, not a problem with your journal or your command\n` +
    `${inspect(err)}\n` +
    `${prefix} please report it on the jsonl-journal issue tracker, with the command you ran and everything printed above\n`,
  );
  return Exit.BUG;
}

/**
 * Neither a JournalError nor an error of a system call (which carries an errno code such as EIO,
 * the same rule the library uses to tell I/O failures from bugs).
 */
export function isBug(err: unknown): boolean {
  if (err instanceof JournalError) return false;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return !(err instanceof Error && typeof code === 'string' && /^E[A-Z0-9]+$/.test(code));
}

/** An integer option of at least `min` (1 unless given), or a usage error naming it. */
export function intOption(values: Record<string, unknown>, name: string, min: 0 | 1 = 1): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} takes ${min === 0 ? '0 or ' : ''}a positive integer, not ${JSON.stringify(v)}`);
  }
  return n;
}

/**
 * An AbortSignal raised by Ctrl-C (SIGINT), SIGTERM or `abort()`, so that a long-running command
 * stops cleanly and reports what it did; `release()` removes the signal handlers.
 */
export function interruption(): { signal: AbortSignal; abort: () => void; release: () => void } {
  const ac = new AbortController();
  const abort = () => ac.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  return {
    signal: ac.signal,
    abort,
    release: () => {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
    },
  };
}

/** --server (repeatable) and --stream, which the commands that talk to NATS require. */
export function natsTarget(values: Record<string, unknown>): { servers: string[]; stream: string } {
  const servers = values.server as string[] | undefined;
  if (servers === undefined || servers.length === 0) throw new UsageError('missing --server URL');
  if (typeof values.stream !== 'string') throw new UsageError('missing --stream NAME');
  return { servers, stream: values.stream };
}

/** The one positional argument (the journal file), or a usage error. */
export function onePath(positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing <file>' : `unexpected argument ${JSON.stringify(positionals[1])}`);
  return positionals[0]!;
}

export { UsageError };
