/**
 * Where a journal's consumers keep their state: the directory `<journal>.consumers/` and the files
 * in it, by name. Nothing else builds these paths.
 */
import path from 'node:path';
import { dirOf } from '../fs/io.js';

/** What a consumer name may be: it becomes part of file names. */
export const CONSUMER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Throws the TypeError for a name that is not a consumer name. */
export function checkConsumerName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !CONSUMER_NAME.test(name)) {
    throw new TypeError('a consumer name is 1 to 100 of A-Z a-z 0-9 . _ - and starts with a letter or digit');
  }
}

/** The directory holding a journal's consumer state. */
export function consumersDir(journal: string): string {
  return path.join(dirOf(journal), `${path.basename(journal)}.consumers`);
}

/** The positions log: a journal of its own, one line per commit, reset or delete of any consumer. */
export const positionsLog = (journal: string): string => path.join(consumersDir(journal), 'positions.jsonl');

/** A position as earlier versions kept it: one file per consumer, replaced on every commit. */
export const legacyPositionFile = (journal: string, name: string): string => path.join(consumersDir(journal), `${name}.pos`);

/** The folder of liveness locks, and the one a consumer (or every member of a group) holds while open. */
export const locksDir = (journal: string): string => path.join(consumersDir(journal), 'locks');
export const lockFile = (journal: string, name: string): string => path.join(locksDir(journal), `${name}.lock`);

/** The folder of group work logs, and the log in which a group's members claim and finish records. */
export const groupsDir = (journal: string): string => path.join(consumersDir(journal), 'groups');
export const groupLog = (journal: string, name: string): string => path.join(groupsDir(journal), `${name}.jsonl`);
