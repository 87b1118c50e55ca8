/**
 * For the console's tests: `journal ui` as a child process (the built command, as users run it),
 * plain HTTP requests that may say any Host header (fetch may not), and whether Chromium is here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
// @ts-expect-error: a plain .mjs module shared with the benchmarks, without type declarations.
import { findChromium, launchChromium } from '../tools/chromium.mjs';
import { JOURNAL_BIN } from './helpers.js';

export { launchChromium };

/**
 * True when the browser suite cannot run here: it drives the console in a real headless Chromium,
 * which must be on the PATH. npm test then skips it with a one-line note. Under CI=true a missing
 * Chromium is an error instead: CI must prove the console works in a browser.
 */
export function chromiumMissing(suite: string): boolean {
  if (findChromium() !== null) return false;
  const why = 'chromium is not on the PATH (install it from your OS\'s packages: apt-get install chromium)';
  if (process.env.CI === 'true') throw new Error(`${suite}: ${why}. Under CI=true the browser suite must run.`);
  console.warn(`${suite} skipped: ${why}`);
  return true;
}

/** A running `journal ui`: its URL, port and token as it printed them. */
export class UiProcess {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly token: string;
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(proc: ChildProcess, url: string, exited: Promise<number | null>) {
    this.proc = proc;
    this.url = url;
    const u = new URL(url);
    this.port = Number(u.port);
    this.token = u.searchParams.get('token')!;
    this.exited = exited;
  }

  /** Starts `journal ui <file> --port 0 ...args` (in directory `cwd`) and waits for the URL it prints. */
  static start(file: string, args: string[] = [], cwd?: string): Promise<UiProcess> {
    const proc = spawn(process.execPath, [JOURNAL_BIN, 'ui', file, '--port', '0', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    return new Promise((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        const m = /^\s+(http:\/\/\S+)$/.exec(l);
        if (m !== null) {
          const ui = new UiProcess(proc, m[1]!, exited);
          proc.stderr!.on('data', (d) => (ui.stderr += d));
          resolve(ui);
        }
      });
      void exited.then((code) => reject(new Error(`journal ui exited ${code} before printing its URL: ${stderr}`)));
    });
  }

  /** The Cookie header the console sets once its token has been seen. */
  get cookie(): string {
    return `journal-ui-${this.port}=${this.token}`;
  }

  /** Ctrl-C; resolves with the exit code. */
  stop(): Promise<number | null> {
    this.proc.kill('SIGINT');
    return this.exited;
  }
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request to 127.0.0.1:port, with exactly the headers given (Host included). */
export function request(port: number, urlPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: opts.method ?? 'GET', agent: false, headers: { host: `127.0.0.1:${port}`, ...opts.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export const DOCS = path.join(path.dirname(JOURNAL_BIN), '..', '..', 'docs');
