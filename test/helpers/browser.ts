import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Where @sparticuz/chromium unpacks its browser: inside this checkout, so checkouts never race for one /tmp/chromium. */
const UNPACK_DIR = fileURLToPath(new URL('../../node_modules/.cache/sparticuz-chromium/', import.meta.url));

/**
 * A headless Chromium for browser tests, from the npm registry (no apt package, no download:
 * @sparticuz/chromium ships it brotli-compressed and unpacks it on first use), or the browser
 * CHROMIUM_PATH names. Only --no-sandbox is added (the sandbox refuses to run as root, as CI
 * does); the package's serverless flags, which switch off web security, are left out so the
 * page is checked as a real browser shows it.
 */
export async function launchChromium(env: Readonly<Record<string, string | undefined>> = process.env): Promise<Browser> {
  return chromium.launch({ executablePath: await chromiumExecutable(env), args: ['--no-sandbox'] });
}

async function chromiumExecutable(env: Readonly<Record<string, string | undefined>>): Promise<string> {
  if (env.CHROMIUM_PATH) {
    if (!existsSync(env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH is ${env.CHROMIUM_PATH}, which does not exist`);
    return env.CHROMIUM_PATH;
  }
  const { default: Chromium } = await import('@sparticuz/chromium');
  mkdirSync(UNPACK_DIR, { recursive: true });
  // It unpacks into os.tmpdir(), which reads TMPDIR at each call; this process is one test file.
  const tmpdir = process.env.TMPDIR;
  process.env.TMPDIR = UNPACK_DIR;
  try {
    return await Chromium.executablePath();
  } finally {
    if (tmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpdir;
  }
}
