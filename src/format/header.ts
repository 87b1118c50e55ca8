/** The header, the first line of every journal (docs/format.md §2). */
import { ErrorCode, JournalError } from '../errors.js';
import { frameError, frameJson, hasFramePrefix, jsonText } from './frame.js';
import { FRAME_PREFIX, isCount, isSeq } from './limits.js';

export const FORMAT_NAME = 'jsonl-journal';
/** The version new journals get. Version 2 adds seals and keeps timestamps non-decreasing (format.md §7). */
export const FORMAT_VERSION = 2;
/** The versions this library reads. */
const READS = [1, 2];

export interface Header {
  format: typeof FORMAT_NAME;
  version: number;
  /** Random identity of the journal; kept by compaction, so a consumer can tell journals apart. */
  id: string;
  /** Creation time of the journal (ms since the epoch); kept by compaction. */
  created: number;
  /** 0 for a journal as created; each compaction writes generation + 1. */
  generation: number;
  /** The highest seq ever assigned when this file was written: seqs are never reused. */
  maxSeq: number;
  /** Records with a lower seq were removed by retention (compaction's beforeSeq); 1 until then. */
  minSeq: number;
}

export function newHeader(fields: Partial<Pick<Header, 'version' | 'id' | 'created' | 'generation' | 'maxSeq' | 'minSeq'>> = {}): Header {
  return {
    format: FORMAT_NAME,
    version: fields.version ?? FORMAT_VERSION,
    id: fields.id ?? crypto.randomUUID(),
    created: fields.created ?? Date.now(),
    generation: fields.generation ?? 0,
    maxSeq: fields.maxSeq ?? 0,
    minSeq: fields.minSeq ?? 1,
  };
}

/** The header line, framed, as bytes. Key order is part of the format. */
export function encodeHeader(h: Header): Buffer {
  return frameJson(JSON.stringify({
    format: h.format, version: h.version, id: h.id, created: h.created, generation: h.generation, maxSeq: h.maxSeq, minSeq: h.minSeq,
  }));
}

/**
 * Decodes the first line of a file. Distinguishes "this is not a journal" (no frame at all) from
 * a damaged header (a frame whose checksum fails), because the first is a wrong path and the second
 * is corruption of a real journal.
 */
export function decodeHeader(line: Uint8Array, path: string): Header {
  const notJournal = (why: string) =>
    new JournalError(ErrorCode.NOT_A_JOURNAL, `${path} is not a jsonl-journal file (${why})`, { path, offset: 0, line: 1 });
  if (line.length < FRAME_PREFIX + 2 || !hasFramePrefix(line, 0, line.length) || line[FRAME_PREFIX] !== 0x7b) {
    throw notJournal(line.length === 0 ? 'empty file' : 'first line is not a journal header');
  }
  if (frameError(line, 0, line.length) !== null) {
    throw new JournalError(ErrorCode.CORRUPT, `${path}: header line is damaged (checksum mismatch)`, { path, offset: 0, line: 1 });
  }
  let h: unknown;
  try {
    h = JSON.parse(jsonText(line, 0, line.length));
  } catch {
    throw notJournal('header is not JSON');
  }
  const o = h as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o.format !== FORMAT_NAME) throw notJournal('no "format":"jsonl-journal" in the first line');
  if (!READS.includes(o.version as number)) {
    throw new JournalError(ErrorCode.UNSUPPORTED_VERSION, `${path}: format version ${String(o.version)} is not supported (this library reads versions ${READS.join(' and ')})`, { path, offset: 0, line: 1 });
  }
  if (typeof o.id !== 'string' || !isCount(o.created) || !isCount(o.generation) || !isCount(o.maxSeq) || !isSeq(o.minSeq)) {
    throw new JournalError(ErrorCode.CORRUPT, `${path}: header fields are missing or malformed`, { path, offset: 0, line: 1 });
  }
  return o as unknown as Header;
}

/**
 * Whether a journal of this version has seals and non-decreasing timestamps (version 2 on). Writers
 * keep a version 1 journal as version 1 writes it, so older readers can still read it.
 */
export function isVersion2(h: Header): boolean {
  return h.version >= 2;
}
