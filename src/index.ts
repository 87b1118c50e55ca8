/**
 * The package's main entry, `jsonl-journal`: the journal's whole public API (docs/api.md). The
 * NATS bridge and the pino destination have entries of their own.
 */
export {
  Journal, type AppendManyOptions, type AppendOptions, type AppendReceipt, type Durability, type JournalOptions, type KeptRecord, type RecoveredTail,
} from './write/journal.js';
export type { WriteStreamOptions } from './write/stream.js';
// Everything a reader needs; also published alone, as jsonl-journal/read.
export * from './read/index.js';
export { compact, isTombstone, type CompactConsumerReport, type CompactOptions, type CompactProgress, type CompactResult } from './compact/compact.js';
export { repair, type RepairResult } from './compact/repair.js';
export { truncate, type TruncateResult } from './compact/truncate.js';
export { Consumer, type ConsumerOptions } from './consume/consumer.js';
export { ConsumerGroup, type GroupOptions, type GroupRecordsOptions } from './consume/group.js';
export { listConsumers, consumersFloor, type ConsumerInfo, type ConsumerPosition } from './consume/list.js';
export type { DeleteResult, ResetOptions, ResetResult } from './consume/manage.js';
export type { SeekTarget } from './consume/targets.js';
