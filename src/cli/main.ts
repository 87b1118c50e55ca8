#!/usr/bin/env node
/**
 * The `journal` command: parses arguments with node:util parseArgs and runs a subcommand; every
 * failure is one line on stderr and a documented exit code, except a bug, which prints its stack.
 */
import module from 'node:module';
import { parseArgs } from 'node:util';
import type { Command } from './command.js';
import { Exit, red, UsageError } from './term.js';

// Node 22.1 and later keep the compiled code of the modules loaded below from one run to the next,
// as tsc does: start-up is most of a short command's time (docs/benchmarks.md). Node 20 has no such cache.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

interface Entry {
  name: string;
  /** One line for `journal --help`. */
  summary: string;
  /** Only the command that runs is loaded: its modules, and the part of the library it uses. */
  load(): Promise<Command>;
}

const commands: Entry[] = [
  { name: 'verify', summary: 'check every line of a journal; exit 0 clean, 1 torn tail, 2 damage, 3 could not check', load: async () => (await import('./commands/verify.js')).verifyCommand },
  { name: 'repair', summary: 'rewrite a damaged journal without its damaged lines (keeps a .broken copy)', load: async () => (await import('./commands/repair.js')).repairCommand },
  { name: 'cat', summary: 'print records as JSON lines (pipe to jq); by seq, by time, the last N; --follow keeps printing new ones', load: async () => (await import('./commands/cat.js')).catCommand },
  { name: 'append', summary: 'append one record per line of JSON read from stdin (creates the journal)', load: async () => (await import('./commands/append.js')).appendCommand },
  { name: 'import', summary: 'append every line of a JSON Lines file (a pino log, an export) as a record', load: async () => (await import('./commands/import.js')).importCommand },
  { name: 'export', summary: 'write the records\' data as plain JSON Lines, one value per line (what import reads)', load: async () => (await import('./commands/export.js')).exportCommand },
  { name: 'compact', summary: 'rewrite a journal smaller: latest record per key, retention by seq, age or size (crash-safe, live)', load: async () => (await import('./commands/compact.js')).compactCommand },
  { name: 'truncate', summary: 'drop every record after a seq or a time, keeping a copy of what it drops (undo a bad deploy)', load: async () => (await import('./commands/truncate.js')).truncateCommand },
  { name: 'consumers', summary: 'list the named consumers of a journal (position, lag, activity, live); reset or delete one', load: async () => (await import('./commands/consumers.js')).consumersCommand },
  { name: 'stats', summary: 'show a journal\'s header, record count, seq range, size and last append time', load: async () => (await import('./commands/stats.js')).statsCommand },
  { name: 'ui', summary: 'a local web console for a journal, read-only: overview, records over time, live tail, consumers', load: async () => (await import('./commands/ui.js')).uiCommand },
  { name: 'ship', summary: 'publish every record to a NATS JetStream stream and keep following (needs the NATS client)', load: async () => (await import('./commands/ship.js')).shipCommand },
  { name: 'restore', summary: 'rebuild a journal from the JetStream stream journal ship filled (needs the NATS client)', load: async () => (await import('./commands/restore.js')).restoreCommand },
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: journal <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

journal <command> --help shows a command's options and exit codes; journal --version the version.
Documentation: docs/cli.md.
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(usage());
    return name === undefined ? Exit.USAGE : Exit.OK;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${(await import('./command.js')).version()}\n`);
    return Exit.OK;
  }
  const entry = commands.find((c) => c.name === name);
  let cmd: Command | undefined;
  try {
    if (entry === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    cmd = await entry.load();
    const { values, positionals } = parseArgs({ args: withNegativeValues(rest, cmd), options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (values.help === true) {
      process.stdout.write(`${cmd.help}\n`);
      return Exit.OK;
    }
    return await cmd.run(values, positionals);
  } catch (err) {
    const parseError = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    if (err instanceof UsageError || parseError) {
      process.stderr.write(`${red(process.stderr, 'journal:')} ${(err as Error).message}\n${cmd === undefined ? usage() : `${cmd.help.split('\n')[0]}\nRun journal ${cmd.name} --help for more.\n`}`);
      return Exit.USAGE;
    }
    return (await import('./command.js')).report(err);
  }
}

/**
 * `--from-seq -3` as `--from-seq=-3`, and `-n -3` as `--last=-3`: parseArgs takes a value that
 * starts with a dash for an option it does not know, and its message says so in its own terms.
 * Given to the option, the value gets the option's own check and message (a positive integer, not "-3").
 */
function withNegativeValues(args: string[], cmd: Command): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : /^-[^-]$/.test(a) ? Object.keys(cmd.options).find((k) => cmd.options[k]!.short === a[1]) : undefined;
    if (name !== undefined && cmd.options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

process.exitCode = await main(process.argv.slice(2));
