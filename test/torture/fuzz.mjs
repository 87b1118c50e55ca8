// Fuzzing the reader: property tests (fast-check) over random journals, written by the real writer,
// with random damage: truncation, flipped bits, inserted and deleted bytes (newlines, NULs and
// high bytes among them), duplicated lines, CRLF line ends, invalid UTF-8, overlong lines, runs of
// zeros, and damage to the header.
//
// Journals come in three kinds: format version 2 closed cleanly (it ends with a seal), version 2 as
// a crash right after the last batch's sync leaves it (no seal), and version 1.
//
// For every damaged file, verify() and readJournal() (both 'throw' and 'skip') must:
//   - fail with nothing but a JournalError, and a damaged header always with one;
//   - return only records that were written, unchanged, in rising seq order;
//   - agree with a plain reference reader, written from docs/format.md section 5 over the whole
//     file in memory: the same records, the same damaged lines, the same torn tail;
//   - and agree with what was done to the file: a cut file reads back as exactly the batches before
//     the cut, with no damage reported; damage before an intact later batch, or anywhere before a
//     seal, is reported; intact batches before the damage are always returned.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { Journal, JournalError, readJournal, verify } from '../../dist/index.js';
import { encodeHeader, newHeader } from '../../dist/format/header.js';

const LF = 0x0a;
/** Small enough that overlong lines are cheap to make; far above every line the fuzzer writes. */
const MAX_LINE = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// The reference reader: docs/format.md sections 1, 3, 4 and 5, with no streaming and no shortcuts.

const COMMIT_TAIL = /,"commit":(0|[1-9][0-9]*),"synced":(0|[1-9][0-9]*)}$/;
const isSeq = (v) => Number.isSafeInteger(v) && v > 0;
const isCount = (v) => Number.isSafeInteger(v) && v >= 0;

/** The offset a seal line names (format version 2), or null if the line is not an intact seal. */
function decodeSeal(line) {
  if (line.length < 11 || line[8] !== 0x20 || !/^[0-9a-f]{8}$/.test(line.subarray(0, 8).toString('latin1'))) return null;
  const json = line.subarray(9);
  if (crc32(json) !== parseInt(line.subarray(0, 8).toString('latin1'), 16)) return null;
  const m = /^\{"seal":(0|[1-9][0-9]{0,15})\}$/.exec(json.toString('latin1'));
  return m === null ? null : Number(m[1]);
}

