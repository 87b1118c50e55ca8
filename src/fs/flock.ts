/**
 * The flock addon (src/native/flock.c): flock(2) through Node-API, loaded by each thread that takes
 * a lock. It replaced fs-ext, whose addon keeps process-wide state and crashed a process when a
 * second thread loaded it (docs/design.md, "The writers' lock").
 */
import { createRequire } from 'node:module';

export interface FlockAddon {
  /** flock(LOCK_EX or LOCK_SH, with LOCK_NB): true if granted, false if another description holds it. */
  tryLock(fd: number, shared: boolean): boolean;
  unlock(fd: number): void;
  /**
   * A blocking flock(LOCK_EX) on a thread of the addon's own, resolving once granted; null at once
   * if this process (any of its threads) already has one waiting.
   */
  lockWait(fd: number): LockWait | null;
}

/** A wait in flight. It keeps the event loop alive, as pending I/O does, unless ref(false) says nobody wants it. */
export interface LockWait extends Promise<void> {
  ref?(on: boolean): void;
}

/* The same relative path from src/fs/ and from dist/fs/: both sit two levels under the package root. */
const ADDON = '../../src/native/build/Release/flock.node';

let addon: FlockAddon | null = null;

/** The addon, loaded at the first lock: the readers that never lock do not need it built. */
export function flockAddon(): FlockAddon {
  if (addon !== null) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON) as FlockAddon;
  } catch (err) {
    throw new Error(
      `jsonl-journal's flock addon is not built for this Node (${process.version}): run \`npm rebuild jsonl-journal\` ` +
      `(in a clone: \`npm run install\`), which compiles src/native/flock.c with node-gyp`,
      { cause: err },
    );
  }
  return addon;
}
