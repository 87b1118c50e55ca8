/**
 * The package's pino entry, `jsonl-journal/pino`: a destination for pino that stores each line pino
 * writes as one record (journalDestination), and, as the default export, the same as a pino
 * transport target. Like src/nats/, a user of the package entry only.
 */
export { journalDestination, type FlushCallback, type JournalDestination, type JournalDestinationOptions } from './destination.js';
export { journalTransport as default, type JournalTransportOptions } from './transport.js';
