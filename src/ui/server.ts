/**
 * startUi(): the console's web server for one journal, bound to one address (127.0.0.1 unless told
 * otherwise), reached with a token made for this run.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { consoleApp } from './app.js';
import { allowedHosts, newToken } from './guard.js';
import { overviews } from './queries.js';

export interface UiOptions {
  /** 0: any free port. */
  port: number;
  host: string;
  /** When `port` is taken, try the next ones, up to this many more. @default 0 */
  morePorts?: number;
}

export interface UiServer {
  /** The URL to open, token included. */
  url: string;
  host: string;
  port: number;
  token: string;
  /** Stops taking connections and ends the open ones (event streams never end by themselves). */
  close(): Promise<void>;
}

export async function startUi(file: string, opts: UiOptions): Promise<UiServer> {
  // A file that is not a journal fails here, before anything listens; and the first page gets
  // its first screen from what this read.
  const overview = overviews(file);
  await overview();
  const token = newToken();
  let port = opts.port;
  for (let tries = opts.morePorts ?? 0; ; tries--, port++) {
    // The app needs the port it guards; with port 0 it is known only once bound, hence the late fetch.
    let fetch: ((req: Request) => Response | Promise<Response>) | null = null;
    const server = createAdaptorServer({ fetch: (req) => fetch!(req), hostname: opts.host }) as Server;
    try {
      await listen(server, port, opts.host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && tries > 0 && port !== 0) continue;
      throw err;
    }
    const bound = (server.address() as AddressInfo).port;
    const app = consoleApp(file, { token, port: bound, names: allowedHosts(opts.host) }, overview);
    fetch = (req) => app.fetch(req);
    const shown = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    return {
      url: `http://${shown}:${bound}/?token=${token}`,
      host: opts.host,
      port: bound,
      token,
      close: () => new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    };
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
