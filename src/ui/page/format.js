// How numbers, sizes and times read on the page: as the journal command prints them.

export const count = (n) => n.toLocaleString('en-US');

export function bytes(n) {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
}

/** A time as ISO 8601 in UTC, as the command prints times. */
export const time = (ms) => new Date(ms).toISOString();

/** A span of time in its largest unit: 250 ms, 5 s, 15 min, 6 h, 7 days. */
export function span(ms) {
  for (const [unit, size] of [['days', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000]]) {
    if (ms >= size) return `${+(ms / size).toFixed(1)} ${unit === 'days' && ms === size ? 'day' : unit}`;
  }
  return `${ms} ms`;
}

/**
 * A time typed by a person: ms since the epoch, or an ISO 8601 date (with Z or an offset; without
 * one it is local time, as in `journal cat --since`). NaN if it is neither.
 */
export function parseTime(text) {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  return /^\d{4}-\d{2}-\d{2}/.test(t) ? Date.parse(t) : Number.NaN;
}

/** A small element: el('span', { class: 'x' }, 'text', child). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}
