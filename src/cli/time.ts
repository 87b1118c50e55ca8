/**
 * Times on the command line: an ISO 8601 date, ms since the epoch, `now`, or a time ago like `10m`,
 * `-2h` or `7d ago` (the forms of docker logs and journalctl).
 */
import { UsageError } from './term.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The time `text` names, in ms since the epoch; `now` is the time to count back from. */
export function parseTime(option: string, text: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  if (/^\d+$/.test(t)) return Number(t);
  // docker logs takes 10m, journalctl -10m and 10m ago; -10m ago would be a double negative.
  const ago = /^(-)?(\d+(?:\.\d+)?)(ms|s|m|h|d|w)( ago)?$/.exec(t);
  if (ago !== null && !(ago[1] && ago[4])) return Math.round(now - Number(ago[2]) * UNIT_MS[ago[3]!]!);
  const date = /\d{4}-\d{2}-\d{2}/.test(t) ? dateOf(t) : Number.NaN;
  if (Number.isNaN(date)) {
    throw new UsageError(`--${option} takes a time: an ISO 8601 date (2026-12-07T14:00:00Z), ms since the epoch, now, or a time ago (30s, 10m, -2h, 7d ago, 1w), not ${JSON.stringify(text)}`);
  }
  return date;
}

/**
 * An ISO 8601 date, with or without a time. Without a zone it is local time, as ISO 8601 says, a
 * date alone too: JavaScript reads a date alone as UTC, unlike a date with a time.
 */
function dateOf(t: string): number {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (day === null) return Date.parse(t);
  const [y, m, d] = [Number(day[1]), Number(day[2]) - 1, Number(day[3])];
  const local = new Date(y, m, d);
  return local.getFullYear() === y && local.getMonth() === m && local.getDate() === d ? local.getTime() : Number.NaN;
}
