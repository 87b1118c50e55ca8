// `journal ui` on a 1 GB journal, in headless Chromium: the time to the first screen (the overview,
// from reads that seek), to verify's report and to the whole time chart (both read everything),
// against the commands that do the same work alone in the same run (`journal cat --last 10`,
// `journal verify`, a full readJournal); and the server's peak RSS, against the same console on a
// journal ten times smaller: memory that does not grow with the journal is bounded.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Consumer, Journal, readJournal } from 'jsonl-journal';
import { launchChromium } from '../tools/chromium.mjs';
import { event, fmtMs, median, ROOT, scratchDir, table } from './lib.mjs';

const BIN = path.join(ROOT, 'dist/cli/main.js');
const TARGET_BYTES = 1024 * 1024 * 1024;

/** Appends records of ~140 bytes, one ms apart, until the file holds `bytes`; and a consumer half way. */
async function build(file, bytes) {
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  const t0 = Date.now() - 86_400_000;
  let n = 0;
  while (fs.statSync(file).size < bytes) {
    await j.appendMany(Array.from({ length: 5000 }, (_, i) => event(n + i)), { ts: Array.from({ length: 5000 }, (_, i) => t0 + n + i) });
    n += 5000;
  }
  await j.close();
  // As a journal written with the default durability ends: synced and sealed. (One written with
  // 'unsafe-nosync' and never flushed has nothing that vouches for any of it, and listing its
  // consumers, which checks the tail a crash could have touched, reads all of it.)
  const sealer = await Journal.open(file);
  await sealer.append(event(n++), { ts: t0 + n });
  await sealer.close();
  const c = await Consumer.open(file, 'indexer');
  await c.seek({ seq: Math.floor(n / 2) });
  await c.close();
  return n;
}

/** Starts `journal ui` on a free port; resolves with its URL, a way to stop it, and its peak RSS so far. */
async function startUi(file) {
  const c = spawn(process.execPath, [BIN, 'ui', file, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: c.stdout }).on('line', (l) => l.includes('?token=') && resolve(l.trim()));
    c.on('exit', (code) => reject(new Error(`journal ui exited ${code}`)));
  });
  const hwm = () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${c.pid}/status`, 'utf8'))[1]) * 1024;
  const stop = () => new Promise((resolve) => {
    c.once('exit', resolve);
    c.kill('SIGINT');
  });
  return { url, hwm, stop };
}

/**
 * Opens the console in a fresh browser context; ms from the start of the navigation to the
 * overview, to verify's report and to the whole time chart, as the page's own marks say.
 */
async function visit(browser, url) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(url);
  await page.waitForSelector('#ov-status[data-status]', { state: 'attached', timeout: 120_000 });
  await page.waitForSelector('#time-chart[data-done="true"]', { state: 'attached', timeout: 600_000 });
  const [first, verified, charted] = await page.evaluate(() => ['first-screen', 'verified', 'time-chart-done'].map((m) => performance.getEntriesByName(m)[0].startTime));
  await ctx.close();
  return { first, verified, charted };
}

function timed(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${args.join(' ')}: exit ${code}`))));
  });
}

async function readAll(file) {
  const t0 = performance.now();
  for await (const _ of readJournal(file, { data: 'text' }));
  return performance.now() - t0;
}

export async function run(args) {
  const dir = scratchDir('ui');
  const file = path.join(dir, 'big.jsonl');
  const small = path.join(dir, 'small.jsonl');
  const n = await build(file, TARGET_BYTES);
  await build(small, TARGET_BYTES / 10);
  const mb = fs.statSync(file).size / 1e6;
  const browser = await launchChromium();
  const rows = { first: [], verified: [], charted: [], last: [], verify: [], read: [], hwm: [], hwmSmall: [] };
  try {
    for (let r = 0; r < args.rounds; r++) {
      const ui = await startUi(file);
      const v = await visit(browser, ui.url);
      rows.hwm.push(ui.hwm());
      await ui.stop();
      rows.first.push(v.first);
      rows.verified.push(v.verified);
      rows.charted.push(v.charted);
      const uiSmall = await startUi(small);
      await visit(browser, uiSmall.url);
      rows.hwmSmall.push(uiSmall.hwm());
      await uiSmall.stop();
      rows.last.push(await timed(['cat', file, '--last', '10']));
      rows.verify.push(await timed(['verify', file, '--json']));
      rows.read.push(await readAll(file));
    }
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const s = (xs) => (median(xs) / 1000).toFixed(1);
  return table([`journal ui on a ${mb.toFixed(0)} MB journal, ${n.toLocaleString('en-US')} records`, 'median', 'target'], [
    ['first screen (the overview), from navigation, ms', fmtMs(median(rows.first)), '< 1000'],
    ['journal cat --last 10 (the whole command), ms', fmtMs(median(rows.last)), ''],
    ['verify\'s report on the page, from navigation, s', s(rows.verified), ''],
    ['journal verify (the whole command), s', s(rows.verify), ''],
    ['the whole time chart on the page, from navigation, s', s(rows.charted), ''],
    ['readJournal of every record (data as text), in-process, s', s(rows.read), ''],
    ['peak RSS of the journal ui process, MB', (median(rows.hwm) / 1e6).toFixed(0), 'bounded'],
    [`the same on a journal of 1/10 the size (${(mb / 10).toFixed(0)} MB), MB`, (median(rows.hwmSmall) / 1e6).toFixed(0), ''],
  ]);
}