/** Whether a damaged line is plain JSON with no frame at all: a line another tool appended. */
function unframedJson(line) {
  if (line.length > MAX_LINE) return false;
  if (line.length >= 9 && line[8] === 0x20 && /^[0-9a-f]{8}$/.test(line.subarray(0, 8).toString('latin1'))) return false;
  try {
    JSON.parse(line.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** The seal line for offset `at`, as a writer writes it. */
const sealLine = (at) => {
  const json = Buffer.from(`{"seal":${at}}`);
  return Buffer.concat([Buffer.from(`${crc32(json).toString(16).padStart(8, '0')} `), json, Buffer.from([LF])]);
};

/**
 * format.md §5, the end of a file: does it end with a seal a writer wrote, though it did not read
 * as one? Returns its offset and whether it is damaged, or null.
 */
function endSeal(buf) {
  for (let at = Math.max(0, buf.length - 40); at < buf.length; at++) {
    const want = sealLine(at);
    if (at + want.length !== buf.length || at === 0) continue;
    const diffs = [];
    for (let i = 0; i < want.length; i++) if (buf[at + i] !== want[i]) diffs.push(at + i);
    const lineEnd = buf[at - 1] === LF;
    if (diffs.length === 0) return { at, damaged: false, brokenLineEnd: !lineEnd };
    if (diffs.length === 1 && lineEnd) {
      // A crash garbles whole 512-byte sectors: one changed byte among more than 4 seal bytes of its
      // sector is not one; among 4 or fewer, the others may match by chance.
      const sector = Math.floor(diffs[0] / 512) * 512;
      if (Math.min(buf.length, sector + 512) - Math.max(at, sector) > 4) return { at, damaged: true, brokenLineEnd: false };
    }
  }
  return null;
}

/** A record line's envelope, or null if the line is damaged. */
function decode(line) {
  if (line.length < 11 || line.length > MAX_LINE || line[8] !== 0x20) return null;
  const hex = line.subarray(0, 8).toString('latin1');
  if (!/^[0-9a-f]{8}$/.test(hex)) return null;
  const json = line.subarray(9);
  if (crc32(json) !== parseInt(hex, 16)) return null;
  let env;
  try {
    env = JSON.parse(json.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof env !== 'object' || env === null || !('data' in env) || !isSeq(env.seq) || !isCount(env.ts)) return null;
  const tail = COMMIT_TAIL.exec(json.toString('latin1'));
  if (tail === null) return { seq: env.seq, ts: env.ts, data: env.data, commit: undefined };
  if (env.commit !== Number(tail[1]) || env.synced !== Number(tail[2]) || !isSeq(env.commit)) return null;
  return { seq: env.seq, ts: env.ts, data: env.data, commit: env.commit, synced: env.synced };
}

/** What a reader must make of `buf`, whose header line ends at headerEnd; `seals` in format version 2. */
export function reference(buf, headerEnd, seals) {
  const records = [];
  const corrupt = [];
  let committedEnd = headerEnd;
  let lastSeq = 0;
  let pending = [];
  let suspect = null;
  /** Where the committed batches ended when the first damage that turned out to be corruption was found. */
  let cleanEnd = null;
  // `at`: what a commit mark's synced must pass to vouch for the damage (see format.md §5).
  const startSuspect = (offset, end, at = offset) => {
    suspect = { at, damage: [offset], held: pending, heldLast: pending.length > 0 ? pending.at(-1).seq : lastSeq, committedEnd, damageEnd: end, allForeign: true };
    pending = [];
  };
  /** The damage was durable: corruption; the intact records held since are committed, up to `end`. */
  const confirm = (end) => {
    cleanEnd ??= suspect.committedEnd;
    corrupt.push(...suspect.damage);
    records.push(...suspect.held);
    committedEnd = end;
    lastSeq = suspect.heldLast;
    suspect = null;
  };
  const vouch = (synced, start, lf) => {
    if (Math.min(synced, start) > suspect.at) confirm(lf + 1);
  };
  for (let start = headerEnd; ; ) {
    const lf = buf.indexOf(LF, start);
    if (lf < 0) break;
    const line = buf.subarray(start, lf);
    const seal = seals ? decodeSeal(line) : null;
    const env = seal === null ? decode(line) : null;
    const rec = env && { seq: env.seq, ts: env.ts, data: env.data, offset: start };
    if (suspect !== null) {
      if (seal !== null) {
        if (seal === start) vouch(start, start, lf);
        else {
          // An intact seal that moved: bytes before it were cut out or added, which no crash does.
          suspect.damage.push(start);
          confirm(lf + 1);
        }
      } else if (env === null || env.seq <= suspect.heldLast) {
        suspect.damage.push(start);
        suspect.damageEnd = lf + 1;
        if (env !== null || !unframedJson(line)) suspect.allForeign = false;
      } else {
        suspect.held.push(rec);
        suspect.heldLast = env.seq;
        if (env.commit !== undefined) vouch(env.synced, start, lf);
      }
    } else if (seal !== null) {
      if (seal !== start) {
        startSuspect(start, lf + 1, committedEnd);
        confirm(lf + 1);
      } else if (pending.length > 0) {
        // A batch without its commit mark before a seal.
        startSuspect(start, lf + 1, committedEnd);
        vouch(start, start, lf);
      } else {
        committedEnd = lf + 1;
      }
    } else if (env === null || env.seq <= (pending.length > 0 ? pending.at(-1).seq : lastSeq)) {
      startSuspect(start, lf + 1);
      if (env !== null || !unframedJson(line)) suspect.allForeign = false;
    } else {
      pending.push(rec);
      if (env.commit !== undefined) {
        if (env.commit !== pending.length) {
          // A count that does not match is a problem from its batch's start on; its own intact
          // commit mark may vouch for it.
          startSuspect(start, lf + 1, committedEnd);
          vouch(env.synced, start, lf);
        } else {
          records.push(...pending);
          pending = [];
          committedEnd = lf + 1;
          lastSeq = env.seq;
        }
      }
    }
    start = lf + 1;
  }
  const end = seals && buf.length > committedEnd ? endSeal(buf) : null;
  if (end !== null && end.at >= committedEnd && (suspect !== null || pending.length > 0 || end.damaged || end.brokenLineEnd)) {
    if (suspect === null) startSuspect(pending.length > 0 ? committedEnd : end.at, buf.length, committedEnd);
    else if (end.damaged && !suspect.damage.some((o) => o >= end.at)) suspect.damage.push(end.at);
    confirm(buf.length);
  }
  const foreign = suspect !== null && pending.length === 0 && suspect.held.length === 0 && suspect.damageEnd === buf.length && suspect.allForeign
    ? suspect.damage.length
    : 0;
  return { records, corrupt, cleanEnd, tornTail: buf.length > committedEnd ? { offset: committedEnd, bytes: buf.length - committedEnd, foreign } : null };
}

// ---------------------------------------------------------------------------------------------
// Journals and damage.

const value = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });
// Built by repetition: generating tens of kilobytes character by character costs more than the test.
// Lines stay below MAX_LINE bytes: longer ones are damage by definition.
const bigValue = fc.tuple(fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }), fc.integer({ min: 20_000, max: 60_000 }))
  .map(([unit, size]) => unit.repeat(Math.ceil(size / (Buffer.byteLength(JSON.stringify(unit)) - 2))));
