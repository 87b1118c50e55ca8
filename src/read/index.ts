/**
 * The package's read-only entry, `jsonl-journal/read`: replay, follow, verify and inspect, without
 * the writer, compaction or consumers. Its exports are the main entry's own objects.
 */
export { readJournal, JournalReader, type DataMode, type JournalRecord, type ReadOptions } from './reader.js';
export { rawJson, RawJson } from '../format/json.js';
export { follow, Follower, type FollowOptions } from './follow.js';
export { verify, type VerifyOptions, type VerifyReport } from './verify.js';
export { journalInfo, type JournalInfo } from './info.js';
export { createFollowStream, createReadStream, type StreamOptions } from './streams.js';
export { JournalError, ErrorCode, isJournalError } from '../errors.js';
export type { Header } from '../format/header.js';
export type { Damage, TornTail } from '../scan/batches.js';
