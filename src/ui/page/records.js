// The Records view: every record by seq in a virtualised list (fetched a hundred at a time as they
// scroll into view), jump to a seq or a time, a filter (searched on the server, a little at a
// time), the JSON of the selected record, and the live tail.
import { get } from './api.js';
import { count, el, parseTime, time } from './format.js';
import { pretty } from './json.js';
import { VirtualList } from './vlist.js';

const ROW_PX = 24;
/** Seqs fetched per request as they scroll into view. */
const CHUNK = 100;
/** Past this many cached records the cache starts afresh (the rows in view are fetched again). */
const MAX_CACHED = 20_000;
/** A filtered list keeps this many matches at most. */
const MAX_MATCHES = 10_000;

export function recordsView(state, bus) {
  const $ = (id) => document.getElementById(id);
  const status = $('records-status');
  const follow = $('follow-end');
  const filterForm = $('filter');
  let selected = null;

  // Unfiltered: row i is seq firstSeq + i. Records arrive by chunks of seqs; a chunk remembers up
  // to which seq it was read, so that a seq missing below that is known to be absent, not loading.
  const cache = new Map();
  const chunks = new Map();
  const loading = new Set();
  // Filtered: row i is the i-th match found so far; the search goes on from `next` while its last
  // row is in view.
  let search = null;

  const list = new VirtualList($('record-list'), { rowHeight: ROW_PX, render: (i) => (search === null ? seqRow(i) : matchRow(i)) });

  const unfilteredCount = () => (state.firstSeq === null ? 0 : state.lastSeq - state.firstSeq + 1);

  function seqRow(i) {
    const seq = state.firstSeq + i;
    const rec = cache.get(seq);
    if (rec !== undefined) return recordRow(rec);
    const c = Math.floor(seq / CHUNK);
    const until = chunks.get(c);
    if (until !== undefined && seq <= until) {
      return el('div', { class: 'row gap', 'data-seq': seq }, el('span', { class: 'seq' }, String(seq)), el('span', { class: 'data' }, 'not in the journal: removed by compaction, or on a damaged line'));
    }
    if (until !== undefined) chunks.delete(c);
    void loadChunk(c);
    return el('div', { class: 'row pending', 'data-seq': seq }, el('span', { class: 'seq' }, String(seq)), el('span', { class: 'data' }, '…'));
  }

  async function loadChunk(c) {
    if (loading.has(c)) return;
    loading.add(c);
    try {
      const asked = state.lastSeq;
      const recs = await get('records', { from: Math.max(1, c * CHUNK), limit: CHUNK });
      if (cache.size > MAX_CACHED) {
        cache.clear();
        chunks.clear();
      }
      for (const r of recs) cache.set(r.seq, r);
      chunks.set(c, recs.length === CHUNK ? recs.at(-1).seq : asked);
      list.refresh();
    } catch (err) {
      status.textContent = err.message;
    } finally {
      loading.delete(c);
    }
  }

  function recordRow(rec) {
    const prev = cache.get(rec.seq - 1);
    const damage = prev === undefined ? undefined : state.damages.find((d) => d.offset > prev.offset && d.offset < rec.offset);
    return el('div', {
      class: `row${rec.seq === selected ? ' selected' : ''}${damage ? ' after-damage' : ''}`,
      'data-seq': rec.seq,
      title: damage ? `damaged line ${count(damage.line)} at offset ${count(damage.offset)} before this record: ${damage.reason}` : null,
      onclick: () => select(rec.seq),
    }, el('span', { class: 'seq' }, String(rec.seq)), el('span', { class: 'ts' }, time(rec.ts)), el('span', { class: 'data' }, rec.data));
  }

  function matchRow(i) {
    if (i < search.matches.length) return recordRow(search.matches[i]);
    void searchMore(search);
    return el('div', { class: 'row pending' }, el('span', { class: 'data' }, `searching… read up to seq ${count(search.next - 1)}`));
  }

  async function searchMore(s) {
    if (s.loading || s.done) return;
    s.loading = true;
    try {
      const res = await get('search', { ...s.params, from: s.next, limit: 200 });
      if (s !== search) return;
      s.matches.push(...res.records);
      s.next = res.next;
      s.done = res.done || s.matches.length >= MAX_MATCHES;
      showSearchStatus(s);
      list.setCount(s.matches.length + (s.done ? 0 : 1));
      if (follow.checked && s.done) list.scrollToEnd();
    } catch (err) {
      s.done = true;
      status.textContent = err.message;
      list.setCount(s.matches.length);
    } finally {
      s.loading = false;
    }
  }

  function showSearchStatus(s) {
    const what = s.params.text !== undefined ? `data containing ${JSON.stringify(s.params.text)}` : `${s.params.path} = ${s.params.value}`;
    const cap = s.matches.length >= MAX_MATCHES ? ` (the first ${count(MAX_MATCHES)}: narrow the filter, or jump to a later seq)` : '';
    status.textContent = `${count(s.matches.length)} records with ${what} from seq ${count(s.from)}${s.done ? '' : ', searching'}${cap}`;
  }

  async function select(seq) {
    selected = seq;
    list.refresh();
    history.replaceState(null, '', `#records/seq=${seq}`);
    const title = $('detail-title');
    const body = $('detail-json');
    title.textContent = `seq ${count(seq)}`;
    body.textContent = '';
    try {
      const rec = await get('record', { seq });
      if (selected !== seq) return;
      if (rec === null) {
        body.textContent = `The journal holds no record with seq ${count(seq)}.`;
        return;
      }
      title.textContent = `seq ${count(rec.seq)} · ${time(rec.ts)} · offset ${count(rec.offset)}`;
      body.textContent = pretty(rec.data);
    } catch (err) {
      body.textContent = err.message;
    }
  }

  /** Shows seq `seq` in the middle of the list and selects it (a filtered list restarts there). */
  function jumpTo(seq, note = '') {
    follow.checked = false;
    if (search !== null) {
      startSearch(search.params, seq);
      select(seq);
      return;
    }
    if (state.firstSeq === null || seq < state.firstSeq || seq > state.lastSeq) {
      status.textContent = state.firstSeq === null ? 'The journal holds no records.' : `No seq ${count(seq)}: the journal holds seq ${count(state.firstSeq)} to ${count(state.lastSeq)}.`;
      return;
    }
    status.textContent = note;
    list.scrollToIndex(seq - state.firstSeq);
    select(seq);
  }

  /** Lists the matches from seq `from` on, from the first: like a jump, it stops following the end. */
  function startSearch(params, from = state.firstSeq ?? 1) {
    follow.checked = false;
    search = { params, from, next: from, matches: [], done: false, loading: false };
    showSearchStatus(search);
    list.setCount(1);
    list.scrollToIndex(0);
  }

  function clearSearch() {
    search = null;
    status.textContent = '';
    list.setCount(unfilteredCount());
  }

  $('jump-seq').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = e.target.elements.seq.value.trim();
    if (!/^\d+$/.test(v)) status.textContent = `A seq is a positive integer, not ${JSON.stringify(v)}.`;
    else jumpTo(Number(v));
  });

  $('jump-time').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = e.target.elements.time.value;
    const ts = parseTime(text);
    if (Number.isNaN(ts)) {
      status.textContent = `A time is an ISO 8601 date (2026-12-07T14:00:00Z) or ms since the epoch, not ${JSON.stringify(text)}.`;
      return;
    }
    try {
      const rec = await get('at', { ts });
      if (rec === null) status.textContent = `No record was appended at or after ${time(ts)}.`;
      else jumpTo(rec.seq, `The first record appended at or after ${time(ts)}: seq ${count(rec.seq)}.`);
    } catch (err) {
      status.textContent = err.message;
    }
  });

  filterForm.elements.mode.addEventListener('change', () => {
    const byPath = filterForm.elements.mode.value === 'path';
    filterForm.elements.path.hidden = !byPath;
    filterForm.elements.value.placeholder = byPath ? 'value (JSON, or text)' : 'text';
  });
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = filterForm.elements;
    const value = f.value.value;
    if (f.mode.value === 'path') {
      if (f.path.value.trim() === '') {
        status.textContent = 'A path is keys separated by dots: user.id.';
        return;
      }
      startSearch({ path: f.path.value.trim(), value });
    } else if (value === '') {
      clearSearch();
    } else {
      startSearch({ text: value });
    }
  });
  filterForm.elements.clear.addEventListener('click', () => {
    filterForm.reset();
    filterForm.elements.mode.dispatchEvent(new Event('change'));
    clearSearch();
  });

  // Scrolling up means reading: the list stops following the end until asked again.
  $('record-list').addEventListener('wheel', (e) => {
    if (e.deltaY < 0) follow.checked = false;
  });
  follow.addEventListener('change', () => {
    if (follow.checked) list.scrollToEnd();
  });

  bus.addEventListener('tail', (e) => {
    for (const r of e.detail.records) cache.set(r.seq, r);
    if (search === null) {
      list.setCount(unfilteredCount());
      if (follow.checked) list.scrollToEnd();
    } else if (search.done && search.matches.length < MAX_MATCHES) {
      search.done = false;
      void searchMore(search);
    }
  });
  bus.addEventListener('verified', () => list.refresh());

  list.setCount(unfilteredCount());
  if (follow.checked) list.scrollToEnd();

  return {
    /** Called when the view is shown, with the hash's parameters (seq=N, damage=OFFSET). */
    async show(params) {
      list.refresh();
      if (params.get('seq') !== null) jumpTo(Number(params.get('seq')));
      else if (params.get('damage') === null && follow.checked) list.scrollToEnd();
      else if (params.get('damage') !== null) {
        const offset = Number(params.get('damage'));
        const d = state.damages.find((x) => x.offset === offset);
        const what = d ? `The damaged line ${count(d.line)} at offset ${count(offset)} (${d.reason})` : `The damage at offset ${count(offset)}`;
        try {
          const rec = await get('after', { offset });
          if (rec === null) status.textContent = `${what} comes after the last intact record.`;
          else jumpTo(rec.seq, `${what} lies just before seq ${count(rec.seq)}.`);
        } catch (err) {
          status.textContent = err.message;
        }
      }
    },
  };
}
