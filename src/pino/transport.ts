/**
 * The entry as a pino transport target: `pino.transport({ target: 'jsonl-journal/pino', options })`.
 * pino runs it in a worker thread (thread-stream), which writes to the stream it returns, calls its
 * flush(cb) for logger.flush(cb), and, at the end and at process exit, ends it and waits for 'close'.
 */
import { journalDestination, type JournalDestination, type JournalDestinationOptions } from './destination.js';

/** What a transport is given: the journal's path and options; all must survive structured cloning. */
export interface JournalTransportOptions extends JournalDestinationOptions {
  path: string;
}

/**
 * The destination itself is the stream: it has the flush(cb) that thread-stream calls, so a
 * logger.flush(cb) through the transport waits until the lines are durable.
 */
export async function journalTransport(options: JournalTransportOptions): Promise<JournalDestination> {
  if (typeof options !== 'object' || options === null) throw new TypeError('the jsonl-journal/pino transport needs options: { path }');
  const { path, ...journalOptions } = options;
  return journalDestination(path, journalOptions);
}
