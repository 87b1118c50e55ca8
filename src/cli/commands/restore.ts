/** journal restore <file> --server URL --stream NAME [--fail-fast] [--json]: rebuild a journal from a stream ship filled. */
import type { RestoreEvent } from 'jsonl-journal/nats';
import { interruption, natsTarget, onePath, report, type Command } from '../command.js';
import { count, counted, Exit, Progress, yellow } from '../term.js';
import { describeCut } from './recovered.js';

export const restoreCommand: Command = {
  name: 'restore',
  help: `Usage: journal restore <file> --server URL --stream NAME [--fail-fast] [--json]

Rebuilds the journal from the stream, keeping every record's seq and timestamp and the journal's
id: the copy reads back record for record like the original. If <file> exists (an earlier restore,
or one that was interrupted), it appends what the stream holds after the file's last seq, after
checking that the stream holds the same record under that seq; running it again changes nothing.
It copies up to the stream's end when it started, and exits.

Options:
  --server URL   NATS server (nats://host:4222); repeat it for the servers of a cluster
  --stream NAME  the stream to restore from
  --fail-fast    exit at once when no server answers, instead of retrying with backoff
  --json         print the result as JSON: { file, journalId, restored, firstSeq, lastSeq, cut }

Exit codes: 0 restored (or already up to date); 3 could not restore (no server answers with
--fail-fast, no such stream, a message that is not a journal record, a local journal that is
another one or holds other records, the NATS client not installed); 64 usage error.`,
  options: {
    server: { type: 'string', multiple: true },
    stream: { type: 'string' },
    'fail-fast': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(values, positionals) {
    const file = onePath(positionals);
    const { servers, stream } = natsTarget(values);
    const stop = interruption();
    const bar = new Progress(`restoring ${file}`, values.json !== true, (n) => `${count(n)} rec`);
    let r;
    try {
      r = await (await import('jsonl-journal/nats')).restore(file, {
        server: servers,
        stream,
        failFast: values['fail-fast'] === true,
        signal: stop.signal,
        onEvent: say,
        onProgress: (p) => bar.update(p.restored, p.total),
      });
    } catch (err) {
      return report(err);
    } finally {
      bar.finish();
      stop.release();
    }
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify({ file, ...r })}\n`);
      return Exit.OK;
    }
    if (r.restored === 0) process.stdout.write(`${file}: up to date with stream ${stream}; nothing to restore\n`);
    else process.stdout.write(`${file}: restored ${counted(r.restored, 'record')}, seq ${count(r.firstSeq!)}..${count(r.lastSeq!)}, from stream ${stream}\n`);
    if (r.cut !== null) process.stdout.write(`  ${describeCut(r.cut)}\n`);
    return Exit.OK;
  },
};

function say(e: RestoreEvent): void {
  if (e.type === 'retry') process.stderr.write(`${yellow(process.stderr, 'journal:')} ${e.error.message}; retrying in ${(e.delayMs / 1000).toFixed(1)} s (attempt ${e.attempt})\n`);
  else if (e.type === 'disconnected') process.stderr.write(`${yellow(process.stderr, 'journal:')} disconnected from ${e.server}; reconnecting\n`);
  else process.stderr.write(`journal: reconnected to ${e.server}\n`);
}
