import { readFileSync } from 'node:fs';
import t from 'tap';

// What can be checked about the dependency tree without reaching an advisory service:
// where every package comes from, that npm verifies each one, and that nothing needs to
// run code at install time. `npm audit` (in .ci/run) covers known vulnerabilities.

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  hasInstallScript?: boolean;
}
interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockEntry & { dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>;
}
interface Manifest {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
}

const manifest = JSON.parse(read('package.json')) as Manifest;
const lockfile = JSON.parse(read('package-lock.json')) as Lockfile;
const installed = Object.entries(lockfile.packages).filter(([path, entry]) => path !== '' && entry.link !== true);
const isProduction = (entry: LockEntry): boolean => entry.dev !== true && entry.devOptional !== true;

// Dev-only packages whose install script is known to be unnecessary. Installs run with
// --ignore-scripts (.npmrc, .ci/run, Dockerfile), so an entry here is a claim that the
// package works without its script; the test suite running at all is the proof.
const devInstallScriptsNotNeeded: Record<string, string> = {
  // Its postinstall only checks the platform binary, which comes as an optional
  // @esbuild/<platform> package anyway. Used by tsx, which runs the tests.
  'node_modules/esbuild': 'platform binary arrives as an optional dependency',
  // A dependency of @cap-js/sqlite (the CAP end-to-end tests' database). Its install script
  // compiles SQLite as a native addon (or downloads a prebuilt one from GitHub, which CI
  // cannot reach); the test fixture runs @cap-js/sqlite on sql.js, SQLite built as
  // WebAssembly inside its registry package, so nothing is compiled or downloaded.
  'node_modules/better-sqlite3': 'the CAP test fixture uses the sql.js driver (WebAssembly) instead of the native addon',
};

t.test('the lockfile is the one npm ci installs from, in step with package.json', async (t) => {
  t.equal(lockfile.lockfileVersion, 3);
  const rootEntry = lockfile.packages[''];
  t.same(rootEntry?.dependencies, manifest.dependencies, 'production dependencies match package.json');
  t.same(rootEntry?.devDependencies, manifest.devDependencies, 'dev dependencies match package.json');
});

t.test('every dependency is a registry package named by a version range', async (t) => {
  // A git URL, tarball URL, file: path or alias bypasses the registry and its integrity data.
  const specs = { ...manifest.dependencies, ...manifest.devDependencies };
  const notRanges = Object.entries(specs).filter(([, spec]) => !/^[~^]?\d+(\.\d+){0,2}([-+][\w.]+)?$/.test(spec));
  t.same(notRanges, [], 'package.json specs are plain semver ranges');

  const offRegistry = installed.filter(([, entry]) => entry.resolved !== undefined && !entry.resolved.startsWith('https://registry.npmjs.org/'));
  t.same(
    offRegistry.map(([path, entry]) => `${path} ${entry.resolved}`),
    [],
    'nothing resolved outside the npm registry',
  );
});

t.test('npm ci verifies every package against a sha512 digest', async (t) => {
  t.ok(installed.length > 0);
  const unverified = installed.filter(([, entry]) => !entry.integrity?.startsWith('sha512-'));
  t.same(
    unverified.map(([path]) => path),
    [],
    'every lockfile entry carries a sha512 integrity',
  );
});

t.test('no production package has an install script', async (t) => {
  const withScripts = installed.filter(([, entry]) => entry.hasInstallScript === true);
  t.same(
    withScripts.filter(([, entry]) => isProduction(entry)).map(([path]) => path),
    [],
    'production tree runs no install code',
  );
  const unexplained = withScripts.filter(([path]) => !(path in devInstallScriptsNotNeeded)).map(([path]) => path);
  t.same(unexplained, [], 'each dev package with an install script is listed with the reason it is not needed');
  const stale = Object.keys(devInstallScriptsNotNeeded).filter((path) => !withScripts.some(([p]) => p === path));
  t.same(stale, [], 'the list names no package that no longer has an install script');
});

t.test('the CAP test fixture needs no native addon', async (t) => {
  const fixture = JSON.parse(read('test/fixtures/cap/package.json')) as { cds: { requires: { db: { kind: string; driver?: string } } } };
  t.same(fixture.cds.requires.db, { ...fixture.cds.requires.db, kind: 'sqlite', driver: 'sql.js' }, 'SQLite through sql.js, not better-sqlite3');
  t.ok(manifest.devDependencies['sql.js'], 'sql.js is a dev dependency of its own');
});

t.test('every install this project documents or runs skips install scripts', async (t) => {
  t.match(read('.npmrc'), /^ignore-scripts=true$/m, '.npmrc: npm install and npm ci on a developer machine');
  t.match(read('.ci/run'), /npm ci [^\n]*--ignore-scripts/, '.ci/run');
  const dockerInstalls = read('Dockerfile')
    .split('\n')
    .filter((line) => /\bnpm (ci|install)\b/.test(line));
  t.ok(dockerInstalls.length >= 2, 'the Dockerfile installs in both stages');
  for (const line of dockerInstalls) t.match(line, /--ignore-scripts/, `Dockerfile: ${line.trim()}`);
});

t.test("this package's own scripts: a build before packing, nothing at install time", async (t) => {
  const { scripts } = manifest;
  // ignore-scripts=true also skips the root package's prepack, so packing turns scripts back
  // on for that one command; npm pack installs nothing, so no dependency's script can run.
  const overrides = Object.entries(scripts).filter(([, command]) => /ignore-scripts[= ]+false/.test(command));
  t.same(overrides, [['package', 'npm pack --ignore-scripts=false']], 'only `npm run package` turns scripts on, and only for npm pack');
  t.match(scripts.prepack ?? '', /npm run build/, 'prepack builds dist/');
  const installHooks = ['preinstall', 'install', 'postinstall', 'prepare'].filter((name) => name in scripts);
  t.same(installHooks, [], 'installing bearer-proxy (from npm or a tarball) runs none of its code');
  for (const file of ['.ci/run', 'Dockerfile']) t.notMatch(read(file), /ignore-scripts[= ]+false/, `${file} never turns install scripts on`);
});
