import { execFile } from 'node:child_process';
import { cpSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// The npm package as a user gets it: `npm run package` (the documented way to pack, since
// .npmrc's ignore-scripts=true also skips this package's own prepack), a global install of
// the tarball into a prefix of its own, and the installed command run from elsewhere.
// npm pack builds with tsc, and npm install resolves the dependency tree: together 30-60 s on
// a loaded 2-core machine, so this file gets more than tap's default 30 s.
t.setTimeout(180_000);

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = ['package.json', 'bin', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'src', 'README.md', 'LICENSE', 'proxy.yaml.example', 'proxy.schema.json'];

t.test('npm run package → npm install -g → bearer-proxy runs from another directory', async (t) => {
  // A copy of the sources, so the build npm pack runs never touches the dist/ other tests use.
  const dir = t.testdir({ global: {}, elsewhere: {} });
  const checkout = join(dir, 'checkout');
  for (const name of SOURCES) cpSync(join(root, name), join(checkout, name), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'), 'dir');

  // Before any build, as in a fresh clone: a plain `npm pack` (prepack skipped, see above)
  // would pack no dist/, and the command it installs says so instead of failing obscurely.
  const { stdout: dryRun } = await run('npm', ['pack', '--dry-run', '--json'], { cwd: checkout, env: { ...process.env, npm_config_loglevel: 'error' } });
  const unbuilt = (JSON.parse(dryRun) as { files: { path: string }[] }[])[0]!.files.map((file) => file.path);
  t.ok(unbuilt.includes('bin/bearer-proxy.js') && !unbuilt.some((path) => path.startsWith('dist/')), 'a plain npm pack here has the entry point but no build');
  const unbuiltRun = await run(process.execPath, [join(checkout, 'bin', 'bearer-proxy.js'), '--help']).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => error,
  );
  t.equal(unbuiltRun.code, 1, 'without a build the command fails');
  t.match(unbuiltRun.stderr, /no build \(dist\/cli\.js is missing\)[\s\S]*npm run package/, 'and says how to make a package that has one');

  await run('npm', ['run', 'package', '--silent'], { cwd: checkout, env: { ...process.env, npm_config_loglevel: 'error' } });
  const tarballs = readdirSync(checkout).filter((name) => /^bearer-proxy-.*\.tgz$/.test(name));
  t.equal(tarballs.length, 1, 'one tarball');
  const tarball = join(checkout, tarballs[0]!);

  const { stdout: listing } = await run('tar', ['-tzf', tarball]);
  const files = listing.trim().split('\n');
  t.ok(files.includes('package/dist/cli.js') && files.includes('package/bin/bearer-proxy.js'), 'the build and its entry point are in the package');
  t.ok(files.includes('package/LICENSE') && files.includes('package/README.md') && files.includes('package/proxy.yaml.example'), 'license, readme and example config');
  t.ok(files.includes('package/proxy.schema.json'), "the JSON Schema, which the example config and init's files name");
  t.same(
    files.filter((file) => file.endsWith('.map')),
    [],
    'no source maps (they would point at sources not shipped)',
  );
  t.same(
    files.filter((file) => /^package\/(src|test|bench|scripts|deploy)\//.test(file)),
    [],
    'no sources, tests or deployment files',
  );

  const prefix = join(dir, 'global');
  // --ignore-scripts: as in every install this project runs; --prefer-offline: npm ci filled the cache.
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: join(dir, 'elsewhere') });
  const bin = join(prefix, 'bin', 'bearer-proxy');

  const help = await run(bin, ['--help'], { cwd: join(dir, 'elsewhere') });
  t.match(help.stdout, /Usage:\s+bearer-proxy/, '--help');
  const demo = await run(bin, ['demo', '--once', '--port', '0'], { cwd: join(dir, 'elsewhere') });
  t.match(demo.stdout, /followed every page/, 'demo --once passes its self-check');
});
