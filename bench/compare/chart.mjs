// The comparison as an SVG bar chart, written out as text: a group of rows per workload, a row per
// store, a bar per record size, on a logarithmic axis of records per second (the stores differ by
// up to three orders of magnitude, which a linear axis would flatten into nothing).
import { fmtRate } from '../lib.mjs';

const COLORS = {
  journal: '#0b7a68',
  'journal-nosync': '#55b9a5',
  durable: '#56677f',
  nosync: '#d08a2e',
  baseline: '#a3a3a3',
};
const LEGEND = [
  ['journal', "jsonl-journal 'always'"],
  ['durable', 'other store, durable'],
  ['baseline', 'raw loop'],
  ['journal-nosync', "jsonl-journal 'unsafe-nosync'"],
  ['nosync', 'other store, no fsync'],
];
/** The first series (the upper bar of a row) solid, the second (the lower) light. */
const SERIES_OPACITY = [1, 0.5];

const W = 960;
const LABEL_END = 370;
const X0 = 380;
const PLOT_W = 480;
const BAR = 9;
const GAP = 2;
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const num = (x) => Number(x.toFixed(1));

function axisLabel(v) {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return String(v);
}

/**
 * `groups`: [{ title, rows: [{ label, kind, values: [one number per series, or null] }] }];
 * `series`: the two names of the values, drawn as the same colour, solid and light.
 */
export function barChart({ title, subtitle, series, groups }) {
  const all = groups.flatMap((g) => g.rows.flatMap((r) => r.values)).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const x = (v) => X0 + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT_W;
  const rowH = series.length * (BAR + GAP) + 8;

  const out = [];
  const text = (tx, ty, s, attrs = '') => out.push(`<text x="${num(tx)}" y="${num(ty)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`);

  text(16, 28, title, 'font-size="17" font-weight="bold"');
  const sub = subtitle.split(/(?<=\.) /);
  sub.forEach((line, i) => text(16, 48 + i * 15, line, 'font-size="11" fill="#444"'));
  let y = 48 + sub.length * 15 + 8;

  // Legend: colours by kind of store, then opacity by series.
  let lx = 16;
  for (const [kind, label] of LEGEND) {
    out.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="${COLORS[kind]}"/>`);
    text(lx + 17, y + 10, label, 'font-size="11"');
    lx += 17 + label.length * 6.6 + 18;
  }
  y += 20;
  lx = 16;
  series.forEach((name, i) => {
    out.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="#555" fill-opacity="${SERIES_OPACITY[i]}"/>`);
    text(lx + 17, y + 10, `${i === 0 ? 'upper' : 'lower'} bar: ${name}`, 'font-size="11"');
    lx += 17 + 16 * 6.6 + 18;
  });
  y += 34;

  const decades = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) decades.push(v);
  for (const v of decades) text(x(v), y, axisLabel(v), 'font-size="10" fill="#555" text-anchor="middle"');
  y += 8;
  const plotTop = y;

  for (const g of groups) {
    y += 16;
    text(16, y, g.title, 'font-size="13" font-weight="bold"');
    y += 6;
    out.push(`<line x1="16" y1="${y}" x2="${W - 16}" y2="${y}" stroke="#ccc"/>`);
    y += 6;
    for (const r of g.rows) {
      text(LABEL_END, y + rowH / 2 + 1, r.label, 'font-size="11" text-anchor="end"');
      r.values.forEach((v, i) => {
        if (!(v > 0)) return;
        const by = y + 3 + i * (BAR + GAP);
        const w = Math.max(1, x(v) - X0);
        out.push(`<rect x="${X0}" y="${num(by)}" width="${num(w)}" height="${BAR}" fill="${COLORS[r.kind]}" fill-opacity="${SERIES_OPACITY[i]}"/>`);
        text(X0 + w + 4, by + BAR - 1, fmtRate(v), 'font-size="9.5" fill="#333"');
      });
      y += rowH;
    }
  }
  y += 10;
  const grid = decades.map((v) => `<line x1="${num(x(v))}" y1="${plotTop}" x2="${num(x(v))}" y2="${y}" stroke="#ddd" stroke-dasharray="3 3"/>`);
  for (const v of decades) text(x(v), y + 12, axisLabel(v), 'font-size="10" fill="#555" text-anchor="middle"');
  text(X0 + PLOT_W / 2, y + 28, 'records per second (log scale)', 'font-size="11" fill="#555" text-anchor="middle"');
  const height = y + 44;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="${FONT}">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    ...grid,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
