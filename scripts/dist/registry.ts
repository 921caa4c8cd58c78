import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PinnedPackage } from './pins.ts';

/**
 * The tarball of a pinned package in `cacheDir`, fetched with `npm pack` when absent, and
 * refused unless its sha512 is the pinned one.
 */
export function fetchPinned(pin: PinnedPackage, cacheDir: string): string {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, `${pin.name}-${pin.version}.tgz`);
  if (!existsSync(file)) {
    // npm pack downloads without installing, so os/cpu fields do not apply; --prefer-offline
    // takes npm's own cache first. ignore-scripts: a tarball's scripts never run here anyway.
    execFileSync('npm', ['pack', `${pin.name}@${pin.version}`, '--pack-destination', cacheDir, '--prefer-offline', '--ignore-scripts', '--silent'], { stdio: ['ignore', 'ignore', 'inherit'], shell: process.platform === 'win32' });
  }
  const actual = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
  if (actual !== pin.integrity) throw new Error(`${file}: sha512 is ${actual}, the pin in scripts/dist/pins.ts says ${pin.integrity}; not using it`);
  return file;
}

/** Extracts the named members of a package tarball (paths start with `package/`) into `dest`. */
export function extractMembers(tarball: string, dest: string, members: readonly string[]): void {
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dest, ...members], { stdio: 'inherit' });
}
