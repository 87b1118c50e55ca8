/**
 * What pino writes, made into records: text cut into lines at "\n", and each line made into the
 * value a record stores. A write holds one line or several; through a transport's shared buffer a
 * write can also end in the middle of a line, whose rest comes with the next write.
 */
import { StringDecoder } from 'node:string_decoder';
import { ErrorCode, isJournalError, rawJson, type RawJson } from 'jsonl-journal';

/**
 * What one record costs besides its data, in the journal's accounting of queued bytes: at least
 * the journal's own bound for a record's frame, envelope and commit mark (116 bytes), so that a
 * group measured with it never exceeds a bound the journal measures.
 */
export const RECORD_OVERHEAD = 128;

/** One line, ready to append. */
export interface Line {
  /** The line's JSON, checked and kept as written; or, for a line that is not JSON, the line as a string. */
  value: RawJson | string;
  /** The bytes the record's data takes, plus RECORD_OVERHEAD. */
  cost: number;
}

/**
 * The value stored for one line (without its "\n"). JSON is kept exactly as written, whitespace
 * outside strings aside (pino writes none). A line that is not JSON, or holds a number no double
 * can hold, is stored as a JSON string of the line, so that nothing written is lost.
 */
export function lineValue(text: string): Line {
  try {
    const raw = rawJson(text);
    return { value: raw, cost: Buffer.byteLength(raw.text) + RECORD_OVERHEAD };
  } catch (err) {
    if (!isJournalError(err, ErrorCode.INVALID_VALUE)) throw err;
    return { value: text, cost: Buffer.byteLength(JSON.stringify(text)) + RECORD_OVERHEAD };
  }
}

/** Cuts written text into lines, keeping a line's start until its "\n" arrives. */
export class LineSplitter {
  #rest = '';
  /** For bytes: a character split between two writes is decoded once both halves are here. */
  #decoder: StringDecoder | null = null;

  /** Calls `each` with every line `chunk` completes, in order, without its "\n". */
  push(chunk: string | Uint8Array, each: (line: string) => void): void {
    let text = typeof chunk === 'string' ? chunk : (this.#decoder ??= new StringDecoder('utf8')).write(chunk);
    if (this.#rest !== '') {
      text = this.#rest + text;
      this.#rest = '';
    }
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      each(text.slice(from, nl));
      from = nl + 1;
    }
    if (from < text.length) this.#rest = from === 0 ? text : text.slice(from);
  }

  /** The characters of an unfinished line. */
  get restLength(): number {
    return this.#rest.length;
  }

  /** Takes the unfinished line, if any, as the last one: at the end, it is a line too. */
  takeRest(): string {
    const rest = this.#rest + (this.#decoder?.end() ?? '');
    this.#rest = '';
    return rest;
  }
}
