// The Consumers view: each named consumer's position, lag, last activity and state, asked for every
// two seconds, and a chart of each one's lag since the page opened.
import uPlot from '/vendor/uPlot.esm.js';
import { get, showFailure } from './api.js';
import { count, el, time } from './format.js';

const POLL_MS = 2000;
const HEIGHT = 220;
/** Lag samples kept per consumer: an hour at one every two seconds. */
const MAX_SAMPLES = 1800;
const COLOURS = ['#2f6fb3', '#c2562b', '#2e8b57', '#8a4fb3', '#b38f2f', '#2fa3b3', '#b32f6f', '#555555'];

export function consumersView() {
  const $ = (id) => document.getElementById(id);
  const box = $('lag-chart');
  /** Sample times, and each consumer's lag at them (null before it was seen). */
  const times = [];
  const lags = new Map();
  let chart = null;
  let chartNames = '';
  let visible = false;
  let failed = false;

  async function poll() {
    let res;
    try {
      res = await get('consumers');
      failed = false;
    } catch (err) {
      // Said once, not every two seconds.
      if (!failed) showFailure(err.message);
      failed = true;
      return;
    }
    times.push(res.now);
    for (const c of res.consumers) if (!lags.has(c.name)) lags.set(c.name, new Array(times.length - 1).fill(null));
    const byName = new Map(res.consumers.map((c) => [c.name, c]));
    for (const [name, series] of lags) series.push(byName.get(name)?.lag ?? null);
    if (times.length > MAX_SAMPLES) {
      times.shift();
      for (const series of lags.values()) series.shift();
    }
    box.dataset.samples = String(times.length);
    table(res.consumers, res.now);
    if (visible) drawChart();
  }

  function table(consumers, now) {
    $('consumers-empty').hidden = consumers.length > 0;
    $('consumers-table').hidden = consumers.length === 0;
    $('consumers-rows').replaceChildren(...consumers.map((c) => el('tr', { 'data-name': c.name },
      el('td', {}, c.name),
      el('td', { class: 'num' }, count(c.seq)),
      el('td', { class: 'num' }, count(c.lag)),
      el('td', {}, c.lastActive ? `${time(c.lastActive)} (${ago(now - c.lastActive)})` : '-'),
      el('td', {}, `${c.live ? 'live' : c.expired ? 'expired' : 'stopped'}${c.group ? ', group' : ''}`))));
  }

  function drawChart() {
    const names = [...lags.keys()];
    if (names.length === 0) return;
    const data = [times, ...names.map((n) => lags.get(n))];
    // A consumer that appears needs a chart with one more series: rebuilt then, updated otherwise.
    if (chart === null || chartNames !== names.join('\n')) {
      chart?.destroy();
      chartNames = names.join('\n');
      chart = new uPlot({
        width: box.clientWidth,
        height: HEIGHT,
        ms: 1,
        tzDate: (ts) => uPlot.tzDate(new Date(ts), 'Etc/UTC'),
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: false }))],
        axes: [{ stroke: '#555' }, { stroke: '#555', label: 'lag (records)', size: 60 }],
      }, data, box);
    } else {
      chart.setData(data);
    }
  }

  // The next poll is asked for once the last one is answered, never on top of it.
  const loop = async () => {
    await poll();
    setTimeout(loop, POLL_MS);
  };
  void loop();
  new ResizeObserver(() => chart?.setSize({ width: box.clientWidth, height: HEIGHT })).observe(box);

  return {
    show() {
      visible = true;
      drawChart();
    },
    hide() {
      visible = false;
    },
  };
}

function ago(ms) {
  if (ms < 1000) return 'just now';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000]]) {
    if (ms >= size) return `${Math.floor(ms / size)} ${unit} ago`;
  }
  return '';
}
