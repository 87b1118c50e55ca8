// The console's start: the overview first (it needs no scan of the journal), then the streams that
// fill the rest in: verify, the time chart's count, the live tail, the consumers. The views are
// sections of one page, chosen by the URL's hash (#overview, #time, #records/seq=N, #consumers).
import { get, showFailure, stream } from './api.js';
import { overviewView } from './overview.js';

const VIEWS = ['overview', 'time', 'records', 'consumers'];

// Asked for before anything else is loaded: the first screen waits for this and for nothing more.
const first = get('overview');

async function start() {
  let overview;
  try {
    overview = await first;
  } catch (err) {
    showFailure(err.message);
    document.body.dataset.ready = 'failed';
    return;
  }
  const name = overview.file.split('/').pop();
  document.title = `${name} · journal ui`;
  document.getElementById('journal-name').textContent = name;

  /** What the views share: the journal's seq range as it grows, verify's damage reports, whether verify ended. */
  const state = { overview, firstSeq: overview.first?.seq ?? null, lastSeq: overview.last?.seq ?? 0, damages: [], verifyEnded: false };
  const bus = new EventTarget();
  overviewView(state, bus);
  // The first screen is up: the browser tests wait for this, and the benchmark reads the mark.
  document.body.dataset.ready = 'overview';
  performance.mark('first-screen');

  // The other views (and uPlot, the largest file) load after the first screen.
  const [{ timeView }, { recordsView }, { consumersView }] = await Promise.all([import('./timechart.js'), import('./records.js'), import('./consumers.js')]);
  const views = { time: timeView(state, bus), records: recordsView(state, bus), consumers: consumersView() };

  stream('tail', { from: state.lastSeq + 1 }, {
    records: (m) => {
      if (m.lastSeq <= state.lastSeq) return;
      state.lastSeq = m.lastSeq;
      state.firstSeq ??= m.records[0]?.seq ?? null;
      bus.dispatchEvent(new CustomEvent('tail', { detail: m }));
    },
  });

  const route = () => {
    const [view, query = ''] = location.hash.slice(1).split('/');
    const name = VIEWS.includes(view) ? view : 'overview';
    for (const v of VIEWS) {
      document.getElementById(`view-${v}`).hidden = v !== name;
      document.querySelector(`nav a[href="#${v}"]`).classList.toggle('current', v === name);
    }
    for (const [v, impl] of Object.entries(views)) if (v !== name) impl.hide?.();
    views[name]?.show(new URLSearchParams(query));
  };
  window.addEventListener('hashchange', route);
  route();
}

void start();
