// SQLite through better-sqlite3, set up for durability as SQLite's documentation describes it:
// WAL journal with synchronous=FULL, so that a committed transaction survives a power loss.
// better-sqlite3 is synchronous: each commit blocks the event loop for its fsync.
import path from 'node:path';
import { peer } from './peers.mjs';

function openDb(file) {
  const Database = peer('better-sqlite3');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, data TEXT NOT NULL)');
  return db;
}

async function open(dir) {
  const db = openDb(path.join(dir, 'events.db'));
  const insert = db.prepare('INSERT INTO events (ts, data) VALUES (?, ?)');
  const many = db.transaction((vs) => {
    const ts = Date.now();
    for (const v of vs) insert.run(ts, JSON.stringify(v));
  });
  return {
    // Outside a transaction each INSERT commits on its own.
    append: (v) => void insert.run(Date.now(), JSON.stringify(v)),
    appendMany: (vs) => void many(vs),
    stored: () => db.prepare('SELECT count(*) AS n FROM events').get().n,
    close: async () => db.close(),
  };
}

export const stores = [
  {
    id: 'sqlite', peer: 'sqlite', name: 'SQLite', mode: 'durable', sync: true,
    detail: { one: '1 transaction per record', concurrent: '1 transaction per record', batch: '1 transaction per 1,000' },
    open,
  },
];

export const replay = {
  id: 'sqlite', peer: 'sqlite', name: 'SQLite', detail: 'SELECT … ORDER BY seq, iterate, JSON.parse',
  async load(dir, records, make) {
    const db = openDb(path.join(dir, 'events.db'));
    const insert = db.prepare('INSERT INTO events (ts, data) VALUES (?, ?)');
    const many = db.transaction((from, to) => {
      const ts = Date.now();
      for (let i = from; i < to; i++) insert.run(ts, JSON.stringify(make(i)));
    });
    for (let i = 0; i < records; i += 10_000) many(i, Math.min(i + 10_000, records));
    // Reads then come from the database file, not from the write-ahead log.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const select = db.prepare('SELECT seq, ts, data FROM events ORDER BY seq');
    return {
      read() {
        let n = 0;
        for (const row of select.iterate()) {
          const r = { seq: row.seq, ts: row.ts, data: JSON.parse(row.data) };
          n += r.seq > 0 ? 1 : 0;
        }
        return n;
      },
      close: () => db.close(),
    };
  },
};
