export { ship, Shipper, type ShipEvent, type ShipOptions, type ShipStats } from './ship.js';
export { restore, type RestoreEvent, type RestoreOptions, type RestoreProgress, type RestoreResult } from './restore.js';
