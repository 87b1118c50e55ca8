/** What every `journal` subcommand provides, and how failures become messages and exit codes. */
import type { ParseArgsConfig } from 'node:util';
import { ErrorCode, isJournalError } from '../errors.js';
import { Exit, red, UsageError } from './term.js';

export interface Command {
  name: string;
  /** One line for `journal --help`. */
  summary: string;
  /** The whole help text of the command. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

/** Prints an error the way the command does (one line, `journal: ...`) and picks its exit code. */
export function report(err: unknown): number {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${red(process.stderr, 'journal:')} ${msg}\n`);
  if (isJournalError(err, ErrorCode.CORRUPT)) return Exit.DAMAGED;
  return Exit.FAILED;
}

/** A non-negative integer option, or a usage error naming it. */
export function intOption(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${name} takes a positive integer, not ${JSON.stringify(v)}`);
  }
  return n;
}

/** The one positional argument (the journal file), or a usage error. */
export function onePath(positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing <file>' : `unexpected argument ${JSON.stringify(positionals[1])}`);
  return positionals[0]!;
}

export { UsageError };
