/**
 * Noticing that the reader of our stdout pipe has gone while we have nothing to write, through
 * /proc (docs/design.md, "The command's pipes").
 */
import fs from 'node:fs';

interface Holder {
  pid: string;
  fd: string;
}

export class PipeReaderWatch {
  /** What /proc/<pid>/fd/<n> links to for our pipe: `pipe:[ino]`, or a FIFO's path. */
  readonly #target: string;
  #readers: Holder[];

  private constructor(target: string, readers: Holder[]) {
    this.#target = target;
    this.#readers = readers;
  }

  /** A watch over stdout's pipe, or null when stdout is not a pipe or no reader can be seen. */
  static forStdout(): PipeReaderWatch | null {
    try {
      if (!fs.fstatSync(1).isFIFO()) return null;
      const target = fs.readlinkSync(`/proc/${process.pid}/fd/1`);
      const readers = findReaders(target);
      return readers.length === 0 ? null : new PipeReaderWatch(target, readers);
    } catch {
      return null;
    }
  }

  /** True once no process holds the read end any more. */
  gone(): boolean {
    if (this.#readers.some((h) => isReader(h, this.#target))) return false;
    // The readers we knew have closed it; one may have handed the pipe to a child first.
    this.#readers = findReaders(this.#target);
    return this.#readers.length === 0;
  }
}

function findReaders(target: string): Holder[] {
  const found: Holder[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || pid === String(process.pid)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited, or not ours to look at
    }
    for (const fd of fds) if (isReader({ pid, fd }, target)) found.push({ pid, fd });
  }
  return found;
}

function isReader({ pid, fd }: Holder, target: string): boolean {
  try {
    if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== target) return false;
    const flags = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'));
    // O_ACCMODE: 0 is O_RDONLY and 2 is O_RDWR; both can read.
    return flags !== null && (parseInt(flags[1]!, 8) & 3) !== 1;
  } catch {
    return false;
  }
}
