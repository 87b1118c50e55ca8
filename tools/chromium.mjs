// Finds a Chromium for the browser tests and the console's benchmark (Debian's `chromium` package;
// .ci/run installs it), and launches it headless through playwright-core.
import fs from 'node:fs';
import path from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The path of a Chromium on the PATH, or null. */
export function findChromium() {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of NAMES) {
      const p = path.join(dir, name);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return p;
      } catch {
        // Not here: look further.
      }
    }
  }
  return null;
}

/** A headless Chromium; as root (CI, containers) without its sandbox, which root cannot use. */
export async function launchChromium() {
  const executablePath = findChromium();
  if (executablePath === null) throw new Error('no chromium on the PATH (apt-get install chromium)');
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
}
