// sonic-boom, pino's destination stream: JSON lines with no fsync, the peer of jsonl-journal's
// 'unsafe-nosync' mode. Both of its modes are measured: sync (pino.destination's default: each
// write is a write(2) before write() returns) and async (writes are buffered and flushed in the
// background). An append counts as done once write(2) has taken its bytes, as it does for the journal.
import { once } from 'node:events';
import path from 'node:path';
import { peer } from './peers.mjs';

async function open(dir, sync) {
  const SonicBoom = peer('sonic-boom');
  const s = new SonicBoom({ dest: path.join(dir, 'events.jsonl'), sync });
  if (!sync) await once(s, 'ready');
  let seq = 0;
  const line = (v) => `${JSON.stringify({ seq: ++seq, ts: Date.now(), data: v })}\n`;
  const close = async () => {
    const closed = once(s, 'close');
    s.end();
    await closed;
  };
  if (sync) {
    return {
      append: (v) => void s.write(line(v)),
      appendMany: (vs) => void s.write(vs.map(line).join('')),
      close,
    };
  }
  // Async mode acknowledges nothing per write; its 'write' event reports bytes as write(2) takes
  // them, which tells each caller when its line is through.
  let submitted = 0;
  let written = 0;
  const waiting = [];
  s.on('write', (n) => {
    written += n;
    while (waiting.length > 0 && waiting[0].at <= written) waiting.shift().resolve();
  });
  const put = (text) => {
    submitted += Buffer.byteLength(text);
    const at = submitted;
    const p = new Promise((resolve) => waiting.push({ at, resolve }));
    s.write(text);
    return p;
  };
  return {
    append: (v) => put(line(v)),
    appendMany: (vs) => put(vs.map(line).join('')),
    close,
  };
}

const detail = { one: 'write', concurrent: 'write', batch: '1 write of 1,000 lines' };

export const stores = [
  {
    id: 'sonic-sync', peer: 'sonic', name: 'sonic-boom sync', mode: 'nosync', sync: true, detail, open: (dir) => open(dir, true),
  },
  {
    id: 'sonic-async', peer: 'sonic', name: 'sonic-boom async', mode: 'nosync', detail, open: (dir) => open(dir, false),
  },
];
