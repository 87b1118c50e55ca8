/** Times on the command line: an ISO 8601 date, ms since the epoch, `now`, or a time ago like `10m`, `2h`, `7d`. */
import { UsageError } from './term.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The time `text` names, in ms since the epoch; `now` is the time to count back from. */
export function parseTime(option: string, text: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  if (/^\d+$/.test(t)) return Number(t);
  const ago = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(t);
  if (ago !== null) return Math.round(now - Number(ago[1]) * UNIT_MS[ago[2]!]!);
  const date = /\d{4}-\d{2}-\d{2}/.test(t) ? Date.parse(t) : Number.NaN;
  if (Number.isNaN(date)) {
    throw new UsageError(`--${option} takes a time: an ISO 8601 date (2026-12-07T14:00:00Z), ms since the epoch, now, or a time ago (30s, 10m, 2h, 7d, 1w), not ${JSON.stringify(text)}`);
  }
  return date;
}
