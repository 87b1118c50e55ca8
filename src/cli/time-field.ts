/**
 * A record's time read from a field of an imported line: a number of ms since the epoch (pino's
 * `time`) or an ISO 8601 date and time with its zone (bunyan's, and pino's isoTime).
 */

/** Up to the last time a Date can hold. */
const MAX_MS = 8.64e15;

const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

/** The ms since the epoch that a field's value stands for, or a string saying why it stands for none. */
export function fieldTime(v: unknown): number | string {
  if (typeof v === 'number') {
    if (v < 0) return `${v} is before 1970, which a journal cannot store`;
    if (v > MAX_MS) return `${v} is past the last time a Date can hold`;
    // Below a millisecond is dropped, as Date drops it from an ISO string.
    return Math.floor(v);
  }
  if (typeof v === 'string') return isoTime(v);
  const what = v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : String(v);
  return `${what} is neither a number of ms since the epoch nor an ISO 8601 string`;
}

/**
 * ISO 8601 read field by field rather than by Date.parse, which takes a time without a zone as
 * local time (its meaning would depend on the machine importing) and rolls February 30 over into
 * March.
 */
function isoTime(s: string): number | string {
  const quoted = JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s);
  const m = ISO.exec(s);
  if (m === null) return `${quoted} is not an ISO 8601 date and time with a zone (Z or ±hh:mm)`;
  const [, y, mo, d, h, mi, sec, frac, z, sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const valid = month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month) &&
    Number(h) <= 23 && Number(mi) <= 59 && Number(sec ?? 0) <= 59 && Number(oh ?? 0) <= 23 && Number(om ?? 0) <= 59;
  if (!valid) return `${quoted} is not a date and time that exists`;
  const ms = Number((frac ?? '').slice(0, 3).padEnd(3, '0'));
  const offset = z !== undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om ?? 0)) * 60_000;
  // Date.UTC reads the years 0 to 99 as 1900 to 1999, but those are before 1970 either way.
  const t = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(sec ?? 0), ms) - offset;
  return t >= 0 ? t : `${quoted} is before 1970, which a journal cannot store`;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

