export { Journal, type AppendReceipt, type Durability, type JournalOptions, type KeptRecord } from './journal.js';
export { readJournal, JournalReader, type JournalRecord, type ReadOptions } from './reader.js';
export { verify, type VerifyOptions, type VerifyReport } from './verify.js';
export { JournalError, ErrorCode, isJournalError } from './errors.js';
export type { Header } from './format.js';
export type { Damage, TornTail } from './scan.js';
export { compact, isTombstone, type CompactOptions, type CompactProgress, type CompactResult } from './compact.js';
export { follow, Follower, type FollowOptions } from './follow.js';
export { Consumer, listConsumers, consumersFloor, type ConsumerInfo, type ConsumerPosition } from './consumer.js';
