/**
 * The page's files: the console's own HTML, CSS and JavaScript (`page/`, copied beside the compiled
 * code by the build) and uPlot from its npm package, each at a fixed URL. Only the files listed
 * here are served, so no URL can name another file; each is read once and kept (about 200 kB).
 */
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));
const UPLOT_DIR = path.dirname(createRequire(import.meta.url).resolve('uplot'));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/** URL path -> file. */
async function table(): Promise<Map<string, string>> {
  const files = new Map<string, string>([
    ['/', path.join(PAGE_DIR, 'index.html')],
    ['/vendor/uPlot.esm.js', path.join(UPLOT_DIR, 'uPlot.esm.js')],
    ['/vendor/uPlot.min.css', path.join(UPLOT_DIR, 'uPlot.min.css')],
  ]);
  for (const name of await fs.readdir(PAGE_DIR)) {
    if (name !== 'index.html' && path.extname(name) in TYPES) files.set(`/app/${name}`, path.join(PAGE_DIR, name));
  }
  return files;
}

export interface Asset {
  body: Buffer;
  type: string;
}

export class Assets {
  #files: Promise<Map<string, string>> | null = null;
  readonly #loaded = new Map<string, Promise<Asset>>();

  /** The file served at `urlPath`, or null if there is none. */
  async get(urlPath: string): Promise<Asset | null> {
    this.#files ??= table();
    const file = (await this.#files).get(urlPath);
    if (file === undefined) return null;
    let a = this.#loaded.get(urlPath);
    if (a === undefined) {
      a = fs.readFile(file).then((body) => ({ body, type: TYPES[path.extname(file)] ?? 'application/octet-stream' }));
      this.#loaded.set(urlPath, a);
    }
    return a;
  }
}
