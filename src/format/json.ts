/**
 * JSON kept exactly as written: rawJson() text stored verbatim and BigInt stored as integers, and
 * integers read back as BigInt, where a double would round them.
 */
import { ErrorCode, JournalError } from '../errors.js';

/** JSON text to be stored as it is, numbers digit for digit: see rawJson(). */
export class RawJson {
  /** The JSON text, without insignificant whitespace. */
  readonly text: string;

  /** @internal Use rawJson(), which checks the text. */
  constructor(text: string) {
    this.text = text;
  }

  /**
   * Inside the journal's encoder, a placeholder it swaps for the text; elsewhere (a JSON.stringify
   * of the caller's own), the parsed value, which may round numbers a double cannot hold.
   */
  toJSON(): unknown {
    if (pieces === null) return JSON.parse(this.text);
    pieces.push(this.text);
    return `${placeholders().text}${pieces.length - 1}`;
  }
}

/**
 * Wraps JSON text to be appended exactly as written: `append(rawJson('{"n":12345678901234567890123}'))`
 * stores that number digit for digit, where a value would be rounded to the nearest double. It can
 * stand anywhere in a value: `append({ id: rawJson('12345678901234567890123') })`. Whitespace
 * outside strings is dropped. Throws INVALID_VALUE when the text is not JSON, or holds a number
 * too large for any double (such as 1e400), which readers could not parse.
 */
export function rawJson(text: string): RawJson {
  if (typeof text !== 'string') throw new TypeError('rawJson takes a string of JSON text');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new JournalError(ErrorCode.INVALID_VALUE, `not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const infinite = findInfinite(parsed);
  if (infinite !== null) throw new JournalError(ErrorCode.INVALID_VALUE, `${infinite}: a number too large for any double`);
  return new RawJson(minify(text));
}

/**
 * Placeholders look like `text` plus an index; the random part keeps them from matching any string
 * a caller stores. Made at first use, so that loading the module draws no random bytes.
 */
let token: { text: string; quoted: RegExp } | null = null;
function placeholders(): { text: string; quoted: RegExp } {
  if (token !== null) return token;
  const text = `jsonl-journal raw ${Buffer.from(crypto.getRandomValues(new Uint8Array(9))).toString('base64')} `;
  return (token = { text, quoted: new RegExp(`"${text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(\\d+)"`, 'g') });
}
/** The texts of the encoding under way, by placeholder index; null when none is. */
let pieces: string[] | null = null;

/**
 * JSON.stringify of `value`, with RawJson texts and BigInts written exactly. Plain values take
 * the plain path; a BigInt makes JSON.stringify throw, and then the value is stringified again
 * with a replacer that turns it into a placeholder too.
 */
export function stringifyExact(value: unknown): string | undefined {
  const outer = pieces;
  pieces = [];
  try {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (err) {
      if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
      pieces = [];
      json = JSON.stringify(value, (_k, v: unknown) => {
        if (typeof v !== 'bigint') return v;
        pieces!.push(v.toString());
        return `${placeholders().text}${pieces!.length - 1}`;
      });
    }
    if (json === undefined || pieces.length === 0) return json;
    const texts = pieces;
    // A placeholder is a JSON string, so in the output it stands quoted; the text takes its place.
    return json.replace(placeholders().quoted, (_m, i: string) => texts[Number(i)]!);
  } finally {
    pieces = outer;
  }
}

/** The first number in `v` that is not finite (what JSON.parse makes of 1e400), as a path; or null. */
function findInfinite(v: unknown, at = 'value'): string | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : at;
  if (typeof v !== 'object' || v === null) return null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = findInfinite(v[i], `${at}[${i}]`);
      if (bad !== null) return bad;
    }
    return null;
  }
  for (const [k, x] of Object.entries(v)) {
    const bad = findInfinite(x, `${at}.${k}`);
    if (bad !== null) return bad;
  }
  return null;
}

/** `text` (valid JSON) without whitespace outside strings, every other character as it was. */
function minify(text: string): string {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      out += text.slice(from, i);
      from = i + 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Whether JSON.parse hands a reviver each value's source text (Node 22 on, or Node 20 with
 * --harmony-json-parse-with-source): what reading integers exactly as BigInt needs.
 */
export const canReadExactIntegers: boolean = (() => {
  let seen = false;
  JSON.parse('1', (_k, v: unknown, context?: { source?: string }) => {
    seen = context?.source === '1';
    return v;
  });
  return seen;
})();

/** A JSON.parse reviver: integers a double cannot hold exactly become BigInt (see canReadExactIntegers). */
export function exactIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number' || Number.isSafeInteger(value) || context?.source === undefined) return value;
  return /^-?\d+$/.test(context.source) ? BigInt(context.source) : value;
}
