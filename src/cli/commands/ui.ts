/** journal ui <file> [--port N] [--host H] [--open]: a local web console that shows a journal, live. */
import { spawn } from 'node:child_process';
import { interruption, onePath, report, type Command } from '../command.js';
import { bold, Exit, UsageError, yellow } from '../term.js';

const DEFAULT_PORT = 7340;
/** Without --port, a taken default port is not an error: the next free one of these is used. */
const MORE_PORTS = 20;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export const uiCommand: Command = {
  name: 'ui',
  help: `Usage: journal ui <file> [--port N] [--host H] [--open]

Serves a web console for the journal, read-only, and prints its URL: an overview (header, records,
seq range, size, verify's report with each damaged line), a chart of records over time, the
records themselves (by seq or time, filtered, with a live tail), and the named consumers with
their lag. Runs until interrupted (Ctrl-C).

Options:
  --port N   the port (default ${DEFAULT_PORT}, or the next free one after it); 0: any free port
  --host H   the address to listen on (default 127.0.0.1: this machine only). Anyone who can
             reach another address and has the URL can read the journal, over plain HTTP
  --open     open the URL in the default browser

The URL holds a token made for this run; the console refuses requests without it, requests
whose Host header is not this server's (DNS rebinding), and any method but GET.

Exit codes: 0 stopped by Ctrl-C or SIGTERM; 3 could not start (missing file, not a journal,
the port taken or not allowed); 64 usage error.`,
  options: { port: { type: 'string' }, host: { type: 'string' }, open: { type: 'boolean' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    const port = portOf(values.port);
    const host = values.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') throw new UsageError('--host takes an address or a host name');
    const stop = interruption();
    try {
      // The web framework and the page are loaded only by this command. A missing file or one
      // that is not a journal fails in startUi, before anything listens.
      const { startUi } = await import('../../ui/server.js');
      let ui;
      try {
        ui = await startUi(file, { port: port ?? DEFAULT_PORT, host, morePorts: port === undefined ? MORE_PORTS : 0 });
      } catch (err) {
        throw listenError(err, host, port ?? DEFAULT_PORT);
      }
      const out = process.stdout;
      out.write(`${bold(out, 'journal ui')}: ${file}, read-only\n  ${ui.url}\n`);
      if (!LOOPBACK.has(host)) process.stderr.write(`${yellow(process.stderr, 'journal:')} listening on ${host}: whoever can reach it and has the URL can read this journal, unencrypted\n`);
      out.write('Ctrl-C stops it.\n');
      if (values.open === true) openBrowser(ui.url);
      await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
      await ui.close();
      return Exit.OK;
    } catch (err) {
      return report(err);
    } finally {
      stop.release();
    }
  },
};

function portOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n > 65535) throw new UsageError(`--port takes a port number from 0 to 65535, not ${JSON.stringify(v)}`);
  return n;
}

/** A failure to listen, said in terms of the options (an errno error still: exit 3). */
function listenError(err: unknown, host: string, port: number): unknown {
  const e = err as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    EADDRINUSE: `port ${port} is taken: pass another --port, or --port 0 for any free one`,
    EACCES: `port ${port} needs privileges: pass a port above 1023`,
    EADDRNOTAVAIL: `${host} is not an address of this machine`,
    ENOTFOUND: `${host} is not a known host name`,
  };
  if (e?.code === undefined || why[e.code] === undefined) return err;
  return Object.assign(new Error(`cannot listen on ${host}:${port}: ${why[e.code]} (${e.code})`), { code: e.code });
}

/** Opens the URL with the desktop's opener; a machine without one gets a note, not a failure. */
function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`journal: could not run ${cmd} to open the browser; open the URL above\n`));
  child.unref();
}
