// The stores jsonl-journal is compared with live in their own package, bench/peers, so that their
// native builds stay out of jsonl-journal's install. They are installed there on first use.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from '../lib.mjs';

const DIR = path.join(ROOT, 'bench/peers');
const requirePeer = createRequire(path.join(DIR, 'package.json'));
const NAMES = Object.keys(JSON.parse(fs.readFileSync(path.join(DIR, 'package.json'), 'utf8')).dependencies);

function installed() {
  try {
    for (const name of NAMES) requirePeer.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Installs bench/peers from its lock file unless every peer package already resolves. */
export function installPeers() {
  if (installed()) return;
  console.error('Installing the peer stores into bench/peers (first run only; better-sqlite3 builds from source, which takes a minute or two).');
  // npm's output goes to stderr so that stdout holds only the report.
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: DIR, stdio: ['ignore', 2, 2] });
  if (!installed()) throw new Error('bench/peers: npm ci finished but the peer packages still do not resolve');
}

/** Loads a peer package (all of them are CommonJS) from bench/peers. */
export const peer = (name) => requirePeer(name);

/** The versions measured, as a line for the report. */
export function versions({ redis }) {
  const v = (name) => peer(`${name}/package.json`).version;
  const Database = peer('better-sqlite3');
  const mem = new Database(':memory:');
  const sqlite = mem.prepare('SELECT sqlite_version() AS v').get().v;
  mem.close();
  return `Versions: better-sqlite3 ${v('better-sqlite3')} (SQLite ${sqlite}), classic-level ${v('classic-level')}, `
    + `sonic-boom ${v('sonic-boom')}, ${redis ? `redis-server ${redis} with the redis client ${v('redis')}` : `the redis client ${v('redis')}`}.`;
}
