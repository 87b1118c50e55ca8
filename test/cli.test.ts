import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compact, Consumer, ErrorCode, Journal, verify } from '../src/index.js';
import { FileLock } from '../src/fs/lock.js';
import { Child, flipByte, readAll, runJournal, sleep, tmpDir, tmpJournal } from './helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = path.join(ROOT, 'dist/cli/main.js');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** A module loaded before the command that makes its fstat fail (see the fixture). */
const PLANT = pathToFileURL(path.join(ROOT, 'test/fixtures/plant-fault.mjs')).href;

const journal = runJournal;

/**
 * A copy of what the built command needs at run time (dist, package.json and the runtime
 * dependencies, and the compiled flock addon) in a directory every user can read, for running it
 * as user `uid`. An unprivileged user cannot run the command from the checkout when the checkout
 * sits inside a 0700 directory, as a fresh clone in a temp directory does; nor a node installed
 * under such a directory (a home, a temp directory): then node is copied too.
 */
function binForEveryone(uid: number): { bin: string; execPath: string } {
  const dir = tmpDir();
  let execPath = process.execPath;
  if (spawnSync(execPath, ['--version'], { uid, gid: uid }).error !== undefined) {
    execPath = path.join(dir, 'node');
    fs.copyFileSync(process.execPath, execPath);
  }
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  const addon = 'src/native/build/Release/flock.node';
  fs.mkdirSync(path.join(dir, path.dirname(addon)), { recursive: true });
  fs.copyFileSync(path.join(ROOT, addon), path.join(dir, addon));
  // By directory, not require.resolve: packages whose exports do not list package.json (hono) cannot be resolved to it.
  for (const dep of Object.keys((JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: object }).dependencies)) {
    fs.cpSync(path.join(ROOT, 'node_modules', dep), path.join(dir, 'node_modules', dep), { recursive: true });
  }
  const open = (p: string): void => {
    const st = fs.statSync(p);
    fs.chmodSync(p, st.isDirectory() ? 0o755 : st.mode | 0o444);
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) open(path.join(p, name));
  };
  open(dir);
  if (execPath !== process.execPath) fs.chmodSync(execPath, 0o755);
  return { bin: path.join(dir, 'dist/cli/main.js'), execPath };
}

/** Whether process `pid` has `file` open read-write (as Journal.open does; verify opens read-only). */
function openReadWrite(pid: number, file: string): boolean {
  const real = fs.realpathSync(file);
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== real) return false;
      const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
      // The access mode is the low two bits (O_ACCMODE, which node:fs does not export).
      return flags !== undefined && (parseInt(flags, 8) & 3) === fs.constants.O_RDWR;
    } catch {
      return false;
    }
  });
}

async function journalOf(n: number, file = tmpJournal()): Promise<{ file: string; offsets: number[] }> {
  const j = await Journal.open(file);
  const offsets: number[] = [];
  for (let i = 1; i <= n; i++) offsets.push((await j.append({ n: i, text: `record ${i}` })).offset);
  await j.close();
  return { file, offsets };
}

const COMMANDS = ['verify', 'repair', 'cat', 'append', 'compact', 'consumers', 'stats', 'ui'];

