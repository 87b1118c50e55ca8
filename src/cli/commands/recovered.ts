/** What a command says when it cut a torn tail: how much, where, and where the bytes went. */
import type { RecoveredTail } from 'jsonl-journal';
import { count, yellow } from '../term.js';

/** One line on stderr about what open cut, if it cut anything. */
export function sayRecovered(file: string, cut: RecoveredTail | null): void {
  if (cut === null) return;
  const what = cut.foreign > 0
    ? `${count(cut.foreign)} line${cut.foreign === 1 ? '' : 's'} of plain JSON without checksums (another tool appended ${cut.foreign === 1 ? 'it' : 'them'})`
    : `a torn tail of ${count(cut.bytes)} bytes`;
  process.stderr.write(`${yellow(process.stderr, 'journal:')} ${file}: cut ${what} at offset ${count(cut.offset)}; the bytes are saved in ${cut.savedTo}\n`);
}

/** What was cut, for a line of a command's report: `cut ... at offset N; the bytes are saved in P`. */
export function describeCut(cut: RecoveredTail): string {
  const what = cut.foreign > 0 ? `${count(cut.foreign)} line${cut.foreign === 1 ? '' : 's'} of plain JSON another tool appended` : `a torn tail of ${count(cut.bytes)} bytes`;
  return `cut ${what} at offset ${count(cut.offset)}; the bytes are saved in ${cut.savedTo}`;
}