/** Batches of 1 to 5 values, each written by one appendMany, so each is one batch in the file. */
const batches = fc.oneof(
  { weight: 9, arbitrary: fc.array(fc.array(value, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 12 }) },
  // Now and then a journal of over a megabyte, so lines cross the readers' chunk boundaries.
  { weight: 1, arbitrary: fc.array(fc.array(bigValue, { minLength: 1, maxLength: 3 }), { minLength: 12, maxLength: 20 }) },
);

const at = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const nasty = fc.uint8Array({ minLength: 1, maxLength: 40 }).chain((bytes) =>
  fc.array(fc.constantFrom(LF, 0x00, 0xff, 0x0d, 0x7b, 0x7d), { maxLength: 4 }).map((extra) => Buffer.concat([Buffer.from(bytes), Buffer.from(extra)])));
const edit = fc.oneof(
  fc.record({ kind: fc.constant('truncate'), at }),
  fc.record({ kind: fc.constant('flip'), at, mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('insert'), at, bytes: nasty }),
  fc.record({ kind: fc.constant('delete'), at, len: fc.integer({ min: 1, max: 400 }) }),
  fc.record({ kind: fc.constant('duplicate'), at }),
  fc.record({ kind: fc.constant('crlf'), at }),
  fc.record({ kind: fc.constant('utf8'), at, bytes: fc.constantFrom([0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80]) }),
  fc.record({ kind: fc.constant('overlong'), at }),
  fc.record({ kind: fc.constant('zeros'), at, len: fc.integer({ min: 1, max: 1024 }) }),
);
/** Mostly after the header, sometimes in it. */
const damage = fc.record({ edit, where: fc.oneof({ weight: 19, arbitrary: fc.constant('body') }, { weight: 1, arbitrary: fc.constant('header') }) });

/** Line starts of buf (the header's included). */
function lineStarts(buf) {
  const starts = [0];
  for (let i = buf.indexOf(LF); i >= 0 && i + 1 < buf.length; i = buf.indexOf(LF, i + 1)) starts.push(i + 1);
  return starts;
}

/**
 * Applies one edit; returns the damaged bytes and the edit as a replacement: bytes [a, b) of the
 * original became `r`.
 */
