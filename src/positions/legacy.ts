/**
 * Positions as earlier versions kept them: `<journal>.consumers/<name>.pos`, one framed JSON line
 * per consumer, replaced by write-replace on every commit. They are read until the consumer is
 * opened again, which moves its position into the positions log and removes the file.
 */
import fs from 'node:fs';
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { decodeFrame } from '../format/frame.js';
import { syncDirOf } from '../fs/durable.js';
import { io } from '../fs/io.js';
import { removeStaleTemps } from '../fs/temps.js';
import type { StoredPosition } from './entry.js';
import { consumersDir, legacyPositionFile } from './layout.js';

/** The names of the consumers that have a position file. */
export async function legacyNames(journal: string): Promise<string[]> {
  let names: string[];
  try {
    names = await io.readdir(consumersDir(journal));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError('cannot list consumers of', journal, err);
  }
  return names.filter((n) => n.endsWith('.pos') && !n.startsWith('.')).map((n) => n.slice(0, -4));
}

/** The position in consumer `name`'s file, or null if it has none. A damaged one is CORRUPT: write-replace never tears it. */
export async function readLegacyPosition(journal: string, name: string): Promise<StoredPosition | null> {
  const p = legacyPositionFile(journal, name);
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError('cannot read the consumer position', p, err);
  }
  const lf = bytes.indexOf(0x0a);
  const decoded = decodeFrame(bytes.subarray(0, lf < 0 ? bytes.length : lf));
  const o = typeof decoded === 'string' ? null : (decoded.value as Record<string, unknown> | null);
  if (o === null || typeof o !== 'object' || typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 0) {
    throw new JournalError(ErrorCode.CORRUPT, `${p}: consumer position is damaged (${typeof decoded === 'string' ? decoded : 'not a position'})`, { path: p });
  }
  const updated = typeof o.updated === 'number' ? o.updated : 0;
  return {
    name, seq: o.seq, epoch: 0, journal: typeof o.journal === 'string' ? o.journal : null,
    fingerprint: typeof o.fingerprint === 'string' ? o.fingerprint : null,
    updated, lastActive: updated, expireAfterMs: null, group: false,
  };
}

/**
 * Removes consumer `name`'s position file, and the temps a crash left from its commits, once the
 * positions log holds its position. The directory fsync keeps the file from coming back.
 */
export async function removeLegacyPosition(journal: string, name: string): Promise<void> {
  const p = legacyPositionFile(journal, name);
  await removeStaleTemps(p);
  try {
    await io.unlink(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError('cannot remove the old position file', p, err);
  }
  await syncDirOf(p);
}
