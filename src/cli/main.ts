#!/usr/bin/env node
/**
 * The `journal` command: parses arguments with node:util parseArgs and runs a subcommand; every
 * failure is one line on stderr and a documented exit code, except a bug, which prints its stack.
 */
import { parseArgs } from 'node:util';
import { appendCommand } from './commands/append.js';
import { catCommand } from './commands/cat.js';
import { compactCommand } from './commands/compact.js';
import { consumersCommand } from './commands/consumers.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { repairCommand } from './commands/repair.js';
import { restoreCommand } from './commands/restore.js';
import { shipCommand } from './commands/ship.js';
import { statsCommand } from './commands/stats.js';
import { truncateCommand } from './commands/truncate.js';
import { verifyCommand } from './commands/verify.js';
import { report, version, type Command } from './command.js';
import { Exit, red, UsageError } from './term.js';

const commands: Command[] = [
  verifyCommand, repairCommand, catCommand, appendCommand, importCommand, exportCommand,
  compactCommand, truncateCommand, consumersCommand, statsCommand, shipCommand, restoreCommand,
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
    process.stdout.write(`${version()}\n`);
    return Exit.OK;
  }
  const cmd = commands.find((c) => c.name === name);
  try {
    if (cmd === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
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
    return report(err);
  }
}

/**
 * `--from-seq -3` as `--from-seq=-3`: parseArgs takes a value that starts with a dash for an option
 * it does not know, and its message says so in its own terms. Given to the option, the value gets
 * the option's own check and message (a positive integer, not "-3").
 */
function withNegativeValues(args: string[], cmd: Command): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : null;
    if (name !== null && cmd.options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

process.exitCode = await main(process.argv.slice(2));
