// Starts nats-server with JetStream for the tests and benchmarks of shipping: one server, or a
// JetStream cluster, on free loopback ports, each with its store in a directory of the caller's.
// Nodes can be killed and restarted on the same ports and store. Needs `nats-server` on the PATH
// (Debian's package; .ci/run installs it).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** A TCP port nobody listens on right now, on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The version nats-server reports, or null when it is not installed. */
export function natsServerVersion() {
  try {
    return execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

class Node {
  constructor(args, logFile, port) {
    this.args = args;
    this.logFile = logFile;
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.proc = null;
  }

  /** Starts the process and resolves once it accepts clients. */
  async start() {
    const log = fs.openSync(this.logFile, 'a');
    this.proc = spawn('nats-server', this.args, { stdio: ['ignore', 'ignore', log] });
    fs.closeSync(log);
    const proc = this.proc;
    const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    const t0 = Date.now();
    for (;;) {
      const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 20))]);
      if (early !== null) throw new Error(`nats-server exited at start (${JSON.stringify(early)}); log: ${this.logFile}\n${tail(this.logFile)}`);
      if (await accepts(this.port)) return;
      if (Date.now() - t0 > 15_000) throw new Error(`nats-server did not listen on ${this.port} within 15 s; log: ${this.logFile}`);
    }
  }

  /** Stops the process: SIGTERM shuts it down cleanly, SIGKILL as a crash. */
  async stop(signal = 'SIGTERM') {
    if (this.proc === null || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(signal);
    await this.exited;
    this.proc = null;
  }

  async restart() {
    await this.stop();
    await this.start();
  }
}

function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function tail(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

/** One JetStream server, on `port` or a free one, its store in `dir`. */
export async function startServer(dir, port) {
  fs.mkdirSync(dir, { recursive: true });
  port ??= await freePort();
  const node = new Node(['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(dir, 'store'), '-n', `single-${port}`], path.join(dir, 'nats-server.log'), port);
  await node.start();
  return node;
}

/**
 * A JetStream cluster of `size` nodes on loopback, stores under `dir`. Resolves once the cluster
 * has elected its metadata leader (a JetStream API request succeeds), so streams can be created.
 */
export async function startCluster(dir, size = 3) {
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), cluster: await freePort() });
  const routes = ports.map((p) => `nats://127.0.0.1:${p.cluster}`).join(',');
  const nodes = ports.map((p, i) => {
    const d = path.join(dir, `n${i + 1}`);
    fs.mkdirSync(d, { recursive: true });
    return new Node([
      '-js', '-a', '127.0.0.1', '-p', String(p.client), '-sd', path.join(d, 'store'), '-n', `n${i + 1}`,
      '--cluster_name', 'journal-test', '--cluster', `nats://127.0.0.1:${p.cluster}`, '--routes', routes,
    ], path.join(d, 'nats-server.log'), p.client);
  });
  await Promise.all(nodes.map((n) => n.start()));
  const cluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    /** The node named `name` (n1, n2 ...), as the cluster reports stream leaders. */
    node: (name) => nodes[Number(name.slice(1)) - 1],
    stop: async (signal) => {
      await Promise.all(nodes.map((n) => n.stop(signal)));
    },
  };
  await waitForJetStream(cluster.urls);
  return cluster;
}

/** Resolves once a JetStream API request succeeds through one of `urls`. */
export async function waitForJetStream(urls, timeoutMs = 30_000) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: urls, maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const t0 = Date.now();
    for (;;) {
      try {
        await jsm.getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() - t0 > timeoutMs) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await nc.close();
  }
}