function apply(orig, headerEnd, { edit: e, where }) {
  const lo = where === 'header' ? 0 : headerEnd;
  const hi = where === 'header' ? headerEnd : orig.length;
  const pos = lo + Math.floor(e.at * (hi - lo + (where === 'header' ? 0 : 1)));
  const starts = lineStarts(orig).filter((s) => s >= lo && s < hi);
  const line = starts.length > 0 ? starts[Math.floor(e.at * starts.length)] : lo;
  const lineEnd = orig.indexOf(LF, line) + 1 || orig.length;
  switch (e.kind) {
    case 'truncate': return { a: pos, b: orig.length, r: Buffer.alloc(0) };
    case 'flip': {
      const p = Math.min(pos, orig.length - 1);
      return { a: p, b: p + 1, r: Buffer.from([orig[p] ^ e.mask]) };
    }
    case 'insert': return { a: pos, b: pos, r: e.bytes };
    case 'delete': return { a: Math.min(pos, orig.length - 1), b: Math.min(orig.length, pos + e.len), r: Buffer.alloc(0) };
    case 'duplicate': return { a: lineEnd, b: lineEnd, r: orig.subarray(line, lineEnd) };
    case 'crlf': return { a: lineEnd - 1, b: lineEnd, r: Buffer.from('\r\n') };
    case 'utf8': {
      const p = Math.min(pos, orig.length - 1);
      const r = Buffer.from(e.bytes);
      return { a: p, b: Math.min(orig.length, p + r.length), r };
    }
    case 'overlong': return { a: line, b: line, r: Buffer.concat([Buffer.alloc(MAX_LINE + 1000, 0x61), Buffer.from([LF])]) };
    case 'zeros': {
      const p = Math.min(pos, orig.length - 1);
      const b = Math.min(orig.length, p + e.len);
      return { a: p, b, r: Buffer.alloc(b - p) };
    }
  }
  throw new Error(`unknown edit ${e.kind}`);
}

// ---------------------------------------------------------------------------------------------
// The property.

async function readAll(file, corrupt) {
  const out = [];
  try {
    for await (const r of readJournal(file, { corrupt, maxLineBytes: MAX_LINE })) out.push(r);
    return { records: out, error: null };
  } catch (err) {
    return { records: out, error: err };
  }
}

const summary = (r) => ({ seq: r.seq, ts: r.ts, data: JSON.stringify(r.data), offset: r.offset });
const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);

