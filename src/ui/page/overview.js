// The Overview: what the journal is (header, seq range, size, first and last append), at once,
// from reads that seek; then verify's report as it streams in, each damaged line linked to its
// place among the records; then what the live tail has seen since the page opened.
import { stream } from './api.js';
import { bytes, count, el, time } from './format.js';

export function overviewView(state, bus) {
  const $ = (id) => document.getElementById(id);
  const o = state.overview;
  const h = o.header;
  const set = (id, text) => {
    $(id).textContent = text;
  };

  set('ov-file', o.file);
  set('ov-id', h.id);
  set('ov-format', `version ${h.version}`);
  set('ov-created', time(h.created));
  set('ov-generation', `${count(h.generation)} (compactions)`);
  set('ov-bytes', `${bytes(o.bytes)} (${count(o.bytes)} bytes)`);
  set('ov-seqs', o.first === null ? 'none' : `${count(o.first.seq)}..${count(o.last.seq)}`);
  set('ov-assigned', `max assigned ${count(o.lastSeq)}, retained from ${count(h.minSeq)}`);
  set('ov-first', o.first === null ? 'never' : time(o.first.ts));
  set('ov-last', o.last === null ? 'never' : time(o.last.ts));
  set('ov-records', 'counting (verify is reading the journal)…');

  const progress = $('ov-progress');
  const verdict = $('ov-status');
  verdict.textContent = 'checking…';
  verdict.className = 'badge checking';
  stream('verify', {}, {
    progress: (p) => {
      progress.hidden = false;
      progress.max = p.bytesTotal;
      progress.value = p.bytesRead;
      set('ov-records', `counting… ${Math.floor((100 * p.bytesRead) / Math.max(1, p.bytesTotal))}%`);
    },
    done: (r) => {
      progress.hidden = true;
      state.damages = r.corrupt;
      set('ov-records', count(r.records));
      set('ov-verified-seqs', r.firstSeq === null ? 'none' : `${count(r.firstSeq)}..${count(r.lastSeq)}`);
      set('ov-verified-bytes', `${bytes(r.bytes)} (${count(r.bytes)} bytes)`);
      const status = r.damaged > 0 ? 'damaged' : r.tornTail !== null ? 'torn-tail' : 'ok';
      verdict.className = `badge ${status}`;
      verdict.textContent = status === 'ok' ? 'ok' : status === 'torn-tail' ? 'torn tail' : `DAMAGED (${count(r.damaged)} line${r.damaged === 1 ? '' : 's'})`;
      verdict.dataset.status = status;
      $('ov-verified').hidden = false;
      const notes = $('ov-notes');
      notes.replaceChildren();
      if (r.tornTail !== null) {
        notes.append(el('li', {}, `torn tail: ${count(r.tornTail.bytes)} bytes at offset ${count(r.tornTail.offset)}: normal after a crash; the next writer, or journal verify --fix, saves and cuts it`));
      }
      for (const d of r.corrupt) {
        notes.append(el('li', { class: 'damage' },
          `damaged line ${count(d.line)}, offset ${count(d.offset)}: ${d.reason} `,
          el('a', { href: `#records/damage=${d.offset}` }, 'show its place')));
      }
      if (r.damaged > r.corrupt.length) notes.append(el('li', {}, `… and ${count(r.damaged - r.corrupt.length)} more damaged lines: journal verify lists them all`));
      if (r.damaged > 0) notes.append(el('li', {}, 'journal repair rewrites the journal without them, keeping a .broken copy'));
      bus.dispatchEvent(new CustomEvent('verified', { detail: r }));
      state.verifyEnded = true;
      bus.dispatchEvent(new CustomEvent('verify-ended'));
      performance.mark('verified');
    },
    failure: (message) => {
      progress.hidden = true;
      verdict.className = 'badge damaged';
      verdict.textContent = 'could not check';
      set('ov-records', message);
      state.verifyEnded = true;
      bus.dispatchEvent(new CustomEvent('verify-ended'));
    },
  });

  let appended = 0;
  bus.addEventListener('tail', (e) => {
    appended = e.detail.lastSeq - (o.last?.seq ?? 0);
    set('ov-live', appended > 0 ? `${count(appended)} seqs assigned since the page opened; the last is ${count(e.detail.lastSeq)}` : 'nothing appended since the page opened');
  });
}
