import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Consumer, Journal, listConsumers, verify } from '../src/index.js';
import { flipByte, JOURNAL_BIN, readAll, runJournal, tmpJournal } from './helpers.js';
import { chromiumMissing, DOCS, launchChromium, request, UiProcess } from './ui-helpers.js';

const count = (n: number) => n.toLocaleString('en-US');
/** Records every module a command loads (see the fixture). */
const LOADED_MODULES = pathToFileURL(path.join(path.dirname(JOURNAL_BIN), '..', '..', 'test/fixtures/loaded-modules.mjs')).href;

/** A journal of `n` records appended one per batch (so that damage in one is vouched for by the next). */
async function small(n: number, file = tmpJournal()): Promise<{ file: string; offsets: number[] }> {
  const j = await Journal.open(file);
  const offsets: number[] = [];
  for (let i = 1; i <= n; i++) offsets.push((await j.append({ n: i, text: `record ${i}` })).offset);
  await j.close();
  return { file, offsets };
}

describe('journal ui: the command and its HTTP guard', () => {
  it('ui --help prints its usage, options and exit codes on stdout, exit 0', async () => {
    const r = await runJournal(['ui', '--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^Usage: journal ui <file> \[--port N\] \[--host H\] \[--open\]\n/);
    expect(r.stdout).toMatch(/\nExit codes: 0 [^]*\b64 usage error\.\n$/);
    expect((await runJournal(['--help'])).stdout).toMatch(/^ {2}ui +a local web console/m);
  });

  it('the web framework is loaded by journal ui only: other commands do not load it', async () => {
    const { file } = await small(3);
    const loaded = async (args: string[]) => {
      const list = path.join(path.dirname(file), `loaded-${args[0]}.txt`);
      fs.writeFileSync(list, '');
      const r = await runJournal(args, { node: ['--import', LOADED_MODULES], env: { LOADED_MODULES_FILE: list } });
      return { code: r.code, web: fs.readFileSync(list, 'utf8').split('\n').filter((u) => /\/node_modules\/(hono|@hono)\//.test(u)) };
    };
    for (const args of [['verify', file], ['cat', file, '--last', '1'], ['stats', file], ['ui', '--help']]) expect(await loaded(args), args[0]).toEqual({ code: 0, web: [] });
    // And journal ui does load it, so the check above can see it.
    const started = path.join(path.dirname(file), 'loaded-started.txt');
    fs.writeFileSync(started, '');
    const proc = spawn(process.execPath, ['--import', LOADED_MODULES, JOURNAL_BIN, 'ui', file, '--port', '0'], { env: { ...process.env, LOADED_MODULES_FILE: started }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => proc.stdout.on('data', (d) => String(d).includes('?token=') && resolve()));
    proc.kill('SIGINT');
    await new Promise((resolve) => proc.on('exit', resolve));
    expect(fs.readFileSync(started, 'utf8')).toMatch(/\/node_modules\/hono\//);
  });

  it('a bad --port is a usage error (64); a missing file or one that is not a journal is exit 3, before anything listens', async () => {
    const { file } = await small(1);
    for (const port of ['abc', '70000']) {
      const r = await runJournal(['ui', file, '--port', port]);
      expect(r.code, port).toBe(64);
      expect(r.stderr).toContain('--port takes a port number from 0 to 65535');
    }
    const missing = await runJournal(['ui', path.join(path.dirname(file), 'nope.jsonl'), '--port', '0']);
    expect(missing).toMatchObject({ code: 3, stdout: '' });
    expect(missing.stderr).toMatch(/^journal: .*nope\.jsonl/);
    const notJournal = path.join(path.dirname(file), 'plain.txt');
    fs.writeFileSync(notJournal, 'hello\n');
    expect(await runJournal(['ui', notJournal, '--port', '0'])).toMatchObject({ code: 3, stdout: '' });
  });

  it('a port that is taken is exit 3, naming the port', async () => {
    const { file } = await small(1);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await runJournal(['ui', file, '--port', String(port)]);
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(`journal: cannot listen on 127.0.0.1:${port}: port ${port} is taken: pass another --port, or --port 0 for any free one (EADDRINUSE)\n`);
    } finally {
      blocker.close();
    }
  });

  it('binds to 127.0.0.1 by default and prints a URL with a token; Ctrl-C stops it with exit 0', async () => {
    const { file } = await small(1);
    const ui = await UiProcess.start(file);
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    // Nothing listens on the other addresses of this machine.
    const others = Object.values(os.networkInterfaces()).flat().filter((a) => a !== undefined && !a.internal && a.family === 'IPv4');
    for (const a of others) {
      await expect(new Promise((resolve, reject) => {
        const s = net.connect(ui.port, a!.address, () => resolve(s.end()));
        s.on('error', reject);
      })).rejects.toThrow(/ECONNREFUSED/);
    }
    expect(await ui.stop()).toBe(0);
  });

  it('--open hands the URL, token and all, to the desktop\'s opener', async () => {
    const { file } = await small(1);
    const bin = path.join(path.dirname(file), 'bin');
    fs.mkdirSync(bin);
    const opened = path.join(path.dirname(file), 'opened.txt');
    fs.writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > ${JSON.stringify(opened)}\n`, { mode: 0o755 });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}${path.delimiter}${saved}`;
    let ui: UiProcess;
    try {
      ui = await UiProcess.start(file, ['--open']);
    } finally {
      process.env.PATH = saved;
    }
    try {
      await expect.poll(() => fs.existsSync(opened) && fs.readFileSync(opened, 'utf8')).toBe(ui.url);
    } finally {
      await ui.stop();
    }
  });

  it('without its token, or with a wrong one, every URL is refused; the right token once sets a cookie, which is then enough', async () => {
    const { file } = await small(3);
    const ui = await UiProcess.start(file);
    // The token with its last character changed (a random token may end in 'x' already).
    const wrongToken = ui.token.slice(0, -1) + (ui.token.endsWith('x') ? 'y' : 'x');
    try {
      for (const p of ['/', '/api/overview', '/app/main.js', '/api/tail?from=1']) {
        expect((await request(ui.port, p)).status, p).toBe(403);
        expect((await request(ui.port, p, { headers: { cookie: `journal-ui-${ui.port}=${wrongToken}` } })).status, p).toBe(403);
      }
      const wrong = await request(ui.port, `/?token=${wrongToken}`);
      expect(wrong.status).toBe(403);
      expect(wrong.headers['set-cookie']).toBeUndefined();
      expect((await request(ui.port, '/?token=short')).status).toBe(403);

      const right = await request(ui.port, `/?token=${ui.token}`);
      expect(right.status).toBe(303);
      expect(right.headers.location).toBe('/');
      expect(right.headers['set-cookie']).toEqual([`${ui.cookie}; Path=/; HttpOnly; SameSite=Strict`]);
      const page = await request(ui.port, '/', { headers: { cookie: ui.cookie } });
      expect(page.status).toBe(200);
      expect(page.body).toContain('<script type="module" src="/app/main.js">');
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
      const overview = await request(ui.port, '/api/overview', { headers: { cookie: ui.cookie } });
      expect(JSON.parse(overview.body)).toMatchObject({ lastSeq: 3, first: { seq: 1 }, last: { seq: 3 } });
    } finally {
      await ui.stop();
    }
  });

  it('a foreign Host header is refused (DNS rebinding); localhost, 127.0.0.1 and [::1] with the port are not', async () => {
    const { file } = await small(1);
    const ui = await UiProcess.start(file);
    try {
      const as = (host: string) => request(ui.port, '/api/overview', { headers: { host, cookie: ui.cookie } });
      for (const host of [`evil.example:${ui.port}`, `127.0.0.1.evil.example:${ui.port}`, `localhost:${ui.port + 1}`, 'localhost', `[::2]:${ui.port}`, `localhost.:${ui.port}`]) {
        const r = await as(host);
        expect(r.status, host).toBe(403);
        expect(r.body).toContain('answers only to localhost');
      }
      for (const host of [`localhost:${ui.port}`, `127.0.0.1:${ui.port}`, `[::1]:${ui.port}`, `LOCALHOST:${ui.port}`]) expect((await as(host)).status, host).toBe(200);
    } finally {
      await ui.stop();
    }
  });

  it('no method but GET gets through, and the journal stays as it was', async () => {
    const { file } = await small(5);
    const before = fs.readFileSync(file);
    const ui = await UiProcess.start(file);
    try {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        for (const p of ['/', '/api/overview', '/api/records?from=1']) {
          const r = await request(ui.port, p, { method, headers: { cookie: ui.cookie } });
          expect(r.status, `${method} ${p}`).toBe(405);
          expect(r.headers.allow).toBe('GET, HEAD');
        }
      }
      expect(fs.readFileSync(file).equals(before)).toBe(true);
    } finally {
      await ui.stop();
    }
  });

  it('a journal error or a bad request is a code and a message for the page, never a stack trace', async () => {
    const { file } = await small(5);
    const ui = await UiProcess.start(file);
    try {
      const get = async (p: string) => {
        const r = await request(ui.port, p, { headers: { cookie: ui.cookie } });
        expect(r.body).not.toMatch(/\n\s+at /);
        return { status: r.status, ...(JSON.parse(r.body) as object) };
      };
      expect(await get('/api/records?from=0')).toEqual({ status: 400, error: { code: 'BAD_REQUEST', message: 'from must be an integer of at least 1, not "0"' } });
      expect(await get('/api/search?from=1&path=a..b&value=1')).toMatchObject({ status: 400, error: { code: 'BAD_REQUEST' } });
      fs.writeFileSync(`${file}.moved`, fs.readFileSync(file));
      fs.rmSync(file);
      expect(await get('/api/overview')).toMatchObject({ status: 404, error: { code: 'NOT_FOUND', message: expect.stringContaining(file) } });
      fs.writeFileSync(file, 'not a journal\n');
      expect(await get('/api/records?from=1')).toMatchObject({ status: 500, error: { code: 'NOT_A_JOURNAL' } });
      expect(ui.stderr).toBe('');
    } finally {
      await ui.stop();
    }
  });
});

describe.skipIf(chromiumMissing('ui.test.ts (the console in Chromium)'))('journal ui in Chromium', () => {
  let browser: Browser;
  /** Failures the page logged (script errors, refused resources, CSP violations): none may happen. */
  const pageErrors: string[] = [];
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'jj-ui-shots-'));

  beforeAll(async () => {
    browser = (await launchChromium()) as Browser;
  });
  afterAll(async () => {
    await browser?.close();
    // The screenshots in docs/ are taken here; UPDATE_SCREENSHOTS=1 puts the new ones there.
    if (process.env.UPDATE_SCREENSHOTS === '1') for (const f of fs.readdirSync(shots)) fs.copyFileSync(path.join(shots, f), path.join(DOCS, f));
    fs.rmSync(shots, { recursive: true, force: true });
  });

  /** Pages are closed after each test, whatever happened: a page left open would poll a stopped server. */
  const pages: Page[] = [];
  const closePages = async () => {
    while (pages.length > 0) await pages.pop()!.close();
  };
  afterEach(closePages);

  async function open(ui: UiProcess, view = ''): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    pages.push(page);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(ui.url);
    await page.waitForSelector('body[data-ready="overview"]');
    if (view !== '') await page.click(`nav a[href="#${view}"]`);
    return page;
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    const file = path.join(shots, `ui-${name}.png`);
    await page.screenshot({ path: file });
    expect(fs.readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
  }

  /**
   * The journal the views are shown with: 3,000 orders over a morning, busier around 10:45, and
   * two consumers behind. The times are fixed, so that jumps and the chart can be checked exactly.
   */
  const T0 = Date.UTC(2026, 10, 21, 8, 0, 0);
  let tour: { file: string; ts: number[]; ui: UiProcess };
  beforeAll(async () => {
    // Its own directory: the helpers remove theirs after each test, and this one serves them all.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jj-ui-tour-')), 'orders.jsonl');
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    const ts: number[] = [];
    let t = T0;
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const batch = [];
    for (let i = 0; i < 3000; i++) {
      // Gaps of 1 to 10 s, shorter around the middle.
      t += Math.round(1000 + 9000 * random() * (1 - 0.9 * Math.exp(-(((i - 1500) / 250) ** 2))));
      ts.push(t);
      batch.push({ type: i % 7 === 0 ? 'order.shipped' : 'order.created', id: 1000 + i, user: { id: i % 50, name: `user-${i % 50}` }, amount: (i % 1000) / 4 });
    }
    await j.appendMany(batch, { ts });
    await j.close();
    for (const [name, seq] of [['mailer', 2500], ['search-indexer', 2900]] as const) {
      const c = await Consumer.open(file, name);
      await c.seek({ seq: seq + 1 });
      await c.close();
    }
    // Started beside it with its name alone: the screenshots show the name, not a temp directory.
    tour = { file, ts, ui: await UiProcess.start(path.basename(file), [], path.dirname(file)) };
  });
  afterAll(async () => {
    await tour?.ui.stop();
    if (tour !== undefined) fs.rmSync(path.dirname(tour.file), { recursive: true, force: true });
  });

  it('the overview shows what verify reports, at once for what needs no scan, and each damaged line links to its place', async () => {
    const { file, offsets } = await small(40);
    flipByte(file, offsets[15]! + 20);
    const report = await verify(file);
    expect(report.corrupt).toHaveLength(1);
    const damage = report.corrupt[0]!;
    const after = (await readAll(file, { corrupt: 'skip' })).find((r) => r.offset > damage.offset)!;
    const ui = await UiProcess.start(file);
    try {
      const page = await open(ui);
      await page.waitForSelector('#ov-status[data-status]');
      const text = async (id: string) => (await page.textContent(`#${id}`))!.trim();
      expect(await text('ov-status')).toBe('DAMAGED (1 line)');
      expect(await text('ov-records')).toBe(count(report.records));
      expect(await text('ov-seqs')).toBe(`${count(report.firstSeq!)}..${count(report.lastSeq!)}`);
      expect(await text('ov-verified-seqs')).toBe(`${count(report.firstSeq!)}..${count(report.lastSeq!)}`);
      expect(await text('ov-bytes')).toContain(`(${count(report.bytes)} bytes)`);
      expect(await text('ov-id')).toBe(report.header.id);
      expect(await text('ov-generation')).toBe(`${report.header.generation} (compactions)`);
      expect(await text('ov-notes')).toContain(`damaged line ${count(damage.line)}, offset ${count(damage.offset)}: ${damage.reason}`);

      await page.click('#ov-notes a');
      await page.waitForSelector(`#record-list .row.selected[data-seq="${after.seq}"]`);
      expect(await text('records-status')).toBe(`The damaged line ${damage.line} at offset ${count(damage.offset)} (${damage.reason}) lies just before seq ${after.seq}.`);
    } finally {
      await closePages();
      await ui.stop();
    }
  });

  it('the overview of a clean journal, and its screenshot', async () => {
    const report = await verify(tour.file);
    const page = await open(tour.ui);
    await page.waitForSelector('#ov-status[data-status="ok"]');
    expect(await page.textContent('#ov-records')).toBe(count(report.records));
    expect(await page.textContent('#ov-first')).toBe(new Date(tour.ts[0]!).toISOString());
    expect(await page.textContent('#ov-last')).toBe(new Date(tour.ts.at(-1)!).toISOString());
    await screenshot(page, 'overview');
  });

  it('jump to a seq, and to a time, land on the right record', async () => {
    const page = await open(tour.ui, 'records');
    await page.fill('#jump-seq input', '1234');
    await page.click('#jump-seq button');
    await page.waitForSelector('#record-list .row.selected[data-seq="1234"]');
    await page.waitForFunction(() => document.getElementById('detail-title')!.textContent!.includes('offset'));
    expect(await page.textContent('#detail-title')).toMatch(new RegExp(`^seq 1,234 · ${new Date(tour.ts[1233]!).toISOString()} · offset `));
    expect(JSON.parse((await page.textContent('#detail-json'))!)).toMatchObject({ id: 1000 + 1233 });
    expect(await page.isVisible('#record-list .row.selected[data-seq="1234"]')).toBe(true);

    // A time between two records lands on the later one.
    const target = tour.ts[2000]! - 1;
    await page.fill('#jump-time input', new Date(target).toISOString());
    await page.click('#jump-time button');
    await page.waitForSelector('#record-list .row.selected[data-seq="2001"]');
    expect(await page.textContent('#records-status')).toBe(`The first record appended at or after ${new Date(target).toISOString()}: seq 2,001.`);
    await page.fill('#jump-time input', String(tour.ts[99]));
    await page.click('#jump-time button');
    await page.waitForSelector('#record-list .row.selected[data-seq="100"]');
    await screenshot(page, 'records');
  });

  it('the filter lists the records whose path equals a value, or whose data contains a text', async () => {
    const page = await open(tour.ui, 'records');
    await page.selectOption('#filter select', 'path');
    await page.fill('#filter input[name="path"]', 'user.id');
    await page.fill('#filter input[name="value"]', '33');
    await page.click('#filter button:not([name])');
    await page.waitForFunction(() => /^60 records with user\.id = 33 from seq 1$/.test(document.getElementById('records-status')!.textContent!));
    const seqs = await page.$$eval('#record-list .row[data-seq]', (rows) => rows.map((r) => Number(r.getAttribute('data-seq'))));
    expect(seqs.slice(0, 5)).toEqual([34, 84, 134, 184, 234]);

    await page.selectOption('#filter select', 'text');
    await page.fill('#filter input[name="value"]', 'USER-49"');
    await page.click('#filter button:not([name])');
    await page.waitForFunction(() => /^60 records with data containing "USER-49\\"" from seq 1$/.test(document.getElementById('records-status')!.textContent!));
    await page.click('#filter button[name="clear"]');
    await page.waitForFunction(() => document.getElementById('records-status')!.textContent === '');
  });

  it('the time chart counts every record, and a click on a bar lists that interval\'s records', async () => {
    const page = await open(tour.ui, 'time');
    await page.waitForSelector('#time-chart[data-done="true"]');
    expect(await page.textContent('#time-status')).toMatch(/^3,000 records over the journal's life, per 1 min\./);
    const over = (await page.locator('#time-chart .u-over').boundingBox())!;
    await page.mouse.click(over.x + over.width * 0.5, over.y + over.height - 3);
    await page.waitForFunction(() => document.querySelectorAll('#time-records li').length > 0);
    const heading = (await page.textContent('#time-interval'))!;
    const m = /^(\S+) to (\S+): (\d+) records?/.exec(heading)!;
    const [from, until] = [Date.parse(m[1]!), Date.parse(m[2]!)];
    const inside = tour.ts.filter((t) => t >= from && t < until).length;
    expect(Number(m[3])).toBe(inside);
    expect(await page.locator('#time-records li').count()).toBe(Math.min(inside, 100));
    await screenshot(page, 'time');

    // Dragging across a part of the chart counts that part again, in finer intervals.
    await page.mouse.move(over.x + over.width * 0.4, over.y + 20);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.45, over.y + 20, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction(() => /^\d[\d,]* records over 2026-/.test(document.getElementById('time-status')!.textContent!));
    expect(await page.isEnabled('#time-whole')).toBe(true);
    await page.click('#time-whole');
    expect(await page.textContent('#time-status')).toMatch(/^3,000 records over the journal's life/);
  });

  it('the consumers view shows each consumer\'s position, lag and state as listConsumers does, and charts the lag', async () => {
    const expected = await listConsumers(tour.file);
    const page = await open(tour.ui, 'consumers');
    for (const c of expected) {
      const cells = page.locator(`#consumers-rows tr[data-name="${c.name}"] td`);
      await cells.first().waitFor();
      expect(await cells.allTextContents()).toEqual([c.name, count(c.seq), count(c.lag), expect.stringContaining(new Date(c.lastActive!).toISOString()), 'stopped']);
    }
    // Two samples draw a line.
    await page.waitForFunction(() => Number(document.getElementById('lag-chart')!.dataset.samples) >= 2 && document.querySelector('#lag-chart canvas') !== null);
    await screenshot(page, 'consumers');
  });

  it('a record appended by another process appears in the live tail within 1 s, also after a compaction', async () => {
    const { file } = await small(500);
    const ui = await UiProcess.start(file);
    try {
      const page = await open(ui, 'records');
      await page.waitForSelector('#record-list .row[data-seq="500"]');
      expect(await page.isChecked('#follow-end')).toBe(true);
      for (const marker of ['first-new-record', 'second-new-record']) {
        // The second comes after a compaction replaced the file under the tail.
        if (marker === 'second-new-record') expect((await runJournal(['compact', file, '--before-seq', '100'])).code).toBe(0);
        const appended = await runJournal(['append', file], { input: `{"marker":"${marker}"}\n` });
        expect(appended.code).toBe(0);
        const t0 = performance.now();
        await page.locator(`#record-list .row:has-text("${marker}")`).waitFor({ timeout: 5000 });
        expect(performance.now() - t0).toBeLessThan(1000);
      }
      expect(await page.textContent('#ov-live')).toBe('2 seqs assigned since the page opened; the last is 502');
    } finally {
      await closePages();
      await ui.stop();
    }
  });

  it('the page logged no errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