/** Checks one damaged file; returns a list of what is wrong (empty if nothing). */
async function checkCase(file, orig, headerEnd, batchSpans, originals, sealAt, d, stats) {
  const { a, b, r } = apply(orig, headerEnd, d);
  const bytes = Buffer.concat([orig.subarray(0, a), r, orig.subarray(b)]);
  fs.writeFileSync(file, bytes);
  const problems = [];
  const v = await verify(file, { maxLineBytes: MAX_LINE }).then((rep) => ({ rep, error: null }), (error) => ({ rep: null, error }));
  const skip = await readAll(file, 'skip');
  const strict = await readAll(file, 'throw');
  for (const [name, err] of [['verify', v.error], ['skip', skip.error], ['throw', strict.error]]) {
    if (err !== null && !(err instanceof JournalError)) {
      stats.untyped++;
      problems.push(`${name} threw ${err?.stack ?? err}`);
    }
  }
  // Whatever comes back was written, unchanged, in rising order.
  for (const recs of [skip.records, strict.records]) {
    let prev = 0;
    for (const rec of recs) {
      const o = originals.get(rec.seq);
      if (o === undefined || rec.ts !== o.ts || JSON.stringify(rec.data) !== o.data) {
        stats.bad++;
        problems.push(`returned seq ${rec.seq}, which is not a record that was written`);
      }
      if (rec.seq <= prev) problems.push(`seq ${rec.seq} after ${prev}`);
      prev = rec.seq;
    }
  }
  if (a < headerEnd && !(b === a && a === headerEnd)) {
    for (const [name, err] of [['verify', v.error], ['skip', skip.error], ['throw', strict.error]]) {
      if (!['CORRUPT', 'NOT_A_JOURNAL', 'UNSUPPORTED_VERSION'].includes(err?.code)) problems.push(`a damaged header: ${name} gave ${err?.code ?? 'no error'}`);
    }
    return problems;
  }
  for (const [name, err] of [['verify', v.error], ['skip', skip.error]]) if (err !== null) problems.push(`${name} failed: ${err.code} ${err.message}`);
  if (problems.length > 0) return problems;

  // The reference reader's view of the same bytes.
  const want = reference(bytes, headerEnd, isV2(orig));
  if (v.rep.records !== want.records.length) problems.push(`verify counts ${v.rep.records} records, the reference ${want.records.length}`);
  if (!same(v.rep.corrupt.map((x) => x.offset), want.corrupt)) problems.push(`verify reports damage at ${JSON.stringify(v.rep.corrupt.map((x) => x.offset))}, the reference at ${JSON.stringify(want.corrupt)}`);
  if (!same(v.rep.tornTail, want.tornTail)) problems.push(`verify's torn tail ${JSON.stringify(v.rep.tornTail)}, the reference's ${JSON.stringify(want.tornTail)}`);
  if (!same(skip.records.map(summary), want.records.map(summary))) problems.push(`'skip' returns ${skip.records.length} records, the reference ${want.records.length}`);
  const firstDamage = want.corrupt[0];
  if (firstDamage === undefined) {
    if (strict.error !== null) problems.push(`'throw' failed without damage: ${strict.error.code} ${strict.error.message}`);
    if (!same(strict.records.map(summary), want.records.map(summary))) problems.push(`'throw' returns ${strict.records.length} records, the reference ${want.records.length}`);
  } else {
    if (strict.error?.code !== 'CORRUPT' || strict.error.offset !== firstDamage) problems.push(`'throw' ended with ${strict.error?.code} at ${strict.error?.offset}, not CORRUPT at ${firstDamage}`);
    // 'throw' hands out the batches committed before the damaged one, none of the damaged batch.
    const before = want.records.filter((x) => x.offset < want.cleanEnd).map(summary);
    if (!same(strict.records.map(summary), before)) problems.push(`'throw' returned ${strict.records.length} records before the damage, not ${before.length}`);
  }

  // And what was done to the file: batches wholly before the edit always come back.
  const intactBefore = batchSpans.filter((s) => s.end <= a);
  const backSeqs = new Set(skip.records.map((x) => x.seq));
  for (const s of intactBefore) for (const seq of s.seqs) if (!backSeqs.has(seq)) problems.push(`seq ${seq}, in an intact batch before the damage, is missing`);
  if (d.edit.kind === 'truncate') {
    stats.truncations++;
    if (want.corrupt.length > 0) problems.push('a cut file reported damage');
    const prefix = intactBefore.flatMap((s) => s.seqs);
    if (!same(skip.records.map((x) => x.seq), prefix)) problems.push(`a cut at ${a} reads back seqs ${skip.records.map((x) => x.seq)}, not the batches before it`);
  } else {
    // A batch starting after the first damaged byte whose commit line is intact vouches for the
    // damage (its `synced` is its own start): it must be reported, unless whole batches were
    // removed cleanly, which no format without per-batch sequence numbers can see.
    const lfBefore = (x) => (x === b ? (r.length > 0 ? r[r.length - 1] === LF : a === 0 || orig[a - 1] === LF) : true);
    const vouched = batchSpans.some((s) => s.start > a && (s.commit > b || (s.commit === b && lfBefore(s.commit))));
    const cleanCut = r.length === 0 && batchSpans.some((s) => s.start === a) && batchSpans.some((s) => s.end === b);
    if (vouched && !cleanCut && want.corrupt.length === 0 && !bytes.equals(orig)) problems.push(`damage at ${a} before an intact batch was not reported`);
    // Before a seal, any change at all is: the seal vouches for every byte before it, and moves
    // when bytes are cut out or added.
    if (sealAt !== undefined && b < sealAt && want.corrupt.length === 0 && !bytes.equals(orig)) problems.push(`damage at ${a}, before the seal at ${sealAt}, was not reported`);
  }
  return problems;
}

