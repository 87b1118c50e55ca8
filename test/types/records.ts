// Compiled by types.test.ts, never run. Each `@ts-expect-error` line must fail to compile, next to a
// line that differs only in the type at fault and compiles; `Same` checks read types exactly, so
// that data typed `any` would fail them too. The imports are the package's own names, as users write them.
import {
  compact, Consumer, ConsumerGroup, follow, Journal, readJournal, type JournalRecord, type KeptRecord, type ReadOptions,
} from 'jsonl-journal';
import { follow as followReadOnly, readJournal as readOnly } from 'jsonl-journal/read';
import { restore, ship, type RestoreResult, type Shipper } from 'jsonl-journal/nats';

type OrderEvent =
  | { type: 'placed'; orderId: string; total: number }
  | { type: 'shipped'; orderId: string; carrier: string };

type Invoice = { invoiceId: string; amount: number };

/** true only when A and B are the same type. */
type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;

declare const path: string;
declare function bill(rec: JournalRecord<Invoice>): void;

// Appending: a journal takes records of its type only.
const journal = await Journal.open<OrderEvent>(path);
await journal.append({ type: 'placed', orderId: 'o-1', total: 42 });
// @ts-expect-error: 'cancelled' is no OrderEvent
await journal.append({ type: 'cancelled', orderId: 'o-1' });
// @ts-expect-error: a placed order has a total
await journal.append({ type: 'placed', orderId: 'o-1' });
await journal.appendMany([{ type: 'placed', orderId: 'o-2', total: 7 }, { type: 'shipped', orderId: 'o-2', carrier: 'dhl' }]);
// @ts-expect-error: the total is a number
await journal.appendMany([{ type: 'placed', orderId: 'o-2', total: '7' }, { type: 'shipped', orderId: 'o-2', carrier: 'dhl' }]);
await journal.appendRecords([{ seq: 10, ts: 0, data: { type: 'shipped', orderId: 'o-3', carrier: 'ups' } }]);
// @ts-expect-error: an invoice is no OrderEvent
await journal.appendRecords([{ seq: 10, ts: 0, data: { invoiceId: 'i-1', amount: 3 } }]);
const kept: KeptRecord<OrderEvent>[] = [];
for await (const rec of readJournal<OrderEvent>(path)) kept.push(rec);
await journal.appendRecords(kept);
// @ts-expect-error: records read as text are strings
for await (const rec of readJournal(path, { data: 'text' })) kept.push(rec);

// The retention key is given the journal's records.
await Journal.open<OrderEvent>(path, { retention: { maxBytes: 1e9, key: (rec) => rec.data.orderId } });
// @ts-expect-error: an OrderEvent has no customer
await Journal.open<OrderEvent>(path, { retention: { maxBytes: 1e9, key: (rec) => rec.data.customer } });

// Reading: records come back as the type asked for.
for await (const rec of readJournal<OrderEvent>(path, { fromSeq: 2 })) {
  const same: Same<typeof rec.data, OrderEvent> = true;
  if (rec.data.type === 'shipped') rec.data.carrier.toUpperCase();
  // @ts-expect-error: an order event is not an invoice
  bill(rec);
}
for await (const rec of readOnly<OrderEvent>(path, { data: 'bigint' })) {
  const same: Same<typeof rec.data, OrderEvent> = true;
}
for await (const rec of readJournal(path, { data: 'text' })) {
  const same: Same<typeof rec.data, string> = true;
}
// A type asked for with data: 'text' gives way to what that mode hands out.
for await (const rec of readJournal<OrderEvent>(path, { data: 'text' })) {
  const same: Same<typeof rec.data, OrderEvent | string> = true;
}

// Following, and consumers: the same.
for await (const rec of follow<OrderEvent>(path, { fromSeq: 1 })) {
  const same: Same<typeof rec.data, OrderEvent> = true;
}
for await (const rec of followReadOnly(path, { data: 'text', last: 10 })) {
  const same: Same<typeof rec.data, string> = true;
}
const consumer = await Consumer.open<OrderEvent>(path, 'billing');
for await (const rec of consumer.records()) {
  const same: Same<typeof rec.data, OrderEvent> = true;
  // @ts-expect-error: an order event is not an invoice
  bill(rec);
  await consumer.commit(rec.seq);
}
for await (const rec of consumer.records({ data: 'text' })) {
  const same: Same<typeof rec.data, string> = true;
}
const group = await ConsumerGroup.open<OrderEvent>(path, 'shipping');
for await (const rec of group.records()) {
  const same: Same<typeof rec.data, OrderEvent> = true;
  // @ts-expect-error: an order event is not an invoice
  bill(rec);
  group.ack(rec.seq);
}

// Compaction's callbacks are given the journal's records: named, or inferred from the callback.
await compact<OrderEvent>(path, {
  key: (rec) => {
    const same: Same<typeof rec.data, OrderEvent> = true;
    return rec.data.orderId;
  },
  keep: (rec) => {
    const same: Same<typeof rec.data, OrderEvent> = true;
    return rec.data.type !== 'shipped' || rec.data.carrier !== 'none';
  },
});
await compact(path, { keep: (rec: JournalRecord<OrderEvent>) => rec.data.type === 'placed' });
await compact(path, { key: (rec: JournalRecord<OrderEvent>) => rec.data.orderId });
// @ts-expect-error: an OrderEvent has no customer
await compact<OrderEvent>(path, { key: (rec) => rec.data.customer });
// @ts-expect-error: a key is a string
await compact<Invoice>(path, { key: (rec) => rec.data.amount });
// @ts-expect-error: an OrderEvent has no customer
await compact<OrderEvent>(path, { keep: (rec) => rec.data.customer !== undefined });
// @ts-expect-error: keep says yes or no
await compact<Invoice>(path, { keep: (rec) => rec.data.amount });

// Without a type, everything is unknown, as before: any value appends, and data must be narrowed.
const untyped = await Journal.open(path);
await untyped.append(1);
await untyped.append({ anything: ['goes'] });
const asBefore: Journal = journal;
const options: ReadOptions = { data: 'value' };
for await (const rec of readJournal(path, options)) {
  const same: Same<typeof rec.data, unknown> = true;
  const before: JournalRecord = rec;
}
for await (const rec of (await Consumer.open(path, 'audit')).records()) {
  const same: Same<typeof rec.data, unknown> = true;
}
await compact(path, { key: (rec) => (typeof rec.data === 'string' ? rec.data : undefined) });

// The NATS bridge moves each record's JSON text as stored and hands no record data to the caller,
// so it takes no type: a typed journal ships and restores by its path as any other does.
const shipper: Shipper = await ship(path, { server: 'nats://127.0.0.1:4222', stream: 'ORDERS' });
const restored: RestoreResult = await restore(path, { server: 'nats://127.0.0.1:4222', stream: 'ORDERS' });
