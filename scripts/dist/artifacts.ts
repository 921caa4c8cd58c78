import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const artifactsDir = join(repoRoot, 'dist-artifacts');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** What `npm run dist` writes into dist-artifacts/. */
export function artifactNames(version: string) {
  return {
    windows: `bearer-proxy-${version}-win-x64.zip`,
    /** The folder inside the zip, so that unzipping never scatters files. */
    windowsFolder: `bearer-proxy-${version}-win-x64`,
    linux: `bearer-proxy-${version}-linux-x64`,
  };
}
