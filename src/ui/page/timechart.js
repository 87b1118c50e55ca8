// The Time view: records per interval over the journal's life, as bars that fill in while the
// server reads the journal. Dragging across the chart zooms (the server counts that range again,
// in finer intervals, reading only it); a click on a bar lists that interval's records.
import uPlot from '/vendor/uPlot.esm.js';
import { get, stream } from './api.js';
import { count, el, span, time } from './format.js';

const HEIGHT = 320;
/** Records listed for a clicked interval. */
const LISTED = 100;

export function timeView(state, bus) {
  const $ = (id) => document.getElementById(id);
  const box = $('time-chart');
  const progress = $('time-progress');
  const status = $('time-status');
  let chart = null;
  /** The whole life's counts, kept to come back to after a zoom. */
  let whole = null;
  /** What the chart shows: the whole life's counts or a zoomed range's, { start, width, counts, done, records }. */
  let shown = null;
  let closeZoom = null;

  const xs = (b) => b.counts.map((_, i) => b.start + (i + 0.5) * b.width);

  function draw() {
    if (shown === null) return;
    chart?.setData([xs(shown), shown.counts]);
    const scope = shown === whole ? 'the journal\'s life' : `${time(shown.start)} to ${time(shown.start + shown.width * shown.counts.length)}`;
    status.textContent = shown.done
      ? `${count(shown.records)} records over ${scope}, per ${span(shown.width)}. Drag across the chart to zoom in; click a bar to list its records.`
      : `reading… ${Math.floor(100 * shown.fraction)}%, ${count(shown.records)} records so far, per ${span(shown.width)}`;
    progress.hidden = shown.done;
    progress.value = shown.fraction;
    $('time-whole').disabled = shown === whole;
    box.dataset.done = String(shown.done && shown === whole);
  }

  function makeChart() {
    chart = new uPlot({
      width: box.clientWidth,
      height: HEIGHT,
      ms: 1,
      tzDate: (ts) => uPlot.tzDate(new Date(ts), 'Etc/UTC'),
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      scales: {
        // Centred bars: half an interval of room at each end so the outer bars show whole.
        x: { time: true, range: (u, min, max) => [min - (shown?.width ?? 0) / 2, max + (shown?.width ?? 0) / 2] },
        y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] },
      },
      series: [{}, { label: 'records', stroke: '#2f6fb3', fill: 'rgba(47, 111, 179, 0.55)', paths: uPlot.paths.bars({ size: [0.9, 80] }), points: { show: false } }],
      axes: [{ stroke: '#555' }, { stroke: '#555', label: 'records', size: 60 }],
      hooks: { setSelect: [onSelect] },
    }, [[], []], box);
    let downX = 0;
    chart.over.addEventListener('mousedown', (e) => (downX = e.clientX));
    chart.over.addEventListener('click', (e) => {
      if (Math.abs(e.clientX - downX) <= 3 && chart.cursor.idx !== null && chart.cursor.idx !== undefined) listInterval(chart.cursor.idx);
    });
    chart.over.addEventListener('dblclick', showWhole);
    new ResizeObserver(() => chart.setSize({ width: box.clientWidth, height: HEIGHT })).observe(box);
    draw();
  }

  function onSelect(u) {
    if (u.select.width < 4) return;
    const from = Math.floor(u.posToVal(u.select.left, 'x'));
    const until = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    zoom(from, until);
  }

  function zoom(fromTs, untilTs) {
    closeZoom?.();
    const range = { fromTs, untilTs };
    closeZoom = stream('histogram', range, {
      bins: (b) => {
        shown = { ...b, counts: new Array(b.count).fill(0), records: 0, fraction: 0, done: false };
        draw();
      },
      progress: (p) => {
        shown = { ...p };
        draw();
      },
      done: (p) => {
        shown = { ...p };
        draw();
      },
    });
  }

  function showWhole() {
    closeZoom?.();
    closeZoom = null;
    shown = whole;
    draw();
  }

  async function listInterval(i) {
    const { start, width, counts } = shown;
    const from = start + i * width;
    const list = $('time-records');
    $('time-interval').textContent = `${time(from)} to ${time(from + width)}: ${count(counts[i])} record${counts[i] === 1 ? '' : 's'}${counts[i] > LISTED ? `, the first ${LISTED} listed` : ''}`;
    list.replaceChildren();
    if (counts[i] === 0) return;
    try {
      const recs = await get('records', { fromTs: from, untilTs: from + width - 1, limit: LISTED });
      list.replaceChildren(...recs.map((r) => el('li', {},
        el('a', { href: `#records/seq=${r.seq}` }, `seq ${r.seq}`), ' ', el('span', { class: 'ts' }, time(r.ts)), ' ', el('span', { class: 'data' }, r.data))));
    } catch (err) {
      list.replaceChildren(el('li', {}, err.message));
    }
  }

  // The whole life is counted whichever view is open, so that it is ready (or well on its way)
  // when the Time view is; but after verify, not beside it: both are work for the server's one
  // JavaScript thread, and verify's report is the shorter wait.
  status.textContent = 'waiting for verify to finish before counting…';
  const countWhole = () => stream('histogram', {}, {
    bins: (b) => {
      whole = { ...b, counts: new Array(b.count).fill(0), records: 0, fraction: 0, done: false };
      shown ??= whole;
      draw();
    },
    progress: (p) => {
      const showing = shown === whole;
      whole = { ...p };
      if (showing) shown = whole;
      draw();
    },
    done: (p) => {
      performance.mark('time-chart-done');
      const showing = shown === whole || shown === null;
      whole = { ...p };
      if (showing) shown = whole;
      draw();
    },
  });
  if (state.verifyEnded) countWhole();
  else bus.addEventListener('verify-ended', countWhole, { once: true });
  $('time-whole').addEventListener('click', showWhole);

  return {
    show() {
      if (chart === null) makeChart();
    },
  };
}
