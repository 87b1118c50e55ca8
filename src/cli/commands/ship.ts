/** journal ship <file> --server URL --stream NAME [--subject S] ...: publish a journal to NATS JetStream, live. */
import type { ShipEvent } from 'jsonl-journal/nats';
import { interruption, intOption, natsTarget, onePath, report, type Command } from '../command.js';
import { count, counted, Exit, red, yellow } from '../term.js';
import { parseTime } from '../time.js';

export const shipCommand: Command = {
  name: 'ship',
  help: `Usage: journal ship <file> --server URL --stream NAME [--subject S] [--consumer NAME]
                     [--since T] [--max-in-flight N] [--ack-timeout MS] [--fail-fast]

Publishes each record of the journal to a JetStream stream, in seq order, then keeps following the
journal and publishes new records as any process appends them, until interrupted. Ctrl-C or
SIGTERM: it waits for the acknowledgements in flight, commits its position and exits 0.

The position is kept by a named consumer of the journal (see journal consumers); it moves only
once JetStream acknowledged every record up to it. A restarted shipper reads the newest message
of the stream and goes on after the record it holds, so no record is published twice. The stream
must exist (retention limits) and hold this journal only. Messages: the record's data as JSON,
with the headers Nats-Msg-Id (<journal id>:<seq>), Journal-Id, Journal-Created, Journal-Seq and
Journal-Ts. Needs the NATS client: npm install @nats-io/transport-node @nats-io/jetstream.

Options:
  --server URL        NATS server (nats://host:4222); repeat it for the servers of a cluster
  --stream NAME       the stream to publish to
  --subject S         the subject to publish on (default: the stream's subject, if it has only one)
  --consumer NAME     the journal consumer that keeps the position (default: ship-<stream>)
  --since T           a first run starts at the first record appended at or after T (an ISO 8601
                      date, or a time ago: 2h); once the shipper has a position, it goes on from it
  --max-in-flight N   publishes awaiting JetStream's acknowledgement at most (default 256)
  --ack-timeout MS    how long to wait for an acknowledgement before re-reading the stream's end (default 5000)
  --fail-fast         exit at once when no server answers, instead of retrying with backoff

Exit codes: 0 stopped by a signal; 3 could not ship (no server answers with --fail-fast, no such
stream, a misconfigured stream, a record refused, a journal that diverged from the stream, the NATS
client not installed); 64 usage error.`,
  options: {
    server: { type: 'string', multiple: true },
    stream: { type: 'string' },
    subject: { type: 'string' },
    consumer: { type: 'string' },
    since: { type: 'string' },
    'max-in-flight': { type: 'string' },
    'ack-timeout': { type: 'string' },
    'fail-fast': { type: 'boolean' },
  },
  async run(values, positionals) {
    const file = onePath(positionals);
    const { servers, stream } = natsTarget(values);
    const maxInFlight = intOption(values, 'max-in-flight');
    const ackTimeoutMs = intOption(values, 'ack-timeout');
    const fromTs = typeof values.since === 'string' ? parseTime('since', values.since) : undefined;
    const stop = interruption();
    try {
      const shipper = await (await import('jsonl-journal/nats')).ship(file, {
        server: servers,
        stream,
        ...(typeof values.subject === 'string' ? { subject: values.subject } : {}),
        ...(typeof values.consumer === 'string' ? { consumer: values.consumer } : {}),
        ...(fromTs !== undefined ? { fromTs } : {}),
        ...(maxInFlight !== undefined ? { maxInFlight } : {}),
        ...(ackTimeoutMs !== undefined ? { ackTimeoutMs } : {}),
        failFast: values['fail-fast'] === true,
        signal: stop.signal,
        onEvent: say,
      });
      process.stdout.write(`${file}: shipping to stream ${shipper.stream} (subject ${shipper.subject}) from seq ${count(shipper.ackedSeq + 1)}\n`);
      await shipper.done;
      process.stdout.write(`${file}: stopped; ${counted(shipper.stats.published, 'record')} shipped in this run, position seq ${count(shipper.position)}\n`);
      return Exit.OK;
    } catch (err) {
      if (stop.signal.aborted && (err as { code?: string }).code === 'ABORTED') return Exit.OK;
      return report(err);
    } finally {
      stop.release();
    }
  },
};

/** One line on stderr per event: people watching a shipper want to know when it waits and why. */
function say(e: ShipEvent): void {
  const line = (s: string) => process.stderr.write(`${s}\n`);
  switch (e.type) {
    case 'retry':
      line(`${yellow(process.stderr, 'journal:')} ${e.error.message}; retrying in ${(e.delayMs / 1000).toFixed(1)} s (attempt ${e.attempt})`);
      break;
    case 'disconnected':
      line(`${yellow(process.stderr, 'journal:')} disconnected from ${e.server}; reconnecting`);
      break;
    case 'reconnected':
      line(`journal: reconnected to ${e.server}`);
      break;
    case 'resync':
      line(`journal: ${e.reason}; the stream ends at stream seq ${e.streamSeq}${e.journalSeq === null ? '' : ` (journal seq ${e.journalSeq})`}, going on from there`);
      break;
    case 'skipped':
      line(`${red(process.stderr, 'journal:')} seqs ${e.fromSeq}..${e.toSeq} were removed from the journal by compaction before they were shipped: they are not in the stream`);
      break;
  }
}
