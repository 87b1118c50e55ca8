// The commit of earlier versions, the baseline of the commit bench: one framed line in
// <name>.pos, replaced by write-replace on every commit (temp file, write, fsync, rename, fsync the
// directory). Commits wait for the one before them, as they did.
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from '../dist/format/crc.js';

export class WriteReplaceCommit {
  #chain = Promise.resolve();
  #n = 0;

  /** `synced(n)` is told of the n fsyncs each commit makes. */
  constructor(dir, name, synced = () => {}) {
    this.dir = dir;
    this.file = path.join(dir, `${name}.pos`);
    this.synced = synced;
  }

  commit(seq) {
    const run = this.#chain.then(() => this.#write(seq));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #write(seq) {
    await fs.promises.mkdir(this.dir).catch((e) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
    const json = JSON.stringify({ name: path.basename(this.file, '.pos'), seq, updated: Date.now(), journal: 'id', fingerprint: `${Date.now()}:1a2b3c4d` });
    const line = `${crc32(Buffer.from(json)).toString(16).padStart(8, '0')} ${json}\n`;
    const tmp = path.join(this.dir, `.${path.basename(this.file)}.replace-${process.pid}-${this.#n++}.tmp`);
    const fh = await fs.promises.open(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    try {
      await fh.write(line, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, this.file);
    const dir = await fs.promises.open(this.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.synced(2);
  }
}
