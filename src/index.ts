export {
  Journal, type AppendManyOptions, type AppendOptions, type AppendReceipt, type Durability, type JournalOptions, type KeptRecord, type RecoveredTail,
} from './write/journal.js';
export { readJournal, JournalReader, type DataMode, type JournalRecord, type ReadOptions } from './read/reader.js';
export { rawJson, RawJson } from './format/json.js';
export { follow, Follower, type FollowOptions } from './read/follow.js';
export { verify, type VerifyOptions, type VerifyReport } from './read/verify.js';
export { journalInfo, type JournalInfo } from './read/info.js';
export { JournalError, ErrorCode, isJournalError } from './errors.js';
export type { Header } from './format/header.js';
export type { Damage, TornTail } from './scan/batches.js';
export { compact, isTombstone, type CompactConsumerReport, type CompactOptions, type CompactProgress, type CompactResult } from './compact/compact.js';
export { repair, type RepairResult } from './compact/repair.js';
export { truncate, type TruncateResult } from './compact/truncate.js';
export { Consumer, type ConsumerOptions } from './consume/consumer.js';
export { ConsumerGroup, type GroupOptions, type GroupRecordsOptions } from './consume/group.js';
export { listConsumers, consumersFloor, type ConsumerInfo, type ConsumerPosition } from './consume/list.js';
export type { DeleteResult, ResetOptions, ResetResult } from './consume/manage.js';
export type { SeekTarget } from './consume/targets.js';