const isV2 = (buf) => buf.subarray(0, buf.indexOf(LF)).includes('"version":2');

/**
 * Writes a journal of the given batches with the real writer; returns its bytes and layout, and
 * where its seal starts (if it kept one). `kind`: 'sealed' (format version 2, closed), 'unsealed'
 * (its seal cut, as a crash right after the last batch's sync leaves it), 'v1' (format version 1,
 * which has no seals).
 */
async function makeJournal(file, groups, kind) {
  fs.rmSync(file, { force: true });
  if (kind === 'v1') fs.writeFileSync(file, encodeHeader(newHeader({ version: 1 })));
  const j = await Journal.open(file);
  for (const g of groups) await j.appendMany(g);
  await j.close();
  let orig = fs.readFileSync(file);
  let sealAt;
  if (kind !== 'v1') {
    sealAt = orig.lastIndexOf(LF, orig.length - 2) + 1;
    if (!orig.subarray(sealAt).equals(sealLine(sealAt))) throw new Error('a closed journal does not end with its seal');
    if (kind === 'unsealed') {
      orig = orig.subarray(0, sealAt);
      sealAt = undefined;
    }
  }
  const headerEnd = orig.indexOf(LF) + 1;
  const originals = new Map();
  const batchSpans = [];
  let span = null;
  for (const rec of reference(orig, headerEnd, kind !== 'v1').records) {
    originals.set(rec.seq, { ts: rec.ts, data: JSON.stringify(rec.data) });
    span ??= { start: rec.offset, seqs: [] };
    span.seqs.push(rec.seq);
    const end = orig.indexOf(LF, rec.offset) + 1;
    if (span.seqs.length === groups[batchSpans.length].length) {
      batchSpans.push({ ...span, end, commit: rec.offset });
      span = null;
    }
  }
  return { orig, headerEnd, originals, batchSpans, sealAt };
}

function scratchBase() {
  return fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
}

/**
 * Runs `journals` random journals with 1 to 8 damages each (each damage is one case). Returns the
 * counts; a property failure is reported with fast-check's seed and counterexample.
 */
export async function run({ seed, journals = 200, seconds = Infinity }) {
  const stats = { suite: 'reader fuzz', states: 0, acked: 0, lost: 0, corrupt: 0, failures: [], untyped: 0, bad: 0, truncations: 0 };
  const dir = fs.mkdtempSync(path.join(scratchBase(), 'jj-fuzz-'));
  const file = path.join(dir, 'j.jsonl');
  const damaged = path.join(dir, 'd.jsonl');
  const deadline = Date.now() + seconds * 1000;
  try {
    await fc.assert(
      fc.asyncProperty(batches, fc.constantFrom('sealed', 'sealed', 'unsealed', 'v1'), fc.array(damage, { minLength: 1, maxLength: 8 }), async (groups, kind, damages) => {
        if (Date.now() > deadline) return;
        const j = await makeJournal(file, groups, kind);
        const clean = reference(j.orig, j.headerEnd, kind !== 'v1');
        if (clean.corrupt.length > 0 || clean.tornTail !== null || clean.records.length !== groups.flat().length) {
          throw new Error('the reference reader does not read the undamaged journal back whole');
        }
        stats.acked += clean.records.length;
        for (const d of damages) {
          stats.states++;
          const problems = await checkCase(damaged, j.orig, j.headerEnd, j.batchSpans, j.originals, j.sealAt, d, stats);
          if (problems.length > 0) throw new Error(`${d.edit.kind} (${JSON.stringify({ ...d.edit, bytes: undefined })}, ${d.where}): ${problems.slice(0, 3).join('; ')}`);
        }
      }),
      { seed, numRuns: journals, endOnFailure: true },
    );
  } catch (err) {
    // fast-check names the seed and the counterexample; the cause says what went wrong with it.
    const why = err.cause instanceof Error ? err.cause.message : '';
    stats.failures.push(`${why}\n${err.message.split('\n').filter((l) => !l.startsWith('Hint')).join('\n').slice(0, 4000)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  stats.corrupt = stats.bad;
  return stats;
}
