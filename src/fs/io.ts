/**
 * The one seam every file-system call goes through: crash and fault tests replace its methods.
 * Calls that finish in microseconds (fstat, flock with LOCK_NB) are synchronous on purpose.
 */
import fs from 'node:fs';
import path from 'node:path';
import { flockAddon, type LockWait } from './flock.js';

export interface FileId {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

function cb<T>(resolve: (v: T) => void, reject: (e: unknown) => void) {
  return (err: NodeJS.ErrnoException | null, v: T) => (err ? reject(err) : resolve(v));
}

const fileId = (st: fs.Stats): FileId => ({ dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });

export const io = {
  open(file: string, flags: number | string, mode = 0o644): Promise<number> {
    return new Promise((res, rej) => fs.open(file, flags, mode, cb(res, rej)));
  },
  close(fd: number): Promise<void> {
    return new Promise((res, rej) => fs.close(fd, (e) => (e ? rej(e) : res())));
  },
  read(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
    return new Promise((res, rej) => fs.read(fd, buf, off, len, pos, cb(res, rej)));
  },
  /** For the few KB a writer reads while holding the lock, where a threadpool round trip would hold it longer. */
  readSync(fd: number, buf: Buffer, off: number, len: number, pos: number): number {
    return fs.readSync(fd, buf, off, len, pos);
  },
  /** One pwrite(2); may write fewer bytes than asked (the caller loops). */
  write(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
    return new Promise((res, rej) => fs.write(fd, buf, off, len, pos, cb(res, rej)));
  },
  writeSync(fd: number, buf: Buffer, off: number, len: number, pos: number): number {
    return fs.writeSync(fd, buf, off, len, pos);
  },
  fdatasync(fd: number): Promise<void> {
    return new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
  },
  fsync(fd: number): Promise<void> {
    return new Promise((res, rej) => fs.fsync(fd, (e) => (e ? rej(e) : res())));
  },
  ftruncate(fd: number, len: number): Promise<void> {
    return new Promise((res, rej) => fs.ftruncate(fd, len, (e) => (e ? rej(e) : res())));
  },
  fstatSync(fd: number): FileId {
    return fileId(fs.fstatSync(fd));
  },
  /** stat of a path; null when it does not exist. */
  statSync(file: string): FileId | null {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    return st === undefined ? null : fileId(st);
  },
  rename(from: string, to: string): Promise<void> {
    return new Promise((res, rej) => fs.rename(from, to, (e) => (e ? rej(e) : res())));
  },
  /** link(2): creates `to` only if it does not exist (EEXIST otherwise), which rename cannot promise. */
  link(from: string, to: string): Promise<void> {
    return new Promise((res, rej) => fs.link(from, to, (e) => (e ? rej(e) : res())));
  },
  unlink(file: string): Promise<void> {
    return new Promise((res, rej) => fs.unlink(file, (e) => (e ? rej(e) : res())));
  },
  readdir(dir: string): Promise<string[]> {
    return new Promise((res, rej) => fs.readdir(dir, cb(res, rej)));
  },
  /** fsync of a directory, which makes a rename or link in it durable. */
  async fsyncDir(dir: string): Promise<void> {
    const fd = await io.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      await io.fsync(fd);
    } finally {
      await io.close(fd);
    }
  },
  /** flock(LOCK_EX | LOCK_NB): true if granted, false if another open file description holds it. */
  tryLockSync(fd: number): boolean {
    return flockAddon().tryLock(fd, false);
  },
  /** flock(LOCK_SH | LOCK_NB): true if granted, false if another open file description holds it exclusively. */
  tryLockSharedSync(fd: number): boolean {
    return flockAddon().tryLock(fd, true);
  },
  /**
   * flock(LOCK_EX), blocking a thread of the addon's until granted; null at once if one is already
   * waiting in this process, from any thread (see lock.ts for why only one).
   */
  lockWait(fd: number): LockWait | null {
    return flockAddon().lockWait(fd);
  },
  unlockSync(fd: number): void {
    flockAddon().unlock(fd);
  },
};

export type Io = typeof io;

/** The directory a journal file lives in (for the fsync that makes renames in it durable). */
export const dirOf = (file: string): string => path.dirname(path.resolve(file));
