// npm run bench [-- <section>...] [--rounds N] [--time MS] [--write]
// Prints each section's table; with --write, also puts it into docs/benchmarks.md.
import { machine, parseArgs, writeSection } from './lib.mjs';

const SECTIONS = {
  append: () => import('./append.mjs'),
  replay: () => import('./replay.mjs'),
  crc: () => import('./crc.mjs'),
  lock: () => import('./lock.mjs'),
  multiprocess: () => import('./multiprocess.mjs'),
  compact: () => import('./compact.mjs'),
  follow: () => import('./follow.mjs'),
  commit: () => import('./commit.mjs'),
  group: () => import('./group.mjs'),
  cli: () => import('./cli.mjs'),
  time: () => import('./time.mjs'),
  ship: () => import('./ship.mjs'),
  'import-export': () => import('./import-export.mjs'),
  pino: () => import('./pino.mjs'),
  ui: () => import('./ui.mjs'),
};

const args = parseArgs(process.argv.slice(2));
const names = args.only ?? Object.keys(SECTIONS);
const where = machine();
console.log(`jsonl-journal benchmarks: ${where}\n`);
for (const name of names) {
  if (!SECTIONS[name]) throw new Error(`no bench section ${name}; have ${Object.keys(SECTIONS).join(', ')}`);
  const { run, minRounds = 1 } = await SECTIONS[name]();
  // A section whose figures need more rounds to be stable asks for them.
  const rounds = Math.max(args.rounds, minRounds);
  const md = `${await run({ ...args, rounds })}\n\n_Measured ${where}; ${rounds} interleaved rounds._`;
  console.log(`## ${name}\n\n${md}\n`);
  if (args.write) writeSection(name, md);
}
