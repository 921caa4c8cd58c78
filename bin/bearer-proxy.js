#!/usr/bin/env node
// npm's entry point, committed so it exists in every tarball. The program is dist/, which
// only a build makes: this repository's .npmrc sets ignore-scripts, so a plain `npm pack`
// skips prepack and packs no dist/. Without this file such a package installs a dangling
// link and the shell says "No such file or directory"; with it, the user learns what to do.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (existsSync(cli)) {
  await import(cli.href);
} else {
  process.stderr.write(
    'bearer-proxy: this copy has no build (dist/cli.js is missing).\n' +
      '  In a clone: npm run build.\n' +
      '  A package made with `npm pack` in a clone: make it with `npm run package` instead, which builds first.\n',
  );
  process.exitCode = 1;
}
