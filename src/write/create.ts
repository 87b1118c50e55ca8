/** Creating a journal: its header made durable under its name, exactly once however many processes race. */
import { encodeHeader, type Header } from '../format/header.js';
import { createDurably } from '../fs/durable.js';

/** Creates the journal with this header unless it exists; false if it did. */
export function createJournalFile(file: string, header: Header): Promise<boolean> {
  return createDurably(file, encodeHeader(header), 'create');
}
