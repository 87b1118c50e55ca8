/**
 * The lines of a JSON Lines input, numbered, cut from a stream's chunks without holding more than
 * the line under way: what `journal import` reads a file of any size with.
 */
import { isUtf8 } from 'node:buffer';

/** A line's text (without its LF, or a CR before it), or why it has none. */
export type Line = { no: number; text: string; error?: undefined } | { no: number; text?: undefined; error: string };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Feed it chunks with `push` and take the complete lines each returns; `end` returns the last line
 * when the input does not end with LF. A line is an error instead of text when its bytes are not
 * UTF-8 (decoding would replace them, and the record would not be what the file holds), or when it
 * grows past `maxBytes`: its bytes are then dropped as they come, up to its LF, so a file with no
 * LF at all costs no more memory than a short line.
 */
export class LineSplitter {
  readonly #maxBytes: number;
  /** Bytes of the line under way, from earlier chunks. */
  #parts: Buffer[] = [];
  #partsBytes = 0;
  /** The line under way is too long: drop its bytes up to its LF. */
  #dropping = false;
  #no = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): Line[] {
    const out: Line[] = [];
    const firstLf = chunk.indexOf(LF);
    if (firstLf < 0) {
      this.#carry(chunk, out);
      return out;
    }
    if (this.#dropping) {
      this.#dropping = false;
    } else {
      const head = chunk.subarray(0, firstLf);
      this.#parts.push(head);
      this.#partsBytes += head.length;
      if (this.#partsBytes > this.#maxBytes) out.push(this.#tooLong());
      else out.push(this.#line(this.#parts.length === 1 ? head : Buffer.concat(this.#parts, this.#partsBytes)));
      this.#parts = [];
      this.#partsBytes = 0;
    }
    const lastLf = chunk.lastIndexOf(LF);
    if (lastLf > firstLf) this.#whole(chunk.subarray(firstLf + 1, lastLf + 1), out);
    if (lastLf + 1 < chunk.length) this.#carry(chunk.subarray(lastLf + 1), out);
    return out;
  }

  /** The last line, if the input did not end with LF. */
  end(): Line[] {
    if (this.#dropping || this.#partsBytes === 0) return [];
    const out = [this.#line(Buffer.concat(this.#parts, this.#partsBytes))];
    this.#parts = [];
    this.#partsBytes = 0;
    return out;
  }

  /** The number of the last line returned. */
  get lines(): number {
    return this.#no;
  }

  /** Bytes with no LF in them: the start of a line, or more of it. */
  #carry(bytes: Buffer, out: Line[]): void {
    if (this.#dropping) return;
    this.#parts.push(bytes);
    this.#partsBytes += bytes.length;
    if (this.#partsBytes > this.#maxBytes) {
      out.push(this.#tooLong());
      this.#parts = [];
      this.#partsBytes = 0;
      this.#dropping = true;
    }
  }

  #tooLong(): Line {
    return { no: ++this.#no, error: `longer than ${this.#maxBytes / (1024 * 1024)} MiB, more than a record can hold` };
  }

  /** Whole lines, each ending with LF: decoded at once when all of them are UTF-8 and short, the common case. */
  #whole(bytes: Buffer, out: Line[]): void {
    if (bytes.length > this.#maxBytes || !isUtf8(bytes)) {
      for (let from = 0, lf; (lf = bytes.indexOf(LF, from)) >= 0; from = lf + 1) out.push(this.#line(bytes.subarray(from, lf)));
      return;
    }
    const text = bytes.toString('utf8');
    for (let from = 0, lf; (lf = text.indexOf('\n', from)) >= 0; from = lf + 1) {
      const end = lf > from && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
      out.push({ no: ++this.#no, text: text.slice(from, end) });
    }
  }

  #line(bytes: Buffer): Line {
    if (bytes.length > this.#maxBytes) return this.#tooLong();
    if (!isUtf8(bytes)) return { no: ++this.#no, error: 'not valid UTF-8' };
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
    return { no: ++this.#no, text: bytes.toString('utf8', 0, end) };
  }
}