describe('journal --help, --version and unknown commands', () => {
  it('--help (and -h, help) prints the usage with every command on stdout, exit 0', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = await journal([flag]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^Usage: journal <command> \[options\]\n/);
      for (const name of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      expect(r.stdout).toContain('journal --version');
    }
  });

  it('--version (and -v) prints the version of package.json', async () => {
    expect(await journal(['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(await journal(['-v'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it.each(COMMANDS)('%s --help (and -h) prints its usage, options and exit codes on stdout, exit 0', async (name) => {
    const r = await journal([name, '--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^Usage: journal ${name} <file>`));
    expect(r.stdout).toMatch(/\nExit codes: 0 [^]*\b64 usage error\.\n$/);
    expect(await journal([name, '-h'])).toEqual(r);
  });

  it('an unknown command: one line naming it, then the usage, on stderr; exit 64', async () => {
    const usage = (await journal(['--help'])).stdout;
    for (const name of ['frobnicate', '--nope']) {
      expect(await journal([name, 'x'])).toEqual({ code: 64, stdout: '', stderr: `journal: unknown command ${JSON.stringify(name)}\n${usage}` });
    }
    expect(await journal([])).toEqual({ code: 64, stdout: '', stderr: usage });
  });
});

describe('journal verify', () => {
  it('a clean journal: exit 0, a summary on stdout, nothing on stderr', async () => {
    const { file } = await journalOf(25);
    const r = await journal(['verify', file]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`${file}: ok`);
    expect(r.stdout).toContain('25 records, seq 1..25');
  });

  it('a torn tail: exit 1 and where it is; --fix cuts exactly it and exits 0, keeping every record', async () => {
    const { file } = await journalOf(10);
    const size = fs.statSync(file).size;
    const torn = '00000000 {"seq":11,"ts":1,"da';
    fs.appendFileSync(file, torn);
    const r = await journal(['verify', file]);
    expect(r).toMatchObject({ code: 1, stderr: '' });
    expect(r.stdout).toContain(`${file}: torn tail\n  10 records, seq 1..10`);
    expect(r.stdout).toContain(`torn tail: ${torn.length} bytes at offset ${size.toLocaleString('en-US')}`);
    const fixed = await journal(['verify', file, '--fix']);
    expect(fixed).toMatchObject({ code: 0, stderr: '' });
    expect(fixed.stdout).toContain(`cut a torn tail of ${torn.length} bytes at offset ${size.toLocaleString('en-US')}`);
    expect(fs.statSync(file).size).toBe(size);
    expect((await readAll(file)).length).toBe(10);
    expect((await verify(file)).ok).toBe(true);
  });

  it('--fix says what it cut, not what the check saw, when a live writer changed the tail in between', async () => {
    // This process plays a live writer: it holds the writers' lock with half a batch on disk.
    // verify waits 2 s for the lock, checks without it and sees that half batch as a torn tail;
    // then its open waits for the lock, while the writer finishes the batch and (the second time)
    // leaves a new torn tail after it, which is all the open can cut.
    const liveWriter = async () => {
      const { file } = await journalOf(5);
      const size = fs.statSync(file).size;
      const j = await Journal.open(file);
      await j.append({ n: 6 });
      await j.close();
      const batch = fs.readFileSync(file).subarray(size);
      fs.truncateSync(file, size + (batch.length >> 1));
      const fd = fs.openSync(file, 'r+');
      const lock = new FileLock(fd, file);
      await lock.acquire(1000);
      return { file, size, batch, fd, lock };
    };
    const fixWhileWriting = async (w: Awaited<ReturnType<typeof liveWriter>>, args: string[], tornAfter: string) => {
      let pid = 0;
      const done = journal(['verify', w.file, '--fix', ...args], { spawned: (p) => (pid = p) });
      for (const t0 = Date.now(); !openReadWrite(pid, w.file); await new Promise((r) => setTimeout(r, 10))) {
        if (Date.now() - t0 > 20_000) throw new Error('verify --fix never opened the journal to cut');
      }
      const rest = Buffer.concat([w.batch, Buffer.from(tornAfter)]);
      fs.writeSync(w.fd, rest, 0, rest.length, w.size);
      w.lock.release();
      fs.closeSync(w.fd);
      return done;
    };
    const torn = '00000000 {"seq":7,"ts":1,"da';
    const [a, b] = await Promise.all([liveWriter(), liveWriter()]);
    const [finished, tornAgain] = await Promise.all([fixWhileWriting(a, [], ''), fixWhileWriting(b, ['--json'], torn)]);

    expect(finished).toMatchObject({ code: 0, stderr: '' });
    expect(finished.stdout).toContain(`${a.file}: ok\n  6 records, seq 1..6`);
    expect(finished.stdout).toContain(`cut nothing: the torn tail at offset ${a.size.toLocaleString('en-US')} was gone when the writers' lock was taken`);
    expect(finished.stdout).not.toContain('cut a torn tail');
    expect((await readAll(a.file)).length).toBe(6);

    expect(tornAgain).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(tornAgain.stdout)).toMatchObject({ status: 'ok', records: 6, tornTail: null, cut: { offset: b.size + b.batch.length, bytes: torn.length } });
    expect(fs.statSync(b.file).size).toBe(b.size + b.batch.length);
  });

  it('zeros after the last batch are a torn tail too', async () => {
    const { file } = await journalOf(3);
    const size = fs.statSync(file).size;
    fs.appendFileSync(file, Buffer.alloc(4096));
    const r = await journal(['verify', file]);
    expect(r).toMatchObject({ code: 1, stderr: '' });
    expect(r.stdout).toContain(`${file}: torn tail\n  3 records, seq 1..3`);
    expect(r.stdout).toContain(`torn tail: 4,096 bytes at offset ${size.toLocaleString('en-US')}`);
    const j = await journal(['verify', file, '--json']);
    expect(j).toMatchObject({ code: 1, stderr: '' });
    expect(JSON.parse(j.stdout)).toMatchObject({ status: 'torn-tail', records: 3, tornTail: { offset: size, bytes: 4096 }, corrupt: [] });
  });

  it('a flipped byte in the middle: exit 2, the line and offset named; --json has the same report', async () => {
    const { file, offsets } = await journalOf(30);
    flipByte(file, offsets[14]! + 20);
    const r = await journal(['verify', file]);
    expect(r).toMatchObject({ code: 2, stderr: '' });
    expect(r.stdout).toContain(`damaged line 16, offset ${offsets[14]!.toLocaleString('en-US')}: checksum mismatch`);
    expect(r.stdout).toContain('journal repair');
    const j = await journal(['verify', file, '--json']);
    expect(j.code).toBe(2);
    expect(j.stderr).toBe('');
    const rep = JSON.parse(j.stdout);
    expect(rep).toMatchObject({ status: 'damaged', records: 29, firstSeq: 1, lastSeq: 30, tornTail: null, corrupt: [{ offset: offsets[14], line: 16, reason: 'checksum mismatch' }] });
    expect(rep.header).toMatchObject({ format: 'jsonl-journal', version: 2 });
    // --fix does not touch damage before the end.
    const before = fs.readFileSync(file);
    expect((await journal(['verify', file, '--fix'])).code).toBe(2);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('--deep also parses every record: a foreign line with a valid checksum over invalid JSON', async () => {
    const { file } = await journalOf(2);
    const { frameJson } = await import('../src/format/frame.js');
    // A batch of its own from some other writer (after the seal the close left, line 4): its data
    // is not JSON, its checksum is right.
    const size = fs.statSync(file).size;
    fs.appendFileSync(file, frameJson(`{"seq":3,"ts":1,"data":{nope},"commit":1,"synced":${size}}`));
    const j = await Journal.open(file);
    await j.append('vouches for it');
    await j.close();
    expect((await journal(['verify', file])).code).toBe(0);
    const deep = await journal(['verify', file, '--deep']);
    expect(deep).toMatchObject({ code: 2, stderr: '' });
    expect(deep.stdout).toContain(`line 5, offset ${size.toLocaleString('en-US')}: invalid JSON`);
  });

  const unreadable: Array<[string, (dir: string) => string, RegExp]> = [
    ['a missing file', (d) => path.join(d, 'nope.jsonl'), /does not exist/],
    ['an empty file', (d) => (fs.writeFileSync(path.join(d, 'e.jsonl'), ''), path.join(d, 'e.jsonl')), /not a jsonl-journal file \(empty file\)/],
    ['not a journal', (d) => (fs.writeFileSync(path.join(d, 'n.txt'), 'hello\nworld\n'), path.join(d, 'n.txt')), /not a jsonl-journal file/],
    ['a directory', (d) => d, /is a directory/],
  ];

  it.each(unreadable)('%s: exit 3 with one line on stderr; --json reports the error on stdout', async (_what, make, message) => {
    const target = make(tmpDir());
    const r = await journal(['verify', target]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const j = await journal(['verify', target, '--json']);
    expect(j).toMatchObject({ code: 3, stderr: '' });
    expect(JSON.parse(j.stdout)).toMatchObject({ status: 'error', error: { message: expect.stringMatching(message) } });
  });

  it('a missing header (the first line cut away): exit 3, not a pile of damaged lines', async () => {
    const { file } = await journalOf(5);
    const b = fs.readFileSync(file);
    fs.writeFileSync(file, b.subarray(b.indexOf(0x0a) + 1));
    const r = await journal(['verify', file]);
    expect(r).toEqual({ code: 3, stdout: '', stderr: `journal: ${file} is not a jsonl-journal file (no "format":"jsonl-journal" in the first line)\n` });
    const j = await journal(['verify', file, '--json']);
    expect(j).toMatchObject({ code: 3, stderr: '' });
    expect(JSON.parse(j.stdout)).toMatchObject({ status: 'error', error: { code: 'NOT_A_JOURNAL' } });
  });

  it('a damaged header: exit 3 (cannot check) plain and --json, and every other command cannot use it either', async () => {
    const { file } = await journalOf(5);
    flipByte(file, 20);
    const before = fs.readFileSync(file);
    const message = `${file}: header line is damaged (checksum mismatch)`;
    const r = await journal(['verify', file]);
    expect(r).toEqual({ code: 3, stdout: '', stderr: `journal: ${message}\n` });
    const j = await journal(['verify', file, '--json']);
    expect(j).toMatchObject({ code: 3, stderr: '' });
    expect(JSON.parse(j.stdout)).toEqual({ file, status: 'error', error: { code: 'CORRUPT', message } });
    for (const cmd of ['repair', 'cat', 'compact', 'stats']) {
      expect(await journal([cmd, file]), cmd).toEqual({ code: 3, stdout: '', stderr: `journal: ${message}\n` });
    }
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(path.dirname(file)).filter((n) => n.includes('.broken'))).toEqual([]);
  });

  it('a file without read permission: exit 3, EACCES named, plain and --json', async () => {
    const dir = tmpDir();
    fs.chmodSync(dir, 0o755);
    const { file } = await journalOf(2, path.join(dir, 'secret.jsonl'));
    fs.chmodSync(file, 0o000);
    // Root reads anything: run as nobody then, from a copy nobody can read.
    const asSomeone = process.getuid?.() === 0 ? { uid: 65534, ...binForEveryone(65534) } : {};
    const r = await journal(['verify', file], asSomeone);
    expect(r).toEqual({ code: 3, stdout: '', stderr: `journal: cannot open ${file}: EACCES\n` });
    const j = await journal(['verify', file, '--json'], asSomeone);
    expect(j).toMatchObject({ code: 3, stderr: '' });
    expect(JSON.parse(j.stdout)).toEqual({ file, status: 'error', error: { code: 'IO_ERROR', message: `cannot open ${file}: EACCES` } });
  });

  it('usage errors: exit 64 with the usage', async () => {
    expect((await journal([])).code).toBe(64);
    const unknown = await journal(['frobnicate']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect(unknown.stderr).not.toMatch(/^\s+at /m);
    const bad = await journal(['verify', '--nope', 'x']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/Unknown option '--nope'/);
    expect((await journal(['verify'])).stderr).toContain('missing <file>');
    expect((await journal(['cat', 'x', '--from-seq', 'abc'])).code).toBe(64);
    const help = await journal(['verify', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 clean; 1 only a torn tail; 2 damage before the end');
  });

  it('a bug prints its stack and how to report it, exit 70; a JSON report is not made of it', async () => {
    const { file } = await journalOf(2);
    const bug = { node: ['--import', PLANT], env: { JOURNAL_PLANT: 'bug' } };
    for (const args of [['verify', file], ['verify', file, '--json']]) {
      const r = await journal(args, bug);
      expect(r.code).toBe(70);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toBe(`journal: internal error: a bug in jsonl-journal ${VERSION}, not a problem with your journal or your command`);
      expect(lines[1]).toBe('TypeError: planted: fstatSync is broken');
      expect(lines[2]).toMatch(/^ {4}at io\.fstatSync /);
      expect(lines.at(-1)).toBe('journal: please report it on the jsonl-journal issue tracker, with the command you ran and everything printed above');
    }
  });

  it('a system error is one line and exit 3, with --json an IO_ERROR report: no stack', async () => {
    const { file } = await journalOf(2);
    const eio = { node: ['--import', PLANT], env: { JOURNAL_PLANT: 'EIO' } };
    const r = await journal(['verify', file], eio);
    expect(r).toMatchObject({ code: 3, stdout: '', stderr: 'journal: EIO: i/o error, fstat\n' });
    const j = await journal(['verify', file, '--json'], eio);
    expect(j).toMatchObject({ code: 3, stderr: '' });
    expect(JSON.parse(j.stdout)).toEqual({ file, status: 'error', error: { code: 'IO_ERROR', message: 'EIO: i/o error, fstat' } });
  });

  it('colours only on a terminal, and not with NO_COLOR', async () => {
    const { file } = await journalOf(2);
    const inTerminal = (env: NodeJS.ProcessEnv) => spawnSync('script', ['-qfec', `${process.execPath} ${BIN} verify ${file}`, '/dev/null'], { encoding: 'utf8', env }).stdout;
    const withColour = { ...process.env };
    delete withColour.NO_COLOR;
    const colour = /\x1b\[\d+m/;
    expect(inTerminal(withColour)).toContain('\x1b[32mok');
    expect(inTerminal({ ...process.env, NO_COLOR: '1' })).not.toMatch(colour);
    expect((await journal(['verify', file], { env: withColour })).stdout).not.toMatch(colour);
  });
});

describe('the progress bar', () => {
  it('verify, repair, compact and stats draw it with bytes, rate and ETA under a terminal; none in a pipe or with --json', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    for (let b = 0; b < 30; b++) await j.appendMany(Array.from({ length: 5000 }, (_, i) => ({ b, i, pad: 'p'.repeat(100) })));
    await j.close();
    const inTerminal = (args: string) => spawnSync('script', ['-qfec', `${process.execPath} ${BIN} ${args}`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } }).stdout;
    const size = String.raw`\d+(?:\.\d)? (?:B|kB|MB|GB|TB)`;
    const bar = (label: string) => new RegExp(String.raw`\r${label} ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \[[#.]{24}\] +\d+% ${size}/${size} ${size}/s ETA \d+s`);
    const cases: Array<[string, string, string]> = [
      ['verify', 'verifying', `${file}: ok`],
      ['repair', 'repairing', 'nothing to repair'],
      ['compact', 'compacting', '150,000 -> 150,000 records'],
      ['stats', 'reading', 'records     150,000'],
    ];
    for (const [cmd, label, done] of cases) {
      const tty = inTerminal(`${cmd} ${file}`);
      expect(tty, cmd).toMatch(bar(label));
      expect(tty, cmd).toContain(done);
      expect(inTerminal(`${cmd} ${file} --json`), cmd).not.toContain(label);
      const piped = await journal([cmd, file]);
      expect(piped, cmd).toMatchObject({ code: 0, stderr: '' });
      expect(piped.stdout, cmd).toContain(done);
      expect(piped.stdout, cmd).not.toContain(label);
    }
  }, 30_000); // twelve runs of the command over 18 MB
});

describe('journal repair', () => {
  it('keeps a .broken copy, drops the damaged lines and the torn tail, keeps every intact record', async () => {
    const { file, offsets } = await journalOf(40);
    flipByte(file, offsets[9]! + 15);
    flipByte(file, offsets[29]! + 15);
    fs.appendFileSync(file, 'a torn tail');
    const original = fs.readFileSync(file);
    const r = await journal(['repair', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`the journal as it was is in ${file}.broken`);
    expect(r.stdout).toContain(`dropped line 11, offset ${offsets[9]!.toLocaleString('en-US')}: checksum mismatch`);
    expect(r.stdout).toContain(`dropped line 31, offset ${offsets[29]!.toLocaleString('en-US')}: checksum mismatch`);
    expect(r.stdout).toContain('dropped torn tail: 11 bytes');
    expect(fs.readFileSync(`${file}.broken`).equals(original)).toBe(true);
    expect((await verify(file)).ok).toBe(true);
    expect((await readAll(file)).map((x) => x.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1).filter((s) => s !== 10 && s !== 30));
    // Now clean, it is left as it is: no second copy, no new generation.
    const size = fs.statSync(file).size;
    const again = await journal(['repair', file, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ dropped: [], tornTail: null, recordsKept: 38, brokenCopy: null });
    expect(fs.existsSync(`${file}.broken.1`)).toBe(false);
    expect(fs.statSync(file).size).toBe(size);
  });
});

describe('journal repair', () => {
  it('a missing file or not a journal: exit 3, and no .broken copy is left behind', async () => {
    const dir = tmpDir();
    const missing = await journal(['repair', path.join(dir, 'nope.jsonl')]);
    expect(missing).toEqual({ code: 3, stdout: '', stderr: `journal: ${path.join(dir, 'nope.jsonl')} does not exist\n` });
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello\n');
    const foreign = await journal(['repair', path.join(dir, 'notes.txt')]);
    expect(foreign).toMatchObject({ code: 3, stdout: '' });
    expect(foreign.stderr).toMatch(/not a jsonl-journal file/);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
  });
});

describe('journal cat', () => {
  it('prints records as JSON lines; --data only the data; --from-seq seeks', async () => {
    const { file } = await journalOf(5);
    const r = await journal(['cat', file]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(lines[0]).toEqual({ seq: 1, ts: expect.any(Number), data: { n: 1, text: 'record 1' } });
    expect((await journal(['cat', file, '--data'])).stdout.trim().split('\n')[4]).toBe('{"n":5,"text":"record 5"}');
    expect((await journal(['cat', file, '--from-seq', '4'])).stdout.trim().split('\n').map((l) => JSON.parse(l).seq)).toEqual([4, 5]);
  });

  it('damage in the middle: the records before it, then exit 2 with the offset', async () => {
    const { file, offsets } = await journalOf(10);
    flipByte(file, offsets[5]! + 12);
    const r = await journal(['cat', file]);
    expect(r.code).toBe(2);
    expect(r.stdout.trim().split('\n')).toHaveLength(5);
    expect(r.stderr).toContain(`offset ${offsets[5]}`);
  });

  it('cat -f | head -3 ends promptly and quietly', async () => {
    const { file } = await journalOf(10);
    const t0 = Date.now();
    const r = spawnSync('sh', ['-c', `${process.execPath} ${BIN} cat -f ${file} | head -3; echo "status \${PIPESTATUS:-done}"`], { encoding: 'utf8', timeout: 10_000 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.stdout.split('\n').slice(0, 3).map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3]);
    expect(r.stderr).toBe('');
    // The writer side sees the pipe close: it must exit 0 and print nothing (bash reports its status).
    const b = spawnSync('bash', ['-c', `${process.execPath} ${BIN} cat -f ${file} | head -3 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 10_000 });
    expect(b.stdout.trim()).toBe('0');
    expect(b.stderr).toBe('');
  });

  it('cat -f with nothing more to print still ends when its reader goes away', async () => {
    const { file } = await journalOf(10);
    // The reader waits until cat has printed everything and gone idle, then takes 3 lines and leaves.
    const t0 = Date.now();
    const r = spawnSync('bash', ['-c', `${process.execPath} ${BIN} cat -f ${file} | { sleep 1; head -3; }; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 15_000 });
    expect(r.signal).toBeNull();
    expect(Date.now() - t0).toBeLessThan(5000);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 3).map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3]);
    expect(lines[3]).toBe('0');
    expect(r.stderr).toBe('');
  });

  it('cat --follow on a journal that does not exist yet waits for it, then prints its records', async () => {
    const file = path.join(tmpDir(), 'later', 'events.jsonl');
    const c = spawn(process.execPath, [BIN, 'cat', '--follow', file], { env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    const exited = new Promise((r) => c.on('exit', r));
    await new Promise((r) => setTimeout(r, 300));
    expect(c.exitCode).toBeNull();
    fs.mkdirSync(path.dirname(file));
    const j = await Journal.open(file);
    await j.append('first');
    await j.close();
    for (const t0 = Date.now(); !out.includes('\n'); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() - t0 > 10_000) throw new Error(`nothing printed; stderr: ${err}`);
    }
    expect(JSON.parse(out).data).toBe('first');
    c.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(err).toBe('');
  });

  it('cat --follow prints records appended later, and exits 0 on SIGINT', async () => {
    const { file } = await journalOf(2);
    const c = spawn(process.execPath, [BIN, 'cat', '--follow', file], { env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    const until = async (n: number) => {
      const t0 = Date.now();
      while (out.trim().split('\n').filter(Boolean).length < n) {
        if (Date.now() - t0 > 10_000) throw new Error(`only ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(2);
    const j = await Journal.open(file);
    await j.append('later');
    await j.close();
    await until(3);
    expect(JSON.parse(out.trim().split('\n')[2]!).data).toBe('later');
    c.kill('SIGINT');
    const code = await new Promise((r) => c.on('exit', r));
    expect(code).toBe(0);
  });
});

describe('journal append', () => {
  it('appends one record per line, creating the journal', async () => {
    const file = tmpJournal();
    const r = await journal(['append', file], { input: '{"a":1}\n\n[1,2]\n"s"\n' });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.trim()).toBe('appended 3 records, seq 1..3');
    expect((await readAll(file)).map((x) => x.data)).toEqual([{ a: 1 }, [1, 2], 's']);
  });

  it('an invalid line: exit 65 naming it; the lines before it are appended, none after', async () => {
    const file = tmpJournal();
    const r = await journal(['append', file], { input: '{"a":1}\n{"b":2}\n{nope\n{"c":3}\n' });
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/stdin line 3: not valid JSON/);
    expect(r.stdout.trim()).toBe('appended 2 records, seq 1..2');
    expect((await readAll(file)).map((x) => x.data)).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('--atomic: all or nothing', async () => {
    const file = tmpJournal();
    const bad = await journal(['append', file, '--atomic'], { input: '{"a":1}\n{"b":2}\n{nope\n' });
    expect(bad.code).toBe(65);
    expect(bad.stdout).toContain('--atomic: nothing appended');
    expect(fs.existsSync(file)).toBe(false);
    const good = await journal(['append', file, '--atomic'], { input: '{"a":1}\n{"b":2}\n' });
    expect(good.code).toBe(0);
    expect((await readAll(file)).length).toBe(2);
  });
});

describe('journal compact, consumers, stats', () => {
  it('compact --key keeps the latest per key; --before-seq is retention; the result is printed', async () => {
    const file = tmpJournal();
    await journal(['append', file], { input: ['{"user":{"id":1},"v":1}', '{"user":{"id":2},"v":1}', '{"user":{"id":1},"v":2}', '{"other":true}'].join('\n') });
    const r = await journal(['compact', file, '--key', 'user.id']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/4 -> 3 records/);
    expect((await readAll(file)).map((x) => x.seq)).toEqual([2, 3, 4]);
    const j = await journal(['compact', file, '--before-seq', '4', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ recordsBefore: 3, recordsAfter: 1, generation: 2 });
  });

  it('consumers lists positions and lag; stats shows the header and counts', async () => {
    const { file } = await journalOf(12);
    expect((await journal(['consumers', file])).stdout).toContain('no consumers');
    const c = await Consumer.open(file, 'mailer');
    const it = c.records();
    for (let i = 0; i < 4; i++) await it.next();
    await c.commit(4);
    await it.return();
    let list = await journal(['consumers', file]);
    expect(list.stdout).toMatch(/NAME\s+SEQ\s+LAG\s+LAST ACTIVE\s+STATE/);
    expect(list.stdout).toMatch(/mailer\s+4\s+8\s+\S+\s+live\n/);
    await c.close();
    list = await journal(['consumers', file]);
    expect(list.stdout).toMatch(/mailer\s+4\s+8\s+\S+\s+stopped\n/);
    expect(JSON.parse((await journal(['consumers', file, '--json'])).stdout)).toEqual([expect.objectContaining({ name: 'mailer', seq: 4, lag: 8 })]);
    const stats = JSON.parse((await journal(['stats', file, '--json'])).stdout);
    expect(stats).toMatchObject({ records: 12, firstSeq: 1, lastSeq: 12, generation: 0, bytes: fs.statSync(file).size, lastAppend: expect.any(String) });
    const human = await journal(['stats', file]);
    expect(human.stdout).toContain('records     12');
  });
});

describe('edges a new user hit', () => {
  it('append: a line that cannot be stored stops it after the lines before it, and the error names that line', async () => {
    const file = tmpJournal();
    const r = await journal(['append', file], { input: '{"a":1}\n{"b":2}\n{"n":1e400}\n{"c":3}\n' });
    expect(r.code).toBe(65);
    expect(r.stderr).toBe('journal: stdin line 3: value.n: a number too large for any double\n');
    expect(r.stdout).toBe('appended 2 records, seq 1..2\n');
    expect((await readAll(file)).map((x) => x.data)).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('append: a line longer than a record can be is named by its line, after the lines before it are appended', async () => {
    const file = tmpJournal();
    const big = `{"s":"${'x'.repeat(16 * 1024 * 1024)}"}`;
    const r = await journal(['append', file], { input: `{"a":1}\n${big}\n{"c":3}\n` });
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/^journal: stdin line 2: \d+ bytes of JSON exceeds maxRecordBytes \(16777216\)\n$/);
    expect(r.stdout).toBe('appended 1 record, seq 1\n');
    expect((await readAll(file)).map((x) => x.data)).toEqual([{ a: 1 }]);
  });

  it('append: a line that is not UTF-8 is named by its line, not stored with its bytes replaced', async () => {
    const file = tmpJournal();
    const r = await journal(['append', file], { input: Buffer.concat([Buffer.from('{"a":1}\n{"b":"'), Buffer.from([0xff]), Buffer.from('"}\n{"c":3}\n')]) });
    expect(r.code).toBe(65);
    expect(r.stderr).toBe('journal: stdin line 2: not valid UTF-8\n');
    expect(r.stdout).toBe('appended 1 record, seq 1\n');
    expect((await readAll(file)).map((x) => x.data)).toEqual([{ a: 1 }]);
  });

  it('append stores numbers exactly as written, and cat prints them so', async () => {
    const file = tmpJournal();
    const r = await journal(['append', file], { input: '{ "n": 12345678901234567890123, "f": 1.000000000000000000001, "s": "two  spaces" }\n' });
    expect(r.code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toContain('"data":{"n":12345678901234567890123,"f":1.000000000000000000001,"s":"two  spaces"}');
    const cat = await journal(['cat', file, '--data']);
    expect(cat.stdout).toBe('{"n":12345678901234567890123,"f":1.000000000000000000001,"s":"two  spaces"}\n');
  });

  it('stats: the text and --json give the same highest seq assigned, not the header\'s stale one', async () => {
    const file = tmpJournal();
    await journalOf(5, file);
    await compact(file);
    const j = await Journal.open(file);
    await j.appendMany([6, 7]);
    await j.close();
    const text = await journal(['stats', file]);
    const json = JSON.parse((await journal(['stats', file, '--json'])).stdout);
    expect(json.maxSeq).toBe(7);
    expect(text.stdout).toContain('(max assigned 7,');
  });

  it('repair of a clean journal writes no .broken copy and no new generation, however often it runs', async () => {
    const { file } = await journalOf(3);
    const before = fs.readFileSync(file);
    for (let i = 0; i < 2; i++) {
      const r = await journal(['repair', file]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toContain('nothing to repair');
    }
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(path.dirname(file))).toEqual([path.basename(file)]);
  });

  it('counts say "1 record", not "1 records"', async () => {
    const { file } = await journalOf(1);
    expect((await journal(['repair', file])).stdout).toContain('nothing to repair: 1 record, no damage');
    expect((await journal(['verify', file])).stdout).toContain('  1 record, ');
    const { file: two } = await journalOf(2);
    expect((await journal(['verify', two])).stdout).toContain('  2 records, ');
  });

  it('append among other writers does not print its seqs as a range of its own', async () => {
    const file = tmpJournal();
    await journalOf(0, file);
    const c = spawn(process.execPath, [BIN, 'append', file], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    c.stdout.on('data', (d) => (stdout += d));
    const line = (i: number) => `{"cli":${i}}\n`;
    c.stdin.write(Array.from({ length: 1000 }, (_, i) => line(i)).join(''));
    // Its first group of 1,000 lines is appended once read: then another writer appends.
    for (const t0 = Date.now(); (await readAll(file)).length < 1000; await sleep(20)) if (Date.now() - t0 > 20_000) throw new Error('the first group never came');
    const other = await Journal.open(file);
    await other.append({ other: true });
    await other.close();
    c.stdin.end(Array.from({ length: 1000 }, (_, i) => line(1000 + i)).join(''));
    await new Promise((r) => c.on('close', r));
    expect(stdout).toBe("appended 2,000 records, seqs from 1 to 2,001 among other writers' records\n");
  });

  it('opening a journal in a missing directory names the journal, not a temp file', async () => {
    const file = path.join(tmpDir(), 'no-such-dir', 'e.jsonl');
    const r = await journal(['append', file], { input: '{"a":1}\n' });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`journal: cannot create ${file}: its directory ${path.dirname(file)} does not exist\n`);
    await expect(Journal.open(file)).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND, path: file });
  });

  it('a negative number after an option gets that option\'s own message', async () => {
    const { file } = await journalOf(3);
    const r = await journal(['cat', file, '--from-seq', '-3']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^journal: --from-seq takes a positive integer, not "-3"\n/);
  });

  it('a negative number after a short option gets that option\'s own message too', async () => {
    const { file } = await journalOf(3);
    const r = await journal(['cat', file, '-n', '-3']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^journal: --last takes 0 or a positive integer, not "-3"\n/);
  });

  it('no progress bar for a small file, even under a terminal', async () => {
    const { file } = await journalOf(5);
    const tty = spawnSync('script', ['-qfec', `${process.execPath} ${BIN} verify ${file}`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } }).stdout;
    expect(tty).toContain(`${file}: ok`);
    expect(tty).not.toContain('verifying');
  });

  it('append with no input appends nothing and creates no journal', async () => {
    const file = tmpJournal();
    const r = await journal(['append', file], { input: '\n\n' });
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'appended 0 records\n' });
    expect(fs.existsSync(file)).toBe(false);
    const none = await journal(['append', file], { input: '' });
    expect(none).toMatchObject({ code: 0, stdout: 'appended 0 records (no input)\n' });
    expect(fs.existsSync(file)).toBe(false);
  });

  it('a line another tool appended is named as such by verify, and append says where it saved it before cutting it', async () => {
    const { file } = await journalOf(2);
    const size = fs.statSync(file).size;
    fs.appendFileSync(file, '{"manual":1}\n');
    const v = await journal(['verify', file]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('1 line of plain JSON without checksums, which another tool appended, not a crash');
    const a = await journal(['append', file], { input: '{"after":1}\n' });
    expect(a.code).toBe(0);
    expect(a.stderr).toMatch(new RegExp(`cut 1 line of plain JSON without checksums \\(another tool appended it\\) at offset ${size}; the bytes are saved in (\\S+\\.cut)\\n$`));
    const saved = /saved in (\S+\.cut)/.exec(a.stderr)![1]!;
    expect(fs.readFileSync(saved, 'utf8')).toBe('{"manual":1}\n');
  });
});

describe('what a command cuts, it says where it saved', () => {
  it.each([
    ['compact', []],
    ['truncate', ['--to-seq', '2']],
  ])('%s: the torn tail it leaves out, and the file its bytes were saved in', async (cmd, args) => {
    const { file } = await journalOf(3);
    const size = fs.statSync(file).size;
    fs.appendFileSync(file, 'torn bytes');
    const r = await journal([cmd, file, ...args]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const m = new RegExp(`\\n  cut a torn tail of 10 bytes at offset ${size.toLocaleString('en-US')}; the bytes are saved in (\\S+\\.cut)\\n$`).exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(fs.readFileSync(m![1]!, 'utf8')).toBe('torn bytes');
    fs.appendFileSync(file, 'torn again');
    const json = JSON.parse((await journal([cmd, file, ...(cmd === 'truncate' ? ['--to-seq', '1'] : []), '--json'])).stdout);
    expect(json.cut).toMatchObject({ bytes: 10, foreign: 0, savedTo: expect.stringMatching(/\.cut$/) });
    expect(fs.readFileSync(json.cut.savedTo, 'utf8')).toBe('torn again');
  });
});

describe('journal consumers --reset and --delete', () => {
  const log = (file: string) => path.join(`${file}.consumers`, 'positions.jsonl');
  async function committedAt(file: string, name: string, seq: number): Promise<void> {
    const c = await Consumer.open(file, name);
    const it = c.records();
    for (let i = 0; i < seq; i++) await it.next();
    await c.commit(seq);
    await it.return();
    await c.close();
  }
  const nextOf = async (file: string, name: string) => {
    const c = await Consumer.open(file, name);
    const r = await c.records().next();
    await c.close();
    return r.value.seq;
  };

  it('--reset NAME --to earliest, latest or a seq; --delete NAME: done, said, and read back', async () => {
    const { file } = await journalOf(12);
    await committedAt(file, 'mailer', 8);
    let r = await journal(['consumers', file, '--reset', 'mailer', '--to', '3']);
    expect(r).toEqual({ code: 0, stdout: `${file}: consumer mailer reset from seq 8 to seq 2: it reads seq 3 next\n`, stderr: '' });
    expect(await nextOf(file, 'mailer')).toBe(3);
    r = await journal(['consumers', file, '--reset', 'mailer', '--to', 'latest', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ file, name: 'mailer', previous: 2, seq: 12, next: 13, wasLive: false });
    r = await journal(['consumers', file, '--reset', 'mailer', '--to', 'earliest']);
    expect(r.stdout).toContain('it reads seq 1 next');
    expect(await nextOf(file, 'mailer')).toBe(1);
    r = await journal(['consumers', file, '--delete', 'mailer']);
    expect(r).toEqual({ code: 0, stdout: `${file}: consumer mailer deleted (it was at seq 0)\n`, stderr: '' });
    expect((await journal(['consumers', file])).stdout).toContain('no consumers');
    r = await journal(['consumers', file, '--delete', 'mailer']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("no consumer named 'mailer'");
  });

  it('a running consumer is refused, exit 3, unless --force; forced, its next commit fails with CONSUMER_RESET', async () => {
    const { file } = await journalOf(500);
    const child = new Child('consumer-running.mjs', [file, 'worker', '10']);
    await child.waitFor((l) => l.startsWith('committed'));
    for (const args of [['--reset', 'worker', '--to', '1'], ['--delete', 'worker']]) {
      const r = await journal(['consumers', file, ...args]);
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(`journal: ${file}: consumer worker is open in a running process: stop it first, or pass --force (its later commits are then refused)\n`);
    }
    expect((await journal(['consumers', file])).stdout).toMatch(/worker\s+\d+\s+\d+\s+\S+\s+live\n/);
    const r = await journal(['consumers', file, '--reset', 'worker', '--to', '1', '--force']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('consumer worker was running: its commits are refused from now on (CONSUMER_RESET)');
    await child.waitFor((l) => l.startsWith('error'));
    expect(child.lines.at(-1)).toBe('error CONSUMER_RESET');
    expect((await child.exited).code).toBe(0);
    expect(await nextOf(file, 'worker')).toBe(1);
  });

  it('--delete NAME --force on a running consumer: deleted at once; its next commit fails with CONSUMER_RESET and does not bring it back', async () => {
    const { file } = await journalOf(500);
    const child = new Child('consumer-running.mjs', [file, 'worker', '10']);
    await child.waitFor((l) => l.startsWith('committed'));
    const r = await journal(['consumers', file, '--delete', 'worker', '--force']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${file}: consumer worker deleted \\(it was at seq \\d+\\)\\n$`));
    expect(r.stderr).toContain('consumer worker was running: its commits are refused from now on (CONSUMER_RESET)');
    await child.waitFor((l) => l.startsWith('error'));
    expect(child.lines.at(-1)).toBe('error CONSUMER_RESET');
    expect((await child.exited).code).toBe(0);
    expect((await journal(['consumers', file])).stdout).toContain('no consumers');
  });

  it('the list says which consumer expired, and after how long away', async () => {
    const { file } = await journalOf(5);
    const c = await Consumer.open(file, 'away', { expireAfterMs: 100 });
    await c.close();
    await sleep(300);
    const r = await journal(['consumers', file]);
    expect(r.stdout).toMatch(/away\s+0\s+5\s+\S+\s+expired \(100ms without it\)\n/);
    expect(JSON.parse((await journal(['consumers', file, '--json'])).stdout)).toEqual([expect.objectContaining({ name: 'away', live: false, expired: true, expireAfterMs: 100 })]);
  });

  it('--reset NAME --to TIME: the first record appended at or after it; a time after the last: from now on', async () => {
    const file = tmpJournal();
    const base = Date.parse('2026-11-22T03:00:00Z');
    const j = await Journal.open(file);
    await j.appendMany(Array.from({ length: 10 }, (_, i) => ({ i })), { ts: Array.from({ length: 10 }, (_, i) => base + (i + 1) * 60_000) });
    await j.close();
    await committedAt(file, 'c', 2);
    let r = await journal(['consumers', file, '--reset', 'c', '--to', '2026-11-22T03:04:30Z']);
    expect(r).toEqual({ code: 0, stdout: `${file}: consumer c reset from seq 2 to seq 4: it reads seq 5 next\n`, stderr: '' });
    expect(await nextOf(file, 'c')).toBe(5);
    r = await journal(['consumers', file, '--reset', 'c', '--to', '2026-11-22T03:02:00Z']);
    expect(r.stdout).toContain('it reads seq 2 next');
    // An hour ago: after every record, so from now on.
    r = await journal(['consumers', file, '--reset', 'c', '--to', '1h', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ seq: 10, next: 11 });
  });

  it('bad arguments: exit 64 and nothing written', async () => {
    const { file } = await journalOf(5);
    await committedAt(file, 'c', 2);
    const before = fs.readFileSync(log(file));
    for (const args of [
      ['--reset', 'c'], ['--to', 'latest'], ['--reset', 'c', '--to', 'oldest'], ['--reset', 'c', '--to', '2026-13-45T03:00:00Z'], ['--reset', 'c', '--to', 'yesterday'],
      ['--reset', 'c', '--to', '0'], ['--reset', 'c', '--to', '7'], ['--reset', 'c', '--delete', 'c', '--to', '1'], ['--force'],
    ]) {
      const r = await journal(['consumers', file, ...args]);
      expect(r.code, args.join(' ')).toBe(64);
      expect(r.stderr).toMatch(/^journal: /);
    }
    expect(fs.readFileSync(log(file)).equals(before)).toBe(true);
  });

  it('compact keeps what a consumer has not read and says so; --ignore-consumers removes it and names the consumer left behind', async () => {
    const { file } = await journalOf(20);
    await committedAt(file, 'slow', 5);
    let r = await journal(['compact', file, '--before-seq', '15']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/20 -> 15 records/);
    expect(r.stdout).toContain('kept 9 records for consumer slow (seq 5), which has not read them');
    expect(r.stderr).toBe('');
    r = await journal(['compact', file, '--before-seq', '15', '--ignore-consumers']);
    expect(r.stdout).toMatch(/15 -> 6 records/);
    expect(r.stderr).toBe('journal: left consumer slow (seq 5) behind: removed 9 records it had not read; its next read fails with POSITION_GONE\n');
    const json = JSON.parse((await journal(['compact', file, '--json'])).stdout);
    expect(json.consumers).toEqual([]);
    expect((await journal(['compact', file, '--ignore-consumers', '--retain-for-consumers'])).code).toBe(64);
  });
});
