/** The package's NATS entry, `jsonl-journal/nats`: ship to and restore from JetStream (docs/api.md). */
export { ship, Shipper, type ShipEvent, type ShipOptions, type ShipStats } from './ship.js';
export { restore, type RestoreEvent, type RestoreOptions, type RestoreProgress, type RestoreResult } from './restore.js';
