// Redis from the system's redis-server, started here on a loopback port with an append-only file
// fsynced before every reply (appendfsync always) and no snapshots: Redis's most durable setting.
// Records are XADDed to one stream. Skipped, with a note, where redis-server is not installed.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { peer } from './peers.mjs';

const KEY = 'events';
const CLIENTS = 256;

async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

async function startServer(dir) {
  const port = await freePort();
  const server = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${log}`)), 10_000);
    const onData = (d) => {
      log += d;
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${log}`));
    });
  });
  await ready;
  server.removeAllListeners('exit');
  return { server, port };
}

/** Resolves once Redis is rewriting no append-only file, neither running nor scheduled. */
async function rewriteIdle(c) {
  for (;;) {
    const info = await c.sendCommand(['INFO', 'persistence']);
    if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts redis-server in `dir` and connects the clients. Returns { stores, stop } or, where
 * redis-server is missing, { note } saying why Redis was left out.
 */
export async function startRedis(dir) {
  if (spawnSync('redis-server', ['--version']).error) {
    return { note: 'Redis was not measured: redis-server is not installed on this machine (Debian: `apt-get install redis-server`).' };
  }
  const { server, port } = await startServer(dir);
  const { createClient } = peer('redis');
  const clients = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const c = createClient({ socket: { host: '127.0.0.1', port } });
      c.on('error', (err) => console.error(`redis client: ${err.message}`));
      await c.connect();
      clients.push(c);
    }
  } catch (err) {
    server.kill();
    throw err;
  }
  const [first] = clients;
  const version = (await first.sendCommand(['INFO', 'server'])).match(/redis_version:(\S+)/)?.[1] ?? 'unknown';
  const xadd = (c, v) => c.sendCommand(['XADD', KEY, '*', 'data', JSON.stringify(v)]);

  const open = (spread) => async () => {
    let k = 0;
    return {
      append: spread ? (v) => xadd(clients[k++ % CLIENTS], v) : (v) => xadd(first, v),
      appendMany: (vs) => {
        const m = first.multi();
        for (const v of vs) m.addCommand(['XADD', KEY, '*', 'data', JSON.stringify(v)]);
        return m.exec();
      },
      stored: async () => Number(await first.sendCommand(['XLEN', KEY])),
      // Each task starts from an empty dataset and a freshly rewritten, small append-only file.
      close: async () => {
        await rewriteIdle(first);
        await first.sendCommand(['FLUSHALL']);
        // An automatic rewrite may start at any moment, maybe of the data before FLUSHALL: then
        // ours runs after it.
        for (;;) {
          try {
            await first.sendCommand(['BGREWRITEAOF']);
            break;
          } catch (err) {
            if (!/already in progress/.test(err.message)) throw err;
            await rewriteIdle(first);
          }
        }
        await rewriteIdle(first);
      },
    };
  };

  return {
    version,
    stores: [
      {
        id: 'redis', peer: 'redis', name: 'Redis', mode: 'durable',
        detail: { one: 'XADD', concurrent: `XADD from ${CLIENTS} connections`, batch: 'MULTI of 1,000 XADD' },
        open: open(true),
      },
      {
        id: 'redis-pipelined', peer: 'redis', name: 'Redis', mode: 'durable',
        detail: { concurrent: '256 XADD pipelined on 1 connection' },
        open: open(false),
      },
    ],
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      const exited = once(server, 'exit');
      server.kill();
      await exited;
    },
  };
}
